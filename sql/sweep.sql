-- sweep: auth_kv_sweep deletes expired key-value rows and idle rate-limit
-- state, leaves live rows alone, and honours max_rows.
SET authstore.test_clock = 4102444800;
SELECT auth_kv_clear('');
DELETE FROM authstore.rate_limit;

SELECT auth_kv_set('live:' || i, 'v', 100) FROM generate_series(1, 3) AS i;
SELECT auth_kv_set('forever', 'v');
SELECT auth_kv_set('short:' || i, 'v', 10) FROM generate_series(1, 5) AS i;
SELECT count(*) FROM auth_rl_hit('rl:short', 10, 5);
SELECT count(*) FROM auth_rl_hit('rl:long', 1000, 5);

-- nothing has expired yet
SELECT auth_kv_sweep();

SET authstore.test_clock = 4102444810;
-- at most two rows per call; key-value rows go first
SELECT auth_kv_sweep(2);
SELECT count(*) AS short_left FROM authstore.kv WHERE key LIKE 'short:%';
SELECT auth_kv_sweep(0);
SELECT auth_kv_sweep();
SELECT key FROM authstore.kv ORDER BY key;
SELECT key FROM authstore.rate_limit ORDER BY key;
SELECT auth_kv_sweep();

-- a swept rate-limit key starts a fresh window
SELECT * FROM auth_rl_hit('rl:short', 10, 5);

-- NULL means no limit; a negative limit is an error
SELECT auth_kv_sweep(NULL);
SELECT auth_kv_sweep(-1);

SELECT auth_kv_clear('');
DELETE FROM authstore.rate_limit;
