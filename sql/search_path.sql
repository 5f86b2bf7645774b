-- search_path: objects that shadow the tables, functions and operators
-- authstore uses, placed ahead of pg_catalog in the caller's search_path,
-- change nothing.  Each shadow raises "hijacked" if it is ever called.
SET authstore.test_clock = 4102444800;
SELECT auth_kv_clear('');
SELECT auth_kv_set('before', 'v');

CREATE SCHEMA evil;
CREATE TABLE evil.kv (key text, value text, expires_at timestamptz);
CREATE TABLE evil.rate_limit (key text, hits int, last_hit timestamptz,
							  window_end timestamptz);
CREATE FUNCTION evil.hijack_text(text, text) RETURNS boolean
	LANGUAGE plpgsql AS $$BEGIN RAISE EXCEPTION 'hijacked'; END$$;
CREATE FUNCTION evil.hijack_ts(timestamptz, timestamptz) RETURNS boolean
	LANGUAGE plpgsql AS $$BEGIN RAISE EXCEPTION 'hijacked'; END$$;
CREATE FUNCTION evil.hijack_int(int, int) RETURNS boolean
	LANGUAGE plpgsql AS $$BEGIN RAISE EXCEPTION 'hijacked'; END$$;
CREATE FUNCTION evil.hijack_tid(tid, tid) RETURNS boolean
	LANGUAGE plpgsql AS $$BEGIN RAISE EXCEPTION 'hijacked'; END$$;
CREATE FUNCTION evil.hijack_plus(int, int) RETURNS int
	LANGUAGE plpgsql AS $$BEGIN RAISE EXCEPTION 'hijacked'; END$$;
CREATE FUNCTION evil.starts_with(text, text) RETURNS boolean
	LANGUAGE plpgsql AS $$BEGIN RAISE EXCEPTION 'hijacked'; END$$;
CREATE FUNCTION evil.count(text) RETURNS bigint
	LANGUAGE plpgsql AS $$BEGIN RAISE EXCEPTION 'hijacked'; END$$;
CREATE FUNCTION evil.incr_value(text) RETURNS text
	LANGUAGE plpgsql AS $$BEGIN RAISE EXCEPTION 'hijacked'; END$$;
CREATE OPERATOR evil.= (LEFTARG = text, RIGHTARG = text, FUNCTION = evil.hijack_text);
CREATE OPERATOR evil.>= (LEFTARG = text, RIGHTARG = text, FUNCTION = evil.hijack_text);
CREATE OPERATOR evil.< (LEFTARG = text, RIGHTARG = text, FUNCTION = evil.hijack_text);
CREATE OPERATOR evil.<= (LEFTARG = timestamptz, RIGHTARG = timestamptz, FUNCTION = evil.hijack_ts);
CREATE OPERATOR evil.> (LEFTARG = timestamptz, RIGHTARG = timestamptz, FUNCTION = evil.hijack_ts);
CREATE OPERATOR evil.<= (LEFTARG = int, RIGHTARG = int, FUNCTION = evil.hijack_int);
CREATE OPERATOR evil.>= (LEFTARG = int, RIGHTARG = int, FUNCTION = evil.hijack_int);
CREATE OPERATOR evil.+ (LEFTARG = int, RIGHTARG = int, FUNCTION = evil.hijack_plus);
CREATE OPERATOR evil.= (LEFTARG = tid, RIGHTARG = tid, FUNCTION = evil.hijack_tid);
-- a temporary table named like the storage, too
CREATE TEMP TABLE kv (key text, value text, expires_at timestamptz);

SET search_path = pg_temp, evil, public, pg_catalog;
SELECT auth_kv_get('before');
SELECT auth_kv_set('k', 'v', 10);
SELECT auth_kv_get('k'), auth_kv_ttl('k');
SELECT auth_kv_set_if_not_exists('k', 'other'), auth_kv_set_if_not_exists('k2', 'v2', 5);
SELECT auth_kv_incr('n', 10), auth_kv_incr('n');
SELECT auth_kv_expire('k', 20);
SELECT * FROM auth_kv_keys('k');
SELECT auth_kv_take('k2'), auth_kv_delete('k');
SELECT allowed, count FROM auth_rl_hit('rl', 10, 1);
SELECT allowed, count FROM auth_rl_hit('rl', 10, 1);
SELECT auth_rl_reset('rl');
SET authstore.test_clock = 4102444900;
SELECT auth_kv_sweep();
SELECT auth_kv_clear('n');
SELECT auth_kv_clear('');
RESET search_path;

-- the shadow tables stayed empty
SELECT (SELECT count(*) FROM evil.kv) AS evil_kv,
       (SELECT count(*) FROM evil.rate_limit) AS evil_rl,
       (SELECT count(*) FROM pg_temp.kv) AS temp_kv;
SET client_min_messages = warning;
DROP SCHEMA evil CASCADE;
RESET client_min_messages;
DROP TABLE pg_temp.kv;
