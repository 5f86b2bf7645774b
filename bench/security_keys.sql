-- bench/security_keys.sql — the setup of bench/security.sh's part 2
-- (auth_kv_keys per call from 10k to 1M keys), run as a superuser in an
-- empty database: authstore, 50 'active-sessions-<u>' keys, and
-- bench_keys(), which times auth_kv_keys in the calling backend.
CREATE EXTENSION authstore;
INSERT INTO authstore.kv (key, value, expires_at)
	SELECT 'active-sessions-' || u, format('[{"token":"t%s","expiresAt":4102444800000}]', u),
	       now() + interval '1 day'
	  FROM generate_series(1, 50) u;
-- bench_keys(mode, op, calls, size): ms, rows returned, heap tuples fetched
-- and buffers accessed (table + key index) per call, over N timed calls
-- after 20 untimed ones in this backend.
CREATE FUNCTION bench_keys(mode text, op text, calls int, size int,
	OUT ms float8, OUT rows float8, OUT fetched float8, OUT buffers float8)
LANGUAGE plpgsql AS $$
DECLARE
	t0 timestamptz; c bigint; total bigint; f0 bigint; b0 bigint;
BEGIN
	PERFORM set_config('plan_cache_mode', mode, false);
	FOR i IN 1 .. calls + 20 LOOP
		IF i = 21 THEN
			total := 0; f0 := pg_stat_get_xact_tuples_fetched('authstore.kv_pkey'::regclass);
			b0 := pg_stat_get_xact_blocks_fetched('authstore.kv'::regclass)
			    + pg_stat_get_xact_blocks_fetched('authstore.kv_pkey'::regclass);
			t0 := clock_timestamp();
		END IF;
		IF op = 'one' THEN
			SELECT count(*) INTO c FROM auth_kv_keys('active-sessions-42');
		ELSIF op = 'hot' THEN
			SELECT count(*) INTO c FROM auth_kv_keys('session:', 'session:5', 100);
		ELSE
			SELECT count(*) INTO c
			  FROM auth_kv_keys('session:', 'session:' || (1 + floor(random() * size))::int, 100);
		END IF;
		total := total + c;
	END LOOP;
	ms := extract(epoch FROM clock_timestamp() - t0) * 1000 / calls;
	rows := total::float8 / calls;
	fetched := (pg_stat_get_xact_tuples_fetched('authstore.kv_pkey'::regclass) - f0)::float8 / calls;
	buffers := (pg_stat_get_xact_blocks_fetched('authstore.kv'::regclass)
	          + pg_stat_get_xact_blocks_fetched('authstore.kv_pkey'::regclass) - b0)::float8 / calls;
END
$$;
