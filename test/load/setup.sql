-- test/load/setup.sql: the audit schema of the load test.
--
-- Every operation the pgbench scripts run goes through one audit.op_*()
-- wrapper, which calls authstore and records what it saw in a logged audit
-- table, in the same transaction.  Each log row gets:
--   t_before  clock_timestamp() just before the authstore call
--   t_after   clock_timestamp() just after it
--   seq       nextval('audit.op_seq') after the call, before commit.
-- authstore's clock is the wall clock at the call, so the call's "now" lies
-- in [t_before, t_after].  An operation that locked a row (set, a
-- successful take/delete, NX either way, incr, rl_hit, a successful
-- consume) holds the lock until commit, so on one key seq orders those
-- operations exactly as the database serialized them.  check.sql replays
-- them in that order.
--
-- Values are unique ('v' || val_seq), so a value delivered twice is a
-- duplicate, never a coincidence.

CREATE SCHEMA audit;

CREATE SEQUENCE audit.op_seq;
CREATE SEQUENCE audit.val_seq;

-- set, nx, get, take, delete on the hot keys kv:1..kv:N
CREATE TABLE audit.kv_log (
	seq			bigint NOT NULL DEFAULT nextval('audit.op_seq') PRIMARY KEY,
	key			text NOT NULL,
	op			text NOT NULL,		-- set | nx | get | take | delete
	value		text,				-- set/nx: the value written; get/take: what came back
	ttl			float8,				-- set/nx: the TTL in seconds (NULL = none)
	result		boolean,			-- nx: stored?  delete: deleted?
	t_before	timestamptz NOT NULL,
	t_after		timestamptz NOT NULL
);

-- auth_kv_incr on ctr:N (no TTL) and tctr:N (TTL set on creation)
CREATE TABLE audit.incr_log (
	seq			bigint NOT NULL DEFAULT nextval('audit.op_seq') PRIMARY KEY,
	key			text NOT NULL,
	ttl			float8,
	value		bigint NOT NULL,
	t_before	timestamptz NOT NULL,
	t_after		timestamptz NOT NULL
);

-- auth_rl_hit on rl:N; each key has its own fixed window and max
CREATE TABLE audit.rl_log (
	seq			bigint NOT NULL DEFAULT nextval('audit.op_seq') PRIMARY KEY,
	key			text NOT NULL,
	window_s	float8 NOT NULL,
	max			integer NOT NULL,
	allowed		boolean NOT NULL,
	count		integer NOT NULL,
	remaining	integer NOT NULL,
	retry_after	float8 NOT NULL,
	t_before	timestamptz NOT NULL,
	t_after		timestamptz NOT NULL
);

-- tokens issued
CREATE TABLE audit.token_log (
	seq			bigint NOT NULL DEFAULT nextval('audit.op_seq') PRIMARY KEY,
	token		text NOT NULL,
	subject		text NOT NULL,
	purpose		text NOT NULL,
	ttl			float8 NOT NULL,
	t_before	timestamptz NOT NULL,
	t_after		timestamptz NOT NULL
);

-- consume and verify attempts
CREATE TABLE audit.consume_log (
	seq			bigint NOT NULL DEFAULT nextval('audit.op_seq') PRIMARY KEY,
	token		text NOT NULL,
	op			text NOT NULL,		-- consume | verify
	subject		text,				-- what came back
	t_before	timestamptz NOT NULL,
	t_after		timestamptz NOT NULL
);

-- TTL choices, in seconds; NULL = no expiry.  Short ones race the sweeper.
CREATE FUNCTION audit.ttl(choice int) RETURNS float8 LANGUAGE sql IMMUTABLE AS $$
	SELECT (ARRAY[NULL, 0.01, 0.02, 0.05, 0.2, 1.0]::float8[])[choice]
$$;

CREATE FUNCTION audit.op_set(k int, ttl_choice int) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	key text := 'kv:' || k;
	v text := 'v' || nextval('audit.val_seq');
	ttl float8 := audit.ttl(ttl_choice);
	t0 timestamptz;
BEGIN
	t0 := clock_timestamp();
	PERFORM auth_kv_set(key, v, ttl);
	INSERT INTO audit.kv_log (key, op, value, ttl, t_before, t_after)
		VALUES (key, 'set', v, ttl, t0, clock_timestamp());
END
$$;

CREATE FUNCTION audit.op_nx(k int, ttl_choice int) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	key text := 'kv:' || k;
	v text := 'v' || nextval('audit.val_seq');
	ttl float8 := audit.ttl(ttl_choice);
	t0 timestamptz;
	stored boolean;
BEGIN
	t0 := clock_timestamp();
	stored := auth_kv_set_if_not_exists(key, v, ttl);
	INSERT INTO audit.kv_log (key, op, value, ttl, result, t_before, t_after)
		VALUES (key, 'nx', v, ttl, stored, t0, clock_timestamp());
