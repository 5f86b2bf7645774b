-- mutation: incr as a non-atomic get then set (lost updates)
CREATE OR REPLACE FUNCTION audit.op_incr(k int) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	key text := 'ctr:' || k;
	t0 timestamptz;
	n bigint;
BEGIN
	t0 := clock_timestamp();
	n := coalesce(auth_kv_get(key)::bigint, 0) + 1;
	PERFORM pg_sleep(0.001);
	PERFORM auth_kv_set(key, n::text);
	INSERT INTO audit.incr_log (key, ttl, value, t_before, t_after)
		VALUES (key, NULL, n, t0, clock_timestamp());
END
$$;
