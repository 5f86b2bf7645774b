/*
 * authstore--0.2.0.sql
 *	  Storage (private schema "authstore", unlogged tables) and the SQL API
 *	  (created in the extension's schema) of authstore 0.2.0.
 *
 * Every function is SECURITY DEFINER so that application roles never need
 * privileges on the tables; the C code uses only schema-qualified names and
 * operators, so the caller's search_path cannot change what it does.
 */

\echo Use "CREATE EXTENSION authstore" to load this file. \quit

CREATE SCHEMA authstore;
REVOKE ALL ON SCHEMA authstore FROM PUBLIC;
COMMENT ON SCHEMA authstore IS 'authstore private storage; use the auth_* functions, not these tables';

/*
 * Key-value rows.  Keys compare bytewise (COLLATE "C") so that prefix scans
 * and key order do not depend on the database's locale.  expires_at NULL
 * means the key never expires.  expires_at is deliberately not indexed, so
 * that an auth_kv_set() that moves a key's expiry can be a HOT update; the
 * sweeper finds expired rows by walking the table (src/sweep.c).
 */
CREATE UNLOGGED TABLE authstore.kv (
	key			text COLLATE "C" NOT NULL,
	value		text NOT NULL,
	expires_at	timestamptz,
	owner		text COLLATE "C",
	CONSTRAINT kv_pkey PRIMARY KEY (key)
) WITH (
	fillfactor = 90,
	autovacuum_vacuum_scale_factor = 0.02,
	autovacuum_analyze_scale_factor = 0.05
);

/*
 * The owner of a key (issue 12), e.g. the user a session token belongs to:
 * auth_kv_owner_keys() and auth_kv_owner_delete() find an owner's keys
 * through this index, in key order.  Keys without an owner (NULL) stay out
 * of it, so that it costs nothing to those who never use owners, and a
 * write that keeps a key's owner can still be a HOT update.
 */
CREATE INDEX kv_owner_idx ON authstore.kv (owner, key) WHERE owner IS NOT NULL;

/*
 * Rate-limit state, one row per key.  window_end (last allowed hit + the
 * window) lets the sweeper find idle state; it is deliberately not indexed so
 * that every hit stays a HOT update.  A denied hit changes nothing.
 */
CREATE UNLOGGED TABLE authstore.rate_limit (
	key			text COLLATE "C" NOT NULL,
	hits		integer NOT NULL,
	last_hit	timestamptz NOT NULL,
	window_end	timestamptz NOT NULL,
	CONSTRAINT rate_limit_pkey PRIMARY KEY (key)
) WITH (
	fillfactor = 70,
	autovacuum_vacuum_scale_factor = 0.02,
	autovacuum_analyze_scale_factor = 0.05
);

/*
 * One-time tokens.  Only SHA-256 of the token string is stored; the token
 * itself exists only in the caller's hands.  Like the other tables, no index
 * on the expiry: the sweeper walks the table.
 */
CREATE UNLOGGED TABLE authstore.token (
	hash		bytea NOT NULL,
	subject		text COLLATE "C" NOT NULL,
	purpose		text COLLATE "C" NOT NULL,
	expires_at	timestamptz NOT NULL,
	CONSTRAINT token_pkey PRIMARY KEY (hash)
) WITH (
	autovacuum_vacuum_scale_factor = 0.02,
	autovacuum_analyze_scale_factor = 0.05
);

CREATE INDEX token_subject_idx ON authstore.token (subject, purpose);

REVOKE ALL ON TABLE authstore.kv, authstore.rate_limit, authstore.token FROM PUBLIC;

/*
 * Least privilege per service: a role with a row here may use only keys
 * (key-value and rate-limit) starting with one of key_prefixes, issue,
 * verify, consume and revoke only tokens whose subject starts with one of
 * subject_prefixes, and only of the purposes listed.  NULL or an empty
 * array allows nothing of that kind.  Roles without a row are not
 * confined.  The role is the session's (after SET ROLE), matched exactly,
 * not through memberships.  Changes take effect in other sessions at their
 * next transaction (the trigger tells every backend to reload).  Kept in
 * dumps.
 */
