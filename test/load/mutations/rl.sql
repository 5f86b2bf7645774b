-- mutation: the rate limiter is called with twice the logged max (over-admission)
CREATE OR REPLACE FUNCTION audit.op_rl(k int) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	key text := 'rl:' || k;
	w float8 := 0.02 * k;
	m int := 2 + k;
	t0 timestamptz;
	r record;
BEGIN
	t0 := clock_timestamp();
	SELECT * INTO r FROM auth_rl_hit(key, w, 2 * m);
	INSERT INTO audit.rl_log (key, window_s, max, allowed, count, remaining, retry_after, t_before, t_after)
		VALUES (key, w, m, r.allowed, r.count, greatest(m - r.count, 0), r.retry_after, t0, clock_timestamp());
END
$$;
