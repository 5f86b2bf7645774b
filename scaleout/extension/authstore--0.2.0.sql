/*
 * scaleout/extension/authstore--0.2.0.sql
 *	  The proxy flavour of authstore 0.2.0: every API function of the real
 *	  extension (same names, arguments and results, in the schema the
 *	  extension is created in) forwarded by PL/Proxy to the node holding the
 *	  partition of its key, token subject or token prefix.
 *
 * The cluster is the foreign server "authstore" (FOREIGN DATA WRAPPER
 * plproxy), with options p0 .. p(N-1), N a power of two, each the connection
 * string of the node holding that partition; README.md ("Scale-out with
 * PL/Proxy") and scaleout/demo.sh show it.  The real extension must be in
 * schema public on every node.
 *
 * Routing: keys (key-value and rate limit) by hashtext(key), tokens by
 * hashtext(subject); PL/Proxy takes the hash modulo N by masking.  A token
 * returned by the proxy is "<partition>.<node's token>", so that verify and
 * consume, which get only the token, reach one partition; revoke gets the
 * subject.  keys and clear run on every node and are merged here.
 *
 * Each call commits on its node by itself: a rollback on the proxy does not
 * undo it.
 */

\echo Use "CREATE EXTENSION authstore" on the proxy database to load this file. \quit

CREATE SCHEMA authstore;
REVOKE ALL ON SCHEMA authstore FROM PUBLIC;
COMMENT ON SCHEMA authstore IS 'authstore proxy internals; use the auth_* functions';

-- The routing hash of a key or subject.  PL/Proxy maps it to a partition by
-- masking with N - 1; partition_number() does the same for tokens.  A NULL
-- key goes to partition 0, whose node rejects it with its own error.
CREATE FUNCTION authstore.partition_hash(k text)
RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
RETURN COALESCE(pg_catalog.hashtext(k COLLATE "C"), 0);

-- N, the number of partitions: the options p0, p1, ... of server
-- "authstore".  Read on every call so that a changed server is seen at once.
CREATE FUNCTION authstore.partition_count()
RETURNS integer
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT pg_catalog.count(*)::integer
	  FROM pg_catalog.pg_foreign_server s,
		   pg_catalog.unnest(s.srvoptions) AS o
	 WHERE s.srvname OPERATOR(pg_catalog.=) 'authstore'
	   AND o OPERATOR(pg_catalog.~) '^p[0-9]+='
$$;

CREATE FUNCTION authstore.partition_number(k text)
RETURNS integer
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	n integer := authstore.partition_count();
BEGIN
	IF n OPERATOR(pg_catalog.<) 1 THEN
		RAISE EXCEPTION 'authstore proxy: server "authstore" has no partitions'
			USING ERRCODE = '42704',
				  HINT = 'CREATE SERVER authstore FOREIGN DATA WRAPPER plproxy OPTIONS (p0 ''...'', ...); see "Scale-out with PL/Proxy" in README.md.';
	END IF;
	RETURN authstore.partition_hash(k) OPERATOR(pg_catalog.&) (n OPERATOR(pg_catalog.-) 1);
END
$$;

------------------------------------------------------------------------------
-- Key-value API: one partition per call, by the key
------------------------------------------------------------------------------

CREATE FUNCTION auth_kv_set(key text, value text, ttl_seconds double precision DEFAULT NULL)
RETURNS void AS $$
	CLUSTER 'authstore';
	RUN ON authstore.partition_hash(key);
	SELECT public.auth_kv_set(key, value, ttl_seconds);
$$ LANGUAGE plproxy;

CREATE FUNCTION auth_kv_get(key text)
RETURNS text AS $$
	CLUSTER 'authstore';
	RUN ON authstore.partition_hash(key);
	SELECT public.auth_kv_get(key);
$$ LANGUAGE plproxy;

CREATE FUNCTION auth_kv_take(key text)
RETURNS text AS $$
	CLUSTER 'authstore';
	RUN ON authstore.partition_hash(key);
	SELECT public.auth_kv_take(key);
$$ LANGUAGE plproxy;

CREATE FUNCTION auth_kv_set_if_not_exists(key text, value text, ttl_seconds double precision DEFAULT NULL)
RETURNS boolean AS $$
	CLUSTER 'authstore';
	RUN ON authstore.partition_hash(key);
	SELECT public.auth_kv_set_if_not_exists(key, value, ttl_seconds);
$$ LANGUAGE plproxy;

CREATE FUNCTION auth_kv_delete(key text)
RETURNS boolean AS $$
	CLUSTER 'authstore';
	RUN ON authstore.partition_hash(key);
	SELECT public.auth_kv_delete(key);
$$ LANGUAGE plproxy;