CREATE TABLE authstore.confinement (
	role		regrole PRIMARY KEY,
	key_prefixes text[],
	subject_prefixes text[],
	purposes	text[]
);
REVOKE ALL ON TABLE authstore.confinement FROM PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('authstore.confinement', '');

CREATE FUNCTION authstore.confinement_changed()
RETURNS trigger
AS 'MODULE_PATHNAME', 'authstore_confinement_changed'
LANGUAGE C;
REVOKE ALL ON FUNCTION authstore.confinement_changed() FROM PUBLIC;

CREATE TRIGGER confinement_changed
	AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON authstore.confinement
	FOR EACH STATEMENT EXECUTE FUNCTION authstore.confinement_changed();

-- Internal helper of auth_kv_incr: the increment of a stored integer, with
-- Redis' errors for non-integers and overflow.  Not callable by PUBLIC.
CREATE FUNCTION authstore.incr_value(value text)
RETURNS text
AS 'MODULE_PATHNAME', 'authstore_incr_value'
LANGUAGE C STRICT IMMUTABLE;
REVOKE ALL ON FUNCTION authstore.incr_value(text) FROM PUBLIC;

------------------------------------------------------------------------------
-- Key-value API
------------------------------------------------------------------------------

CREATE FUNCTION auth_kv_set(key text, value text, ttl_seconds double precision DEFAULT NULL)
RETURNS void
AS 'MODULE_PATHNAME', 'auth_kv_set'
LANGUAGE C VOLATILE SECURITY DEFINER;

CREATE FUNCTION auth_kv_get(key text)
RETURNS text
AS 'MODULE_PATHNAME', 'auth_kv_get'
LANGUAGE C VOLATILE SECURITY DEFINER;

CREATE FUNCTION auth_kv_take(key text)
RETURNS text
AS 'MODULE_PATHNAME', 'auth_kv_take'
LANGUAGE C VOLATILE SECURITY DEFINER;

CREATE FUNCTION auth_kv_set_if_not_exists(key text, value text, ttl_seconds double precision DEFAULT NULL)
RETURNS boolean
AS 'MODULE_PATHNAME', 'auth_kv_set_if_not_exists'
LANGUAGE C VOLATILE SECURITY DEFINER;

CREATE FUNCTION auth_kv_delete(key text)
RETURNS boolean
AS 'MODULE_PATHNAME', 'auth_kv_delete'
LANGUAGE C VOLATILE SECURITY DEFINER;

CREATE FUNCTION auth_kv_incr(key text, ttl_seconds double precision DEFAULT NULL)
RETURNS bigint
AS 'MODULE_PATHNAME', 'auth_kv_incr'
LANGUAGE C VOLATILE SECURITY DEFINER;

CREATE FUNCTION auth_kv_ttl(key text)
RETURNS double precision
AS 'MODULE_PATHNAME', 'auth_kv_ttl'
LANGUAGE C VOLATILE SECURITY DEFINER;

CREATE FUNCTION auth_kv_expire(key text, ttl_seconds double precision)
RETURNS boolean
AS 'MODULE_PATHNAME', 'auth_kv_expire'
LANGUAGE C VOLATILE SECURITY DEFINER;

CREATE FUNCTION auth_kv_keys(prefix text DEFAULT '')
RETURNS SETOF text
AS 'MODULE_PATHNAME', 'auth_kv_keys'
LANGUAGE C VOLATILE SECURITY DEFINER
ROWS 100;

-- Paging through auth_kv_keys: start after a key, at most count keys.
CREATE FUNCTION auth_kv_keys(prefix text, start_after text, count integer)
RETURNS SETOF text
AS 'MODULE_PATHNAME', 'auth_kv_keys'
LANGUAGE C VOLATILE SECURITY DEFINER
ROWS 100;

