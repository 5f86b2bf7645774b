-- badinput: every bad argument gets a clear error with the right SQLSTATE,
-- and a failed call changes nothing.
SET authstore.test_clock = 4102444800;
SELECT auth_kv_clear('');

-- run a statement, report "SQLSTATE: message" or "ok"
CREATE FUNCTION pg_temp.try(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE q;
	RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
	RETURN SQLSTATE || ': ' || SQLERRM;
END
$$;

SELECT auth_kv_set('keep', 'original', 100);
SELECT auth_kv_incr('keepcount');
SELECT * FROM auth_rl_hit('keeprl', 60, 5);

-- NULL arguments: 22004 for every function
SELECT q, pg_temp.try(q) AS result FROM (VALUES
	($$SELECT auth_kv_set(NULL, 'v')$$),
	($$SELECT auth_kv_set('keep', NULL)$$),
	($$SELECT auth_kv_get(NULL)$$),
	($$SELECT auth_kv_take(NULL)$$),
	($$SELECT auth_kv_set_if_not_exists(NULL, 'v')$$),
	($$SELECT auth_kv_set_if_not_exists('k', NULL)$$),
	($$SELECT auth_kv_delete(NULL)$$),
	($$SELECT auth_kv_incr(NULL)$$),
	($$SELECT auth_kv_ttl(NULL)$$),
	($$SELECT auth_kv_expire(NULL, 1)$$),
	($$SELECT * FROM auth_kv_keys(NULL)$$),
	($$SELECT auth_kv_clear(NULL)$$),
	($$SELECT * FROM auth_rl_hit(NULL, 60, 5)$$),
	($$SELECT * FROM auth_rl_hit('keeprl', NULL, 5)$$),
	($$SELECT * FROM auth_rl_hit('keeprl', 60, NULL)$$),
	($$SELECT auth_rl_reset(NULL)$$)
) AS t(q);

-- empty keys: 22023 (an empty prefix is fine for keys and clear)
SELECT q, pg_temp.try(q) AS result FROM (VALUES
	($$SELECT auth_kv_set('', 'v')$$),
	($$SELECT auth_kv_get('')$$),
	($$SELECT auth_kv_take('')$$),
	($$SELECT auth_kv_set_if_not_exists('', 'v')$$),
	($$SELECT auth_kv_delete('')$$),
	($$SELECT auth_kv_incr('')$$),
	($$SELECT auth_kv_ttl('')$$),
	($$SELECT auth_kv_expire('', 1)$$),
	($$SELECT * FROM auth_rl_hit('', 60, 5)$$),
	($$SELECT auth_rl_reset('')$$)
) AS t(q);

-- TTLs: negative, NaN, infinite, absurdly large -> 22023; 0 is an error for NX
SELECT q, pg_temp.try(q) AS result FROM (VALUES
	($$SELECT auth_kv_set('keep', 'changed', -1)$$),
	($$SELECT auth_kv_set('keep', 'changed', -0.000001)$$),
	($$SELECT auth_kv_set('keep', 'changed', 'NaN')$$),
	($$SELECT auth_kv_set('keep', 'changed', 'Infinity')$$),
	($$SELECT auth_kv_set('keep', 'changed', '-Infinity')$$),
	($$SELECT auth_kv_set('keep', 'changed', 1e300)$$),
	($$SELECT auth_kv_set('keep', 'changed', 10000000001)$$),
	($$SELECT auth_kv_set_if_not_exists('nx', 'v', 0)$$),
	($$SELECT auth_kv_set_if_not_exists('nx', 'v', 0.0000001)$$),
	($$SELECT auth_kv_set_if_not_exists('nx', 'v', -5)$$),
	($$SELECT auth_kv_incr('keepcount', -1)$$),
	($$SELECT auth_kv_incr('keepcount', 'NaN')$$),
	($$SELECT auth_kv_expire('keep', -1)$$),
	($$SELECT auth_kv_expire('keep', 'Infinity')$$)
) AS t(q);

-- rate-limit arguments: zero/negative/NaN/infinite windows, max <= 0
SELECT q, pg_temp.try(q) AS result FROM (VALUES
	($$SELECT * FROM auth_rl_hit('keeprl', 0, 5)$$),
	($$SELECT * FROM auth_rl_hit('keeprl', -1, 5)$$),
	($$SELECT * FROM auth_rl_hit('keeprl', 'NaN', 5)$$),
	($$SELECT * FROM auth_rl_hit('keeprl', 'Infinity', 5)$$),
	($$SELECT * FROM auth_rl_hit('keeprl', 0.0000001, 5)$$),
	($$SELECT * FROM auth_rl_hit('keeprl', 1e12, 5)$$),
	($$SELECT * FROM auth_rl_hit('keeprl', 60, 0)$$),
	($$SELECT * FROM auth_rl_hit('keeprl', 60, -1)$$),
	($$SELECT * FROM auth_rl_hit('keeprl', 60, -2147483648)$$),
	($$SELECT * FROM auth_rl_hit('keeprl', 60, 2147483648)$$)
) AS t(q);

-- wrong types are rejected by the parser before authstore runs
SELECT q, pg_temp.try(q) AS result FROM (VALUES
	($$SELECT auth_kv_set('keep', 'v', 'soon')$$),
	($$SELECT * FROM auth_rl_hit('keeprl', 60, 2.5)$$),
	($$SELECT auth_kv_sweep(-1)$$)
) AS t(q);

-- the full messages, with detail and hint, for a few of them
SELECT auth_kv_set('keep', 'changed', 'Infinity');
SELECT auth_kv_set_if_not_exists('nx', 'v', 0);
SELECT auth_kv_set('keep', NULL);
SELECT * FROM auth_rl_hit('keeprl', 0, 5);

-- nothing changed
SELECT auth_kv_get('keep'), auth_kv_ttl('keep');
SELECT auth_kv_get('keepcount');
SELECT auth_kv_get('nx') IS NULL AS nx_not_stored;
SELECT hits FROM authstore.rate_limit WHERE key = 'keeprl';
SELECT count(*) AS kv_rows FROM authstore.kv;

SELECT auth_kv_clear('');
DELETE FROM authstore.rate_limit;