END
$$;

CREATE FUNCTION audit.op_get(k int) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	key text := 'kv:' || k;
	t0 timestamptz;
	v text;
BEGIN
	t0 := clock_timestamp();
	v := auth_kv_get(key);
	INSERT INTO audit.kv_log (key, op, value, t_before, t_after)
		VALUES (key, 'get', v, t0, clock_timestamp());
END
$$;

CREATE FUNCTION audit.op_take(k int) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	key text := 'kv:' || k;
	t0 timestamptz;
	v text;
BEGIN
	t0 := clock_timestamp();
	v := auth_kv_take(key);
	INSERT INTO audit.kv_log (key, op, value, t_before, t_after)
		VALUES (key, 'take', v, t0, clock_timestamp());
END
$$;

CREATE FUNCTION audit.op_delete(k int) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	key text := 'kv:' || k;
	t0 timestamptz;
	deleted boolean;
BEGIN
	t0 := clock_timestamp();
	deleted := auth_kv_delete(key);
	INSERT INTO audit.kv_log (key, op, result, t_before, t_after)
		VALUES (key, 'delete', deleted, t0, clock_timestamp());
END
$$;

-- counters without TTL: their increments must come back as exactly 1, 2, 3...
CREATE FUNCTION audit.op_incr(k int) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	key text := 'ctr:' || k;
	t0 timestamptz;
	n bigint;
BEGIN
	t0 := clock_timestamp();
	n := auth_kv_incr(key);
	INSERT INTO audit.incr_log (key, ttl, value, t_before, t_after)
		VALUES (key, NULL, n, t0, clock_timestamp());
END
$$;

-- counters with a TTL (set on creation): they restart at 1 once expired
CREATE FUNCTION audit.op_incr_ttl(k int, ttl_choice int) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	key text := 'tctr:' || k;
	ttl float8 := audit.ttl(ttl_choice);
	t0 timestamptz;
	n bigint;
BEGIN
	t0 := clock_timestamp();
	n := auth_kv_incr(key, ttl);
	INSERT INTO audit.incr_log (key, ttl, value, t_before, t_after)
		VALUES (key, ttl, n, t0, clock_timestamp());
END
$$;

-- rate-limit keys rl:1..: key k has a window of 20*k ms and a max of 2 + k
CREATE FUNCTION audit.op_rl(k int) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	key text := 'rl:' || k;
	w float8 := 0.02 * k;
	m int := 2 + k;
	t0 timestamptz;
	r record;
BEGIN
	t0 := clock_timestamp();
	SELECT * INTO r FROM auth_rl_hit(key, w, m);
	INSERT INTO audit.rl_log (key, window_s, max, allowed, count, remaining, retry_after, t_before, t_after)
		VALUES (key, w, m, r.allowed, r.count, r.remaining, r.retry_after, t0, clock_timestamp());
END
$$;

CREATE FUNCTION audit.op_issue(n int, ttl_choice int) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	subject text := 'user:' || n;
	ttl float8 := coalesce(audit.ttl(ttl_choice), 10);
	t0 timestamptz;
	tok text;
BEGIN
	t0 := clock_timestamp();
	tok := auth_token_issue(subject, 'load', ttl);
	INSERT INTO audit.token_log (token, subject, purpose, ttl, t_before, t_after)
		VALUES (tok, subject, 'load', ttl, t0, clock_timestamp());
END
$$;

-- one of the few most recently issued tokens, so that consumers collide
CREATE FUNCTION audit.recent_token(back int) RETURNS text LANGUAGE sql STABLE AS $$
	SELECT token FROM audit.token_log ORDER BY seq DESC OFFSET back LIMIT 1
$$;

CREATE FUNCTION audit.op_consume(back int) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	tok text := audit.recent_token(back);
	t0 timestamptz;
	s text;
BEGIN
	IF tok IS NULL THEN
		RETURN;
	END IF;
	t0 := clock_timestamp();
	s := auth_token_consume(tok, 'load');
	INSERT INTO audit.consume_log (token, op, subject, t_before, t_after)
		VALUES (tok, 'consume', s, t0, clock_timestamp());
END
$$;

CREATE FUNCTION audit.op_verify(back int) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	tok text := audit.recent_token(back);
	t0 timestamptz;
	s text;
BEGIN
	IF tok IS NULL THEN
		RETURN;
	END IF;
	t0 := clock_timestamp();
	s := auth_token_verify(tok, 'load');
	INSERT INTO audit.consume_log (token, op, subject, t_before, t_after)
		VALUES (tok, 'verify', s, t0, clock_timestamp());
END
$$;