CREATE FUNCTION auth_kv_clear(prefix text)
RETURNS bigint
AS 'MODULE_PATHNAME', 'auth_kv_clear'
LANGUAGE C VOLATILE SECURITY DEFINER;

CREATE FUNCTION auth_kv_compare_and_set(key text, expected text, value text,
										ttl_seconds double precision DEFAULT NULL)
RETURNS boolean
AS 'MODULE_PATHNAME', 'auth_kv_compare_and_set'
LANGUAGE C VOLATILE SECURITY DEFINER;

CREATE FUNCTION auth_kv_delete_if_value(key text, expected text)
RETURNS boolean
AS 'MODULE_PATHNAME', 'auth_kv_delete_if_value'
LANGUAGE C VOLATILE SECURITY DEFINER;

CREATE FUNCTION auth_kv_sweep(max_rows integer DEFAULT NULL)
RETURNS bigint
AS 'MODULE_PATHNAME', 'auth_kv_sweep'
LANGUAGE C VOLATILE SECURITY DEFINER;

/*
 * Keys with an owner (issue 12): auth_kv_set_owned() stores a key as
 * auth_kv_set() does, with an owner; auth_kv_owner_keys() lists the owner's
 * live keys with their expiry, and auth_kv_owner_delete() deletes them all
 * in one statement.  An owner is a subject: confined roles need it under
 * one of their subject_prefixes, and see and delete only keys under their
 * key_prefixes.
 */
CREATE FUNCTION auth_kv_set_owned(key text, value text, owner text,
								  ttl_seconds double precision DEFAULT NULL)
RETURNS void
AS 'MODULE_PATHNAME', 'auth_kv_set_owned'
LANGUAGE C VOLATILE SECURITY DEFINER;

CREATE FUNCTION auth_kv_owner_keys(owner text)
RETURNS TABLE (key text, expires_at timestamptz)
AS 'MODULE_PATHNAME', 'auth_kv_owner_keys'
LANGUAGE C VOLATILE SECURITY DEFINER
ROWS 10;

CREATE FUNCTION auth_kv_owner_delete(owner text)
RETURNS bigint
AS 'MODULE_PATHNAME', 'auth_kv_owner_delete'
LANGUAGE C VOLATILE SECURITY DEFINER;

------------------------------------------------------------------------------
-- Rate limiter
------------------------------------------------------------------------------

CREATE FUNCTION auth_rl_hit(key text, window_seconds double precision, max integer,
							OUT allowed boolean, OUT count integer,
							OUT remaining integer, OUT retry_after double precision)
RETURNS record
AS 'MODULE_PATHNAME', 'auth_rl_hit'
LANGUAGE C VOLATILE SECURITY DEFINER;

CREATE FUNCTION auth_rl_reset(key text)
RETURNS boolean
AS 'MODULE_PATHNAME', 'auth_rl_reset'
LANGUAGE C VOLATILE SECURITY DEFINER;

------------------------------------------------------------------------------
-- One-time tokens
------------------------------------------------------------------------------

CREATE FUNCTION auth_token_issue(subject text, purpose text, ttl_seconds double precision)
RETURNS text
AS 'MODULE_PATHNAME', 'auth_token_issue'
LANGUAGE C VOLATILE SECURITY DEFINER;

CREATE FUNCTION auth_token_verify(token text, purpose text)
RETURNS text
AS 'MODULE_PATHNAME', 'auth_token_verify'
LANGUAGE C VOLATILE SECURITY DEFINER;

CREATE FUNCTION auth_token_consume(token text, purpose text)
RETURNS text
AS 'MODULE_PATHNAME', 'auth_token_consume'
LANGUAGE C VOLATILE SECURITY DEFINER;

CREATE FUNCTION auth_token_revoke(subject text, purpose text DEFAULT NULL)
RETURNS bigint
AS 'MODULE_PATHNAME', 'auth_token_revoke'
LANGUAGE C VOLATILE SECURITY DEFINER;

------------------------------------------------------------------------------
-- Operations
------------------------------------------------------------------------------

