-- mutation: take as a non-atomic SELECT then DELETE (two takers can both get the value)
CREATE OR REPLACE FUNCTION audit.op_take(k int) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	kk text := 'kv:' || k;
	t0 timestamptz;
	v text;
	e timestamptz;
BEGIN
	t0 := clock_timestamp();
	SELECT kv.value, kv.expires_at INTO v, e FROM authstore.kv WHERE kv.key = kk;
	IF FOUND THEN
		PERFORM pg_sleep(0.001);	-- widen the race a little
		DELETE FROM authstore.kv WHERE kv.key = kk;
		IF e IS NOT NULL AND e <= clock_timestamp() THEN
			v := NULL;
		END IF;
	END IF;
	INSERT INTO audit.kv_log (key, op, value, t_before, t_after)
		VALUES (kk, 'take', v, t0, clock_timestamp());
END
$$;
