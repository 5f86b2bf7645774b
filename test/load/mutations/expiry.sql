-- mutation: get reads the table directly and ignores expires_at (returns expired values until swept)
CREATE OR REPLACE FUNCTION audit.op_get(k int) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	kk text := 'kv:' || k;
	t0 timestamptz;
	v text;
BEGIN
	t0 := clock_timestamp();
	SELECT kv.value INTO v FROM authstore.kv WHERE kv.key = kk;
	INSERT INTO audit.kv_log (key, op, value, t_before, t_after)
		VALUES (kk, 'get', v, t0, clock_timestamp());
END
$$;