CREATE FUNCTION auth_kv_incr(key text, ttl_seconds double precision DEFAULT NULL)
RETURNS bigint AS $$
	CLUSTER 'authstore';
	RUN ON authstore.partition_hash(key);
	SELECT public.auth_kv_incr(key, ttl_seconds);
$$ LANGUAGE plproxy;

CREATE FUNCTION auth_kv_ttl(key text)
RETURNS double precision AS $$
	CLUSTER 'authstore';
	RUN ON authstore.partition_hash(key);
	SELECT public.auth_kv_ttl(key);
$$ LANGUAGE plproxy;

CREATE FUNCTION auth_kv_expire(key text, ttl_seconds double precision)
RETURNS boolean AS $$
	CLUSTER 'authstore';
	RUN ON authstore.partition_hash(key);
	SELECT public.auth_kv_expire(key, ttl_seconds);
$$ LANGUAGE plproxy;

CREATE FUNCTION auth_kv_compare_and_set(key text, expected text, value text,
										ttl_seconds double precision DEFAULT NULL)
RETURNS boolean AS $$
	CLUSTER 'authstore';
	RUN ON authstore.partition_hash(key);
	SELECT public.auth_kv_compare_and_set(key, expected, value, ttl_seconds);
$$ LANGUAGE plproxy;

CREATE FUNCTION auth_kv_delete_if_value(key text, expected text)
RETURNS boolean AS $$
	CLUSTER 'authstore';
	RUN ON authstore.partition_hash(key);
	SELECT public.auth_kv_delete_if_value(key, expected);
$$ LANGUAGE plproxy;

------------------------------------------------------------------------------
-- Keys with an owner: stored by the key like any key (get, take, delete and
-- the rest find them by the key), so one owner's keys lie on many nodes;
-- listing and deleting them by owner runs on every node and merges.  Each
-- node's part is atomic on that node; the delete as a whole is not one
-- transaction (a key set on one node while another deletes may survive, as
-- it would if set just after the delete).
------------------------------------------------------------------------------

CREATE FUNCTION auth_kv_set_owned(key text, value text, owner text,
								  ttl_seconds double precision DEFAULT NULL)
RETURNS void AS $$
	CLUSTER 'authstore';
	RUN ON authstore.partition_hash(key);
	SELECT public.auth_kv_set_owned(key, value, owner, ttl_seconds);
$$ LANGUAGE plproxy;

CREATE FUNCTION authstore.kv_owner_keys_all(owner text,
											OUT key text, OUT expires_at timestamptz)
RETURNS SETOF record AS $$
	CLUSTER 'authstore';
	RUN ON ALL;
	SELECT o.key, o.expires_at FROM public.auth_kv_owner_keys(owner) AS o;
$$ LANGUAGE plproxy;

CREATE FUNCTION authstore.kv_owner_delete_all(owner text)
RETURNS SETOF bigint AS $$
	CLUSTER 'authstore';
	RUN ON ALL;
	SELECT public.auth_kv_owner_delete(owner);
$$ LANGUAGE plproxy;

-- In key order, as on one node.
CREATE FUNCTION auth_kv_owner_keys(owner text)
RETURNS TABLE (key text, expires_at timestamptz)
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
ROWS 10
AS $$
	SELECT o.key, o.expires_at FROM authstore.kv_owner_keys_all(owner) AS o
	 ORDER BY o.key COLLATE "C"
$$;

CREATE FUNCTION auth_kv_owner_delete(owner text)
RETURNS bigint
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT pg_catalog.sum(n)::bigint FROM authstore.kv_owner_delete_all(owner) AS n
$$;

------------------------------------------------------------------------------
-- keys and clear: every node, merged here.  PL/Proxy runs RUN ON ALL once per
-- distinct connection string, so a node holding several partitions answers
-- once.
------------------------------------------------------------------------------

CREATE FUNCTION authstore.kv_keys_all(prefix text)
RETURNS SETOF text AS $$
	CLUSTER 'authstore';
	RUN ON ALL;
	SELECT k FROM public.auth_kv_keys(prefix) AS k;
$$ LANGUAGE plproxy;

CREATE FUNCTION authstore.kv_keys_page_all(prefix text, start_after text, count integer)
RETURNS SETOF text AS $$
	CLUSTER 'authstore';
	RUN ON ALL;
	SELECT k FROM public.auth_kv_keys(prefix, start_after, count) AS k;
$$ LANGUAGE plproxy;

CREATE FUNCTION authstore.kv_clear_all(prefix text)
RETURNS SETOF bigint AS $$
	CLUSTER 'authstore';
	RUN ON ALL;
	SELECT public.auth_kv_clear(prefix);
$$ LANGUAGE plproxy;