/*
 * Switch the storage tables between UNLOGGED (the default: fast, emptied
 * after a crash, absent on replicas) and LOGGED (WAL-logged: survives
 * crashes, replicated).  Each switch rewrites the tables under an ACCESS
 * EXCLUSIVE lock.  Returns whether the tables are now logged.  For
 * administrators only.
 */
CREATE FUNCTION auth_set_durable(durable boolean)
RETURNS boolean
AS 'MODULE_PATHNAME', 'auth_set_durable'
LANGUAGE C VOLATILE SECURITY DEFINER;

/*
 * The maintenance functions again, in the private schema: a superuser
 * calls these by their qualified names.  The schema authstore belongs to
 * the extension's owner, so no application role -- not even the owner of
 * the database, who may rename public and put a trojan auth_kv_sweep() in
 * a new one -- can create, rename or shadow anything there.  The copies in
 * the extension's schema stay for compatibility; they are safe only where
 * no application role controls that schema or the caller's search_path.
 */
CREATE FUNCTION authstore.auth_kv_sweep(max_rows integer DEFAULT NULL)
RETURNS bigint
AS 'MODULE_PATHNAME', 'auth_kv_sweep'
LANGUAGE C VOLATILE SECURITY DEFINER;

CREATE FUNCTION authstore.auth_set_durable(durable boolean)
RETURNS boolean
AS 'MODULE_PATHNAME', 'auth_set_durable'
LANGUAGE C VOLATILE SECURITY DEFINER;

REVOKE ALL ON FUNCTION
	authstore.auth_kv_sweep(integer),
	authstore.auth_set_durable(boolean)
FROM PUBLIC;

/*
 * Statistics (issue 14): counters of every operation and outcome, and the
 * sweeper's figures, per database, from shared memory (src/stats.c).  Only
 * counts, never keys: readable by pg_monitor members.  Needs the library in
 * shared_preload_libraries; otherwise auth_stats() says so.
 */
CREATE FUNCTION auth_stats(
	OUT datid oid,
	OUT kv_get_hits bigint,
	OUT kv_get_misses bigint,
	OUT kv_sets bigint,
	OUT kv_nx_stored bigint,
	OUT kv_nx_existed bigint,
	OUT kv_incrs bigint,
	OUT kv_take_hits bigint,
	OUT kv_take_misses bigint,
	OUT kv_delete_hits bigint,
	OUT kv_delete_misses bigint,
	OUT kv_cleared bigint,
	OUT rl_allowed bigint,
	OUT rl_denied bigint,
	OUT rl_resets bigint,
	OUT tokens_issued bigint,
	OUT tokens_verified bigint,
	OUT tokens_verify_rejected bigint,
	OUT tokens_consumed bigint,
	OUT tokens_consume_rejected bigint,
	OUT tokens_revoked bigint,
	OUT kv_cas_applied bigint,
	OUT kv_cas_rejected bigint,
	OUT direct_accesses bigint,
	OUT statements bigint,
	OUT sweep_rows_deleted bigint,
	OUT sweep_cycles bigint,
	OUT last_sweep_start timestamptz,
	OUT last_sweep_ms double precision,
	OUT expired_unswept_estimate bigint,
	OUT stats_reset timestamptz)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'auth_stats'
LANGUAGE C VOLATILE;

CREATE VIEW auth_stats AS
	SELECT d.datname, s.*
	FROM auth_stats() s
	JOIN pg_catalog.pg_database d ON d.oid OPERATOR(pg_catalog.=) s.datid;

-- Zero the current database's counters.  Superusers only (no grant).
CREATE FUNCTION auth_stats_reset()
RETURNS void
AS 'MODULE_PATHNAME', 'auth_stats_reset'
LANGUAGE C VOLATILE;

REVOKE ALL ON FUNCTION auth_stats(), auth_stats_reset() FROM PUBLIC;
REVOKE ALL ON auth_stats FROM PUBLIC;
GRANT EXECUTE ON FUNCTION auth_stats() TO pg_monitor;
GRANT SELECT ON auth_stats TO pg_monitor;

