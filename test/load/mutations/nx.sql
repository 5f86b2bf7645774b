-- mutation: set-if-not-exists as a non-atomic get then set (two clients can both get the lock)
CREATE OR REPLACE FUNCTION audit.op_nx(k int, ttl_choice int) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	key text := 'kv:' || k;
	v text := 'v' || nextval('audit.val_seq');
	ttl float8 := audit.ttl(ttl_choice);
	t0 timestamptz;
	stored boolean := false;
BEGIN
	t0 := clock_timestamp();
	IF auth_kv_get(key) IS NULL THEN
		PERFORM pg_sleep(0.001);
		PERFORM auth_kv_set(key, v, ttl);
		stored := true;
	END IF;
	INSERT INTO audit.kv_log (key, op, value, ttl, result, t_before, t_after)
		VALUES (key, 'nx', v, ttl, stored, t0, clock_timestamp());
END
$$;