-- Bytewise order, as on one node.
CREATE FUNCTION auth_kv_keys(prefix text DEFAULT '')
RETURNS SETOF text
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
ROWS 100
AS $$
	SELECT k FROM authstore.kv_keys_all(prefix) AS k
	 ORDER BY k COLLATE "C"
$$;

-- Each node returns its first count keys after start_after; the first count
-- of their union are the page one node holding everything would return.  A
-- negative count is left to the nodes, which reject it with their error.
CREATE FUNCTION auth_kv_keys(prefix text, start_after text, count integer)
RETURNS SETOF text
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
ROWS 100
AS $$
	SELECT k FROM authstore.kv_keys_page_all(prefix, start_after, count) AS k
	 ORDER BY k COLLATE "C"
	 LIMIT CASE WHEN count OPERATOR(pg_catalog.<) 0 THEN NULL ELSE count END
$$;

CREATE FUNCTION auth_kv_clear(prefix text)
RETURNS bigint
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT pg_catalog.sum(n)::bigint FROM authstore.kv_clear_all(prefix) AS n
$$;

------------------------------------------------------------------------------
-- Rate limiter: one partition per call, by the key
------------------------------------------------------------------------------

CREATE FUNCTION auth_rl_hit(key text, window_seconds double precision, max integer,
							OUT allowed boolean, OUT count integer,
							OUT remaining integer, OUT retry_after double precision)
RETURNS record AS $$
	CLUSTER 'authstore';
	RUN ON authstore.partition_hash(key);
	SELECT h.allowed, h.count, h.remaining, h.retry_after
	  FROM public.auth_rl_hit(key, window_seconds, max) AS h;
$$ LANGUAGE plproxy;

CREATE FUNCTION auth_rl_reset(key text)
RETURNS boolean AS $$
	CLUSTER 'authstore';
	RUN ON authstore.partition_hash(key);
	SELECT public.auth_rl_reset(key);
$$ LANGUAGE plproxy;

------------------------------------------------------------------------------
-- One-time tokens: routed by subject; the partition travels in the token
------------------------------------------------------------------------------

CREATE FUNCTION authstore.token_issue_on(part integer, subject text, purpose text,
										 ttl_seconds double precision)
RETURNS text AS $$
	CLUSTER 'authstore';
	RUN ON part;
	SELECT public.auth_token_issue(subject, purpose, ttl_seconds);
$$ LANGUAGE plproxy;

CREATE FUNCTION authstore.token_verify_on(part integer, token text, purpose text)
RETURNS text AS $$
	CLUSTER 'authstore';
	RUN ON part;
	SELECT public.auth_token_verify(token, purpose);
$$ LANGUAGE plproxy;

CREATE FUNCTION authstore.token_consume_on(part integer, token text, purpose text)
RETURNS text AS $$
	CLUSTER 'authstore';
	RUN ON part;
	SELECT public.auth_token_consume(token, purpose);
$$ LANGUAGE plproxy;

/*
 * The prefix is not a secret and adds nothing to guess: the node checks the
 * SHA-256 of the rest as it always does.  A token without a valid prefix is
 * passed whole to partition 0, where it is not found (or raises the node's
 * own error for a bad purpose), so that errors are the node's.  A changed
 * prefix sends the token to a partition that never stored its hash; if that
 * partition shares the node of the right one it is found there, which is no
 * gain either: only the holder of the real token gets that far.
 */
CREATE FUNCTION authstore.token_route(token text, OUT part integer, OUT rest text)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	m text[] := pg_catalog.regexp_match(token, '^([0-9]{1,5})\.(.*)$');
BEGIN
	IF m IS NOT NULL AND m[1]::integer OPERATOR(pg_catalog.<) authstore.partition_count() THEN
		part := m[1]::integer;
		rest := m[2];
	ELSE
		part := 0;
		rest := token;
	END IF;
END
$$;

CREATE FUNCTION auth_token_issue(subject text, purpose text, ttl_seconds double precision)
RETURNS text
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	p integer := authstore.partition_number(subject);
	t text := authstore.token_issue_on(p, subject, purpose, ttl_seconds);
BEGIN
	RETURN p::text OPERATOR(pg_catalog.||) '.' OPERATOR(pg_catalog.||) t;
END
$$;

CREATE FUNCTION auth_token_verify(token text, purpose text)
RETURNS text
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT authstore.token_verify_on(r.part, r.rest, purpose)
	  FROM authstore.token_route(token) AS r
$$;

CREATE FUNCTION auth_token_consume(token text, purpose text)
RETURNS text
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT authstore.token_consume_on(r.part, r.rest, purpose)
	  FROM authstore.token_route(token) AS r
$$;