------------------------------------------------------------------------------
-- Privileges: nothing for PUBLIC; one role to grant to applications.
------------------------------------------------------------------------------

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
	auth_kv_sweep(integer),
	auth_rl_hit(text, double precision, integer),
	auth_rl_reset(text),
	auth_token_issue(text, text, double precision),
	auth_token_verify(text, text),
	auth_token_consume(text, text),
	auth_token_revoke(text, text),
	auth_set_durable(boolean)
FROM PUBLIC;

-- authstore_user is a cluster-wide NOLOGIN role: "GRANT authstore_user TO
-- my_app" is all an application needs.  It outlives DROP EXTENSION, being a
-- shared object, and is reused when the extension is created in another
-- database -- but only if it is still a plain NOLOGIN role: one that can log
-- in or holds any attribute was made by someone else and must not be handed
-- the API; nor one that is a member of another role, whose privileges every
-- member of authstore_user would inherit.
DO $$
DECLARE
	r pg_catalog.pg_roles;
BEGIN
	SELECT * INTO r FROM pg_catalog.pg_roles
	 WHERE rolname OPERATOR(pg_catalog.=) 'authstore_user';
	IF NOT FOUND THEN
		CREATE ROLE authstore_user NOLOGIN;
	ELSIF r.rolcanlogin OR r.rolsuper OR r.rolcreaterole OR r.rolcreatedb
		  OR r.rolreplication OR r.rolbypassrls THEN
		RAISE EXCEPTION 'role "authstore_user" already exists and is not a plain NOLOGIN role'
			USING ERRCODE = '42710',
				  DETAIL = 'authstore grants its whole API to this role; a role that can log in or holds attributes was not created by authstore.',
				  HINT = 'Drop or rename that role, or ALTER ROLE authstore_user NOLOGIN NOSUPERUSER NOCREATEROLE NOCREATEDB NOREPLICATION NOBYPASSRLS if it is yours.';
	ELSIF EXISTS (SELECT FROM pg_catalog.pg_auth_members m
				   WHERE m.member OPERATOR(pg_catalog.=) r.oid) THEN
		RAISE EXCEPTION 'role "authstore_user" already exists and is a member of other roles'
			USING ERRCODE = '42710',
				  DETAIL = 'Every member of authstore_user would inherit the privileges of those roles.',
				  HINT = 'Revoke those roles from authstore_user (see pg_auth_members), or drop or rename it.';
	END IF;
END
$$;

GRANT EXECUTE ON FUNCTION
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

-- authstore_ratelimit: a second cluster-wide NOLOGIN role for services
-- that only rate-limit: auth_rl_hit and auth_rl_reset, nothing else.  Reused
-- under the same conditions as authstore_user.
DO $$
DECLARE
	r pg_catalog.pg_roles;
BEGIN
	SELECT * INTO r FROM pg_catalog.pg_roles
	 WHERE rolname OPERATOR(pg_catalog.=) 'authstore_ratelimit';
	IF NOT FOUND THEN
		CREATE ROLE authstore_ratelimit NOLOGIN;
	ELSIF r.rolcanlogin OR r.rolsuper OR r.rolcreaterole OR r.rolcreatedb
		  OR r.rolreplication OR r.rolbypassrls
		  OR EXISTS (SELECT FROM pg_catalog.pg_auth_members m
					  WHERE m.member OPERATOR(pg_catalog.=) r.oid) THEN
		RAISE EXCEPTION 'role "authstore_ratelimit" already exists and is not a plain NOLOGIN role'
			USING ERRCODE = '42710',
				  DETAIL = 'authstore grants the rate limiter to this role; a role that can log in, holds attributes or is a member of other roles was not created by authstore.',
				  HINT = 'Drop or rename that role.';
	END IF;
END
$$;

GRANT EXECUTE ON FUNCTION
	auth_rl_hit(text, double precision, integer),
	auth_rl_reset(text)
TO authstore_ratelimit;
