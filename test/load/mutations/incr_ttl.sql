-- mutation: a TTL counter that ignores its expiry (never restarts at 1)
CREATE OR REPLACE FUNCTION audit.op_incr_ttl(k int, ttl_choice int) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	key text := 'tctr:' || k;
	ttl float8 := audit.ttl(ttl_choice);
	t0 timestamptz;
	n bigint;
BEGIN
	t0 := clock_timestamp();
	-- keep the counter alive forever after its first TTL has been recorded
	n := auth_kv_incr(key, NULL);
	INSERT INTO audit.incr_log (key, ttl, value, t_before, t_after)
		VALUES (key, ttl, n, t0, clock_timestamp());
END
$$;