CREATE FUNCTION auth_token_revoke(subject text, purpose text DEFAULT NULL)
RETURNS bigint AS $$
	CLUSTER 'authstore';
	RUN ON authstore.partition_hash(subject);
	SELECT public.auth_token_revoke(subject, purpose);
$$ LANGUAGE plproxy;

------------------------------------------------------------------------------
-- Privileges: as on a node, nothing for PUBLIC, the API for authstore_user.
-- The internals are callable by authstore_user too (the API functions run as
-- the caller, so that PL/Proxy picks the caller's user mapping); they can do
-- nothing the API cannot.  auth_kv_sweep, auth_set_durable, auth_stats and
-- auth_stats_reset are not here: they concern one node's storage and are
-- called on each node.
------------------------------------------------------------------------------

REVOKE ALL ON ALL FUNCTIONS IN SCHEMA authstore FROM PUBLIC;
REVOKE ALL ON FUNCTION
	auth_kv_set(text, text, double precision),
	auth_kv_get(text),
	auth_kv_take(text),
	auth_kv_set_if_not_exists(text, text, double precision),
	auth_kv_delete(text),
	auth_kv_incr(text, double precision),
	auth_kv_ttl(text),
	auth_kv_expire(text, double precision),
	auth_kv_keys(text),
	auth_kv_keys(text, text, integer),
	auth_kv_clear(text),
	auth_kv_compare_and_set(text, text, text, double precision),
	auth_kv_delete_if_value(text, text),
	auth_kv_set_owned(text, text, text, double precision),
	auth_kv_owner_keys(text),
	auth_kv_owner_delete(text),
	auth_rl_hit(text, double precision, integer),
	auth_rl_reset(text),
	auth_token_issue(text, text, double precision),
	auth_token_verify(text, text),
	auth_token_consume(text, text),
	auth_token_revoke(text, text)
FROM PUBLIC;

-- The same roles, under the same conditions, as the real extension.
DO $$
DECLARE
	r pg_catalog.pg_roles;
	name text;
BEGIN
	FOREACH name IN ARRAY ARRAY['authstore_user', 'authstore_ratelimit'] LOOP
		SELECT * INTO r FROM pg_catalog.pg_roles
		 WHERE rolname OPERATOR(pg_catalog.=) name;
		IF NOT FOUND THEN
			EXECUTE pg_catalog.format('CREATE ROLE %I NOLOGIN', name);
		ELSIF r.rolcanlogin OR r.rolsuper OR r.rolcreaterole OR r.rolcreatedb
			  OR r.rolreplication OR r.rolbypassrls
			  OR EXISTS (SELECT FROM pg_catalog.pg_auth_members m
						  WHERE m.member OPERATOR(pg_catalog.=) r.oid) THEN
			RAISE EXCEPTION 'role "%" already exists and is not a plain NOLOGIN role', name
				USING ERRCODE = '42710',
					  HINT = 'Drop or rename that role.';
		END IF;
	END LOOP;
END
$$;

GRANT USAGE ON SCHEMA authstore TO authstore_user, authstore_ratelimit;
GRANT EXECUTE ON FUNCTION
	authstore.partition_hash(text),
	authstore.partition_count(),
	authstore.partition_number(text),
	authstore.kv_keys_all(text),
	authstore.kv_keys_page_all(text, text, integer),
	authstore.kv_clear_all(text),
	authstore.kv_owner_keys_all(text),
	authstore.kv_owner_delete_all(text),
	authstore.token_issue_on(integer, text, text, double precision),
	authstore.token_verify_on(integer, text, text),
	authstore.token_consume_on(integer, text, text),
	authstore.token_route(text),
	auth_kv_set(text, text, double precision),
	auth_kv_get(text),
	auth_kv_take(text),
	auth_kv_set_if_not_exists(text, text, double precision),
	auth_kv_delete(text),
	auth_kv_incr(text, double precision),
	auth_kv_ttl(text),
	auth_kv_expire(text, double precision),
	auth_kv_keys(text),
	auth_kv_keys(text, text, integer),
	auth_kv_clear(text),
	auth_kv_compare_and_set(text, text, text, double precision),
	auth_kv_delete_if_value(text, text),
	auth_kv_set_owned(text, text, text, double precision),
	auth_kv_owner_keys(text),
	auth_kv_owner_delete(text),
	auth_rl_hit(text, double precision, integer),
	auth_rl_reset(text),
	auth_token_issue(text, text, double precision),
	auth_token_verify(text, text),
	auth_token_consume(text, text),
	auth_token_revoke(text, text)
TO authstore_user;
GRANT EXECUTE ON FUNCTION
	authstore.partition_hash(text),
	auth_rl_hit(text, double precision, integer),
	auth_rl_reset(text)
TO authstore_ratelimit;
