-- mutation: consume as a non-atomic verify then delete (two consumers can both succeed)
CREATE OR REPLACE FUNCTION audit.op_consume(back int) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	tok text := audit.recent_token(back);
	t0 timestamptz;
	s text;
BEGIN
	IF tok IS NULL THEN
		RETURN;
	END IF;
	t0 := clock_timestamp();
	s := auth_token_verify(tok, 'load');
	IF s IS NOT NULL THEN
		PERFORM pg_sleep(0.001);
		DELETE FROM authstore.token WHERE hash = sha256(convert_to(tok, 'UTF8'));
	END IF;
	INSERT INTO audit.consume_log (token, op, subject, t_before, t_after)
		VALUES (tok, 'consume', s, t0, clock_timestamp());
END
$$;
