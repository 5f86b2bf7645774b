-- bench/peer.sql — the hand-rolled SQL reference ("peer") that authstore is
-- measured against: what an application developer would write instead of
-- installing the extension.  Plain plpgsql functions over the developer's own
-- unlogged tables, in schema "peer", owned by the benchmark's login role.
--
-- It is a competent version, not a straw man:
--   * the same keys and indexes as authstore (primary key on the key, a
--     partial index on expires_at for a sweeper, the token indexes), but
--     default storage parameters (no fillfactor tuning);
--   * one statement per operation where one suffices (INSERT ... ON CONFLICT
--     for set / set-if-not-exists / incr / the rate limiter, DELETE ...
--     RETURNING for take and consume), so row locks give the same atomicity;
--   * plpgsql rather than LANGUAGE sql: plpgsql keeps its plans for the life
--     of the session, PostgreSQL 15's SQL functions re-plan on every call;
--   * the wall clock (clock_timestamp()), as authstore uses, and the same
--     semantics for the benchmarked paths (lazy expiry, fixed-window limiter,
--     tokens stored as SHA-256 only).
-- Unlike authstore it is not SECURITY DEFINER, checks no argument limits and
-- has no background sweeper (expired rows stay until overwritten).
--
-- Loaded by bench/run.sh as the benchmark role (psql -v ON_ERROR_STOP=1).

CREATE SCHEMA peer;

-- gen_random_bytes() for tokens (pgcrypto is a trusted extension).
CREATE EXTENSION pgcrypto SCHEMA peer;

CREATE UNLOGGED TABLE peer.kv (
	key			text COLLATE "C" PRIMARY KEY,
	value		text NOT NULL,
	expires_at	timestamptz
);
CREATE INDEX kv_expires_at_idx ON peer.kv (expires_at) WHERE expires_at IS NOT NULL;

CREATE UNLOGGED TABLE peer.rate_limit (
	key			text COLLATE "C" PRIMARY KEY,
	hits		integer NOT NULL,
	last_hit	timestamptz NOT NULL
);

CREATE UNLOGGED TABLE peer.token (
	hash		bytea PRIMARY KEY,
	subject		text NOT NULL,
	purpose		text NOT NULL,
	expires_at	timestamptz NOT NULL
);
CREATE INDEX token_subject_idx ON peer.token (subject, purpose);
CREATE INDEX token_expires_at_idx ON peer.token (expires_at);

-- SET key value [EX ttl]
CREATE FUNCTION peer.kv_set(p_key text, p_value text, p_ttl float8 DEFAULT NULL)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO peer.kv AS t (key, value, expires_at)
	VALUES (p_key, p_value, clock_timestamp() + p_ttl * interval '1 second')
	ON CONFLICT (key) DO UPDATE
		SET value = EXCLUDED.value, expires_at = EXCLUDED.expires_at;
END
$$;

-- GET key
CREATE FUNCTION peer.kv_get(p_key text)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	v text;
BEGIN
	SELECT value INTO v FROM peer.kv
	WHERE key = p_key AND (expires_at IS NULL OR expires_at > clock_timestamp());
	RETURN v;
END
$$;

-- GETDEL key
CREATE FUNCTION peer.kv_take(p_key text)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	v text;
BEGIN
	DELETE FROM peer.kv
	WHERE key = p_key AND (expires_at IS NULL OR expires_at > clock_timestamp())
	RETURNING value INTO v;
	RETURN v;
END
$$;

-- SET key value NX [EX ttl]: an expired row counts as absent.
CREATE FUNCTION peer.kv_set_if_not_exists(p_key text, p_value text, p_ttl float8 DEFAULT NULL)
RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO peer.kv AS t (key, value, expires_at)
	VALUES (p_key, p_value, clock_timestamp() + p_ttl * interval '1 second')
	ON CONFLICT (key) DO UPDATE
		SET value = EXCLUDED.value, expires_at = EXCLUDED.expires_at
		WHERE t.expires_at <= clock_timestamp();
	RETURN FOUND;
END
$$;

-- DEL key
CREATE FUNCTION peer.kv_delete(p_key text)
RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
	DELETE FROM peer.kv
	WHERE key = p_key AND (expires_at IS NULL OR expires_at > clock_timestamp());
	RETURN FOUND;
END
$$;

-- INCR key + EXPIRE key ttl NX: a new or expired key restarts at 1 with the TTL.
CREATE FUNCTION peer.kv_incr(p_key text, p_ttl float8 DEFAULT NULL)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
	now timestamptz := clock_timestamp();
	n text;
BEGIN
	INSERT INTO peer.kv AS t (key, value, expires_at)
	VALUES (p_key, '1', now + p_ttl * interval '1 second')
	ON CONFLICT (key) DO UPDATE SET
		value = CASE WHEN t.expires_at <= now THEN '1'
					 ELSE (t.value::bigint + 1)::text END,
		expires_at = CASE WHEN t.expires_at <= now THEN EXCLUDED.expires_at
						  ELSE t.expires_at END
	RETURNING value INTO n;
	RETURN n::bigint;
END
$$;

-- Fixed-window rate limiter with authstore's (Better Auth 1.7) semantics:
-- no state -> 1, allowed; elapsed >= window -> reset to 1, allowed;
-- count >= max -> denied, state unchanged; else count + 1, allowed.
CREATE FUNCTION peer.rl_hit(p_key text, p_window float8, p_max integer,
							OUT allowed boolean, OUT count integer,
							OUT remaining integer, OUT retry_after float8)
LANGUAGE plpgsql AS $$
DECLARE
	now timestamptz := clock_timestamp();
	w interval := p_window * interval '1 second';
	last timestamptz;
BEGIN
	INSERT INTO peer.rate_limit AS r (key, hits, last_hit)
	VALUES (p_key, 1, now)
	ON CONFLICT (key) DO UPDATE SET
		hits = CASE WHEN r.last_hit <= now - w THEN 1
					WHEN r.hits >= p_max THEN r.hits
					ELSE r.hits + 1 END,
		last_hit = CASE WHEN r.last_hit > now - w AND r.hits >= p_max THEN r.last_hit
						ELSE now END
	RETURNING hits, last_hit INTO count, last;
	allowed := last = now;			-- a denied hit leaves last_hit alone
	remaining := greatest(p_max - count, 0);
	retry_after := CASE WHEN allowed THEN 0
						ELSE extract(epoch FROM last + w - now)::float8 END;
END
$$;

-- One-time tokens: 32 random bytes as URL-safe base64; only SHA-256 stored.
CREATE FUNCTION peer.token_issue(p_subject text, p_purpose text, p_ttl float8)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	tok text := rtrim(translate(encode(peer.gen_random_bytes(32), 'base64'), '+/', '-_'), '=');
BEGIN
	INSERT INTO peer.token (hash, subject, purpose, expires_at)
	VALUES (sha256(convert_to(tok, 'UTF8')), p_subject, p_purpose,
			clock_timestamp() + p_ttl * interval '1 second');
	RETURN tok;
END
$$;

CREATE FUNCTION peer.token_consume(p_token text, p_purpose text)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	s text;
BEGIN
	DELETE FROM peer.token
	WHERE hash = sha256(convert_to(p_token, 'UTF8'))
	  AND purpose = p_purpose AND expires_at > clock_timestamp()
	RETURNING subject INTO s;
	RETURN s;
END
$$;
