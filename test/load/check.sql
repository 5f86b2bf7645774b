-- test/load/check.sql: check the audit logs of a load run (see setup.sql).
--
-- Prints one row per invariant with the number of operations it looked at
-- and the number of violations, then a last line "violations: N".
--
-- Time checks are sound (never a false alarm from clock or scheduling
-- noise): an operation's "now" is only known to lie in [t_before, t_after],
-- so "expired" means expired even at the latest possible write time and the
-- earliest possible read time, and "live" the other way round.  Replays
-- follow seq, which orders the row-locking operations on one key exactly
-- as PostgreSQL serialized them.  Operations that found nothing (a take or
-- consume returning NULL, a delete returning false) lock nothing, have no
-- place in that order, and are not replayed.
\set ON_ERROR_STOP 1
\pset footer off

CREATE TEMP TABLE result (
	ord			serial,
	invariant	text,
	checked		bigint,
	violations	bigint,
	info		boolean DEFAULT false	-- informational: not counted as a violation
);

-- report the first few violations of each kind as NOTICEs
CREATE FUNCTION pg_temp.note(n bigint, msg text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	IF n <= 3 THEN
		RAISE NOTICE '%', msg;
	END IF;
END
$$;

CREATE FUNCTION pg_temp.secs(x float8) RETURNS interval LANGUAGE sql IMMUTABLE AS $$
	SELECT x * interval '1 second'
$$;

------------------------------------------------------------------------------
-- take and consume deliver each value at most once
------------------------------------------------------------------------------
INSERT INTO result (invariant, checked, violations)
SELECT 'take: each value delivered at most once',
	   count(*), count(*) - count(DISTINCT value)
  FROM audit.kv_log WHERE op = 'take' AND value IS NOT NULL;

INSERT INTO result (invariant, checked, violations)
SELECT 'consume: each token delivered at most once',
	   count(*), count(*) - count(DISTINCT token)
  FROM audit.consume_log WHERE op = 'consume' AND subject IS NOT NULL;

------------------------------------------------------------------------------
-- key-value replay: set, NX, take and delete on each hot key, in lock order
------------------------------------------------------------------------------
CREATE FUNCTION pg_temp.kv_replay(OUT kind text, OUT checked bigint, OUT violations bigint, OUT info boolean)
RETURNS SETOF record LANGUAGE plpgsql AS $$
DECLARE
	r record;
	cur_key text := NULL;
	cur_value text;			-- NULL: absent
	cur_ttl float8;
	cur_tb timestamptz;
	cur_ta timestamptz;
	possibly_live boolean;
	surely_live boolean;
	n_take bigint := 0; v_take_stale bigint := 0; v_take_expired bigint := 0;
	n_nx_true bigint := 0; v_nx_overwrote bigint := 0;
	n_nx_false bigint := 0; v_nx_refused bigint := 0;
	n_del bigint := 0; v_del bigint := 0;
	lb timestamptz;			-- running lower bound of now along the lock order
	i_take_stale bigint := 0;
BEGIN
	FOR r IN
		SELECT * FROM audit.kv_log
		 WHERE op = 'set' OR op = 'nx'
			OR (op = 'take' AND value IS NOT NULL)
			OR (op = 'delete' AND result)
		 ORDER BY key, seq
	LOOP
		IF cur_key IS DISTINCT FROM r.key THEN
			cur_key := r.key;
			cur_value := NULL;
			lb := '-infinity';
		END IF;
		lb := greatest(lb, r.t_before);
		-- could the current value still be live at this operation's now?
		-- is it surely live?
		possibly_live := cur_value IS NOT NULL
			AND (cur_ttl IS NULL OR r.t_before < cur_ta + pg_temp.secs(cur_ttl));
		surely_live := cur_value IS NOT NULL
			AND (cur_ttl IS NULL OR r.t_after < cur_tb + pg_temp.secs(cur_ttl));

		IF r.op = 'set' OR (r.op = 'nx' AND r.result) THEN
			IF r.op = 'nx' THEN
				n_nx_true := n_nx_true + 1;
				IF surely_live THEN
					v_nx_overwrote := v_nx_overwrote + 1;
					PERFORM pg_temp.note(v_nx_overwrote, format('nx overwrote a live value: %s', r));
				END IF;
			END IF;
			cur_value := r.value;
			cur_ttl := r.ttl;
			cur_tb := r.t_before;
			cur_ta := r.t_after;
		ELSIF r.op = 'nx' THEN
			n_nx_false := n_nx_false + 1;
			IF NOT possibly_live THEN
				v_nx_refused := v_nx_refused + 1;
				PERFORM pg_temp.note(v_nx_refused, format('nx refused although nothing live was there: %s', r));
			END IF;
		ELSIF r.op = 'take' THEN
			n_take := n_take + 1;
			IF r.value IS DISTINCT FROM cur_value THEN
				v_take_stale := v_take_stale + 1;
				PERFORM pg_temp.note(v_take_stale, format('take returned %s but the current value was %s: %s', r.value, cur_value, r));
			ELSIF NOT possibly_live THEN
				v_take_expired := v_take_expired + 1;
				PERFORM pg_temp.note(v_take_expired, format('take returned an expired value: %s', r));
			ELSIF cur_ttl IS NOT NULL AND lb >= cur_ta + pg_temp.secs(cur_ttl) THEN
				i_take_stale := i_take_stale + 1;
			END IF;
			cur_value := NULL;
		ELSE					-- a delete that deleted something
			n_del := n_del + 1;
			IF NOT possibly_live THEN
				v_del := v_del + 1;
				PERFORM pg_temp.note(v_del, format('delete reported a deletion but nothing live was there: %s', r));
			END IF;
			cur_value := NULL;
		END IF;
	END LOOP;

	info := false;
	kind := 'take: returned the current value (lock-order replay)'; checked := n_take; violations := v_take_stale; RETURN NEXT;
	kind := 'take: returned no value after its expiry'; checked := n_take; violations := v_take_expired; RETURN NEXT;
	kind := 'nx: stored only when no live value was there'; checked := n_nx_true; violations := v_nx_overwrote; RETURN NEXT;
	kind := 'nx: refused only when a live value was there'; checked := n_nx_false; violations := v_nx_refused; RETURN NEXT;
	kind := 'delete: true only when a live value was there'; checked := n_del; violations := v_del; RETURN NEXT;
	kind := 'take: returned a value expired in real time (stale clock after a lock wait)'; checked := n_take; violations := i_take_stale; info := true; RETURN NEXT;
END
$$;

INSERT INTO result (invariant, checked, violations, info) SELECT * FROM pg_temp.kv_replay();

-- get: every value returned was written to that key and was not expired
-- when the get started
INSERT INTO result (invariant, checked, violations)
SELECT 'get: returned only values written to that key',
	   count(*), count(*) FILTER (WHERE w.key IS DISTINCT FROM g.key)
  FROM audit.kv_log AS g
  LEFT JOIN audit.kv_log AS w ON w.value = g.value AND (w.op = 'set' OR (w.op = 'nx' AND w.result))
 WHERE g.op = 'get' AND g.value IS NOT NULL;

INSERT INTO result (invariant, checked, violations)
SELECT 'get: returned no value after its expiry',
	   count(*), count(*) FILTER (WHERE w.ttl IS NOT NULL AND g.t_before >= w.t_after + pg_temp.secs(w.ttl))
  FROM audit.kv_log AS g
  JOIN audit.kv_log AS w ON w.value = g.value AND (w.op = 'set' OR (w.op = 'nx' AND w.result))
 WHERE g.op = 'get' AND g.value IS NOT NULL;

------------------------------------------------------------------------------
-- counters
------------------------------------------------------------------------------
-- without a TTL: the increments of a counter return exactly 1, 2, 3, ... in
-- lock order, and the counter ends at the number of increments
INSERT INTO result (invariant, checked, violations)
SELECT 'incr: returns 1, 2, 3, ... in lock order (no TTL)',
	   count(*), count(*) FILTER (WHERE value <> rn)
  FROM (SELECT value, row_number() OVER (PARTITION BY key ORDER BY seq) AS rn
		  FROM audit.incr_log WHERE ttl IS NULL) AS s;

INSERT INTO result (invariant, checked, violations)
SELECT 'incr: final counter = number of increments (no TTL)',
	   count(*), count(*) FILTER (WHERE auth_kv_get(key) IS DISTINCT FROM n::text)
  FROM (SELECT key, count(*) AS n FROM audit.incr_log WHERE ttl IS NULL GROUP BY key) AS s;

-- with a TTL set on creation: each lifetime counts 1, 2, 3, ...; a restart
-- at 1 only once the lifetime may have expired; no increment of an expired
-- lifetime
CREATE FUNCTION pg_temp.incr_ttl_replay(OUT kind text, OUT checked bigint, OUT violations bigint, OUT info boolean)
RETURNS SETOF record LANGUAGE plpgsql AS $$
DECLARE
	r record;
	cur_key text := NULL;
	n bigint;
	ttl float8;
	c_tb timestamptz;
	c_ta timestamptz;
	total bigint := 0;
	v_lost bigint := 0;
	v_restart bigint := 0;
	v_expired bigint := 0;
	lb timestamptz;
	i_stale bigint := 0;
BEGIN
	FOR r IN SELECT * FROM audit.incr_log AS l WHERE l.ttl IS NOT NULL ORDER BY l.key, l.seq LOOP
		total := total + 1;
		IF cur_key IS DISTINCT FROM r.key THEN
			cur_key := r.key;
			n := 0;
			lb := '-infinity';
		END IF;
		lb := greatest(lb, r.t_before);
		IF r.value = 1 THEN
			IF n > 0 AND r.t_after < c_tb + pg_temp.secs(ttl) THEN
				v_restart := v_restart + 1;
				PERFORM pg_temp.note(v_restart, format('counter restarted while surely live: %s', r));
			END IF;
			n := 1;
			ttl := r.ttl;
			c_tb := r.t_before;
			c_ta := r.t_after;
		ELSE
			IF r.value <> n + 1 THEN
				v_lost := v_lost + 1;
				PERFORM pg_temp.note(v_lost, format('counter returned %s after %s: %s', r.value, n, r));
			ELSIF r.t_before >= c_ta + pg_temp.secs(ttl) THEN
				v_expired := v_expired + 1;
				PERFORM pg_temp.note(v_expired, format('counter incremented after its expiry: %s', r));
			ELSIF lb >= c_ta + pg_temp.secs(ttl) THEN
				i_stale := i_stale + 1;
			END IF;
			n := r.value;
		END IF;
	END LOOP;
	info := false;
	kind := 'incr: each lifetime returns 1, 2, 3, ... (TTL)'; checked := total; violations := v_lost; RETURN NEXT;
	kind := 'incr: restarts only after expiry (TTL)'; checked := total; violations := v_restart; RETURN NEXT;
	kind := 'incr: never continues an expired counter (TTL)'; checked := total; violations := v_expired; RETURN NEXT;
	kind := 'incr: continued a counter expired in real time (stale clock after a lock wait)'; checked := total; violations := i_stale; info := true; RETURN NEXT;
END
$$;

INSERT INTO result (invariant, checked, violations, info) SELECT * FROM pg_temp.incr_ttl_replay();

------------------------------------------------------------------------------
-- rate limiter: replay the sequential algorithm in lock order
------------------------------------------------------------------------------
CREATE FUNCTION pg_temp.rl_replay(OUT kind text, OUT checked bigint, OUT violations bigint, OUT info boolean)
RETURNS SETOF record LANGUAGE plpgsql AS $$
DECLARE
	r record;
	cur_key text := NULL;
	p int;					-- hits in the current window (0: no state)
	l_tb timestamptz;		-- the last allowed hit's interval
	l_ta timestamptz;
	l_lb timestamptz;		-- ... and its earliest now in a monotonic order
	lb timestamptz;			-- running lower bound of now along the lock order
	w interval;
	n_allowed bigint := 0; n_denied bigint := 0;
	v_over bigint := 0;		-- allowed beyond max, early reset, or a lost update
	v_noreset bigint := 0;	-- counted on although the window had surely passed
	v_denial bigint := 0;	-- denied with a count that does not match the state
	v_late_deny bigint := 0;	-- denied although the window had surely passed
	v_fields bigint := 0;	-- remaining/retry_after inconsistent
	i_stale bigint := 0;	-- resets that need the hit's own clock to be behind the lock order
BEGIN
	FOR r IN SELECT * FROM audit.rl_log ORDER BY key, seq LOOP
		IF cur_key IS DISTINCT FROM r.key THEN
			cur_key := r.key;
			p := 0;
			lb := '-infinity';
		END IF;
		w := pg_temp.secs(r.window_s);
		lb := greatest(lb, r.t_before);
		-- when denied, 0 < retry_after = last_hit + window - now, where
		-- last_hit <= the last allowed hit's t_after and now >= t_before
		IF r.remaining <> greatest(r.max - r.count, 0)
		   OR (r.allowed AND r.retry_after <> 0)
		   OR (NOT r.allowed AND (r.retry_after <= 0 OR p = 0 OR r.retry_after >
				extract(epoch FROM l_ta - r.t_before) + r.window_s + 0.000001)) THEN
			v_fields := v_fields + 1;
			PERFORM pg_temp.note(v_fields, format('rl: inconsistent fields: %s', r));
		END IF;
		IF r.allowed THEN
			n_allowed := n_allowed + 1;
			IF r.count > r.max THEN
				v_over := v_over + 1;
				PERFORM pg_temp.note(v_over, format('rl: allowed beyond max: %s', r));
			ELSIF r.count = 1 AND p > 0 THEN
				-- a reset: the window must possibly have passed
				IF r.t_after < l_tb + w THEN
					v_over := v_over + 1;
					PERFORM pg_temp.note(v_over, format('rl: reset before the window passed (last allowed %s .. %s): %s', l_tb, l_ta, r));
				ELSIF r.t_after < l_lb + w THEN
					i_stale := i_stale + 1;
				END IF;
			ELSIF r.count = p + 1 THEN
				IF p > 0 AND r.t_before >= l_ta + w THEN
					v_noreset := v_noreset + 1;
					PERFORM pg_temp.note(v_noreset, format('rl: counted on after the window passed: %s', r));
				END IF;
			ELSIF NOT (r.count = 1 AND p = 0) THEN
				v_over := v_over + 1;
				PERFORM pg_temp.note(v_over, format('rl: allowed with count %s after %s: %s', r.count, p, r));
			END IF;
			p := r.count;
			l_tb := r.t_before;
			l_ta := r.t_after;
			l_lb := lb;
		ELSE
			n_denied := n_denied + 1;
			IF p < r.max OR r.count <> p THEN
				v_denial := v_denial + 1;
				PERFORM pg_temp.note(v_denial, format('rl: denied with count %s after %s: %s', r.count, p, r));
			ELSIF r.t_before >= l_ta + w THEN
				v_late_deny := v_late_deny + 1;
				PERFORM pg_temp.note(v_late_deny, format('rl: denied after the window passed: %s', r));
			END IF;
		END IF;
	END LOOP;
	kind := 'rl_hit: allowed at most max per window (replay)'; checked := n_allowed; violations := v_over; info := false; RETURN NEXT;
	kind := 'rl_hit: resets once the window passed'; checked := n_allowed; violations := v_noreset; RETURN NEXT;
	kind := 'rl_hit: denials match the state'; checked := n_denied; violations := v_denial; RETURN NEXT;
	kind := 'rl_hit: no denial after the window passed'; checked := n_denied; violations := v_late_deny; RETURN NEXT;
	kind := 'rl_hit: remaining/retry_after consistent'; checked := n_allowed + n_denied; violations := v_fields; RETURN NEXT;
	kind := 'rl_hit: resets early in real time (stale clock after a lock wait)'; checked := n_allowed; violations := i_stale; info := false; RETURN NEXT;
END
$$;

INSERT INTO result (invariant, checked, violations, info) SELECT * FROM pg_temp.rl_replay();

------------------------------------------------------------------------------
-- tokens
------------------------------------------------------------------------------
INSERT INTO result (invariant, checked, violations)
SELECT 'token: consume/verify return the right subject',
	   count(*), count(*) FILTER (WHERE c.subject IS DISTINCT FROM t.subject)
  FROM audit.consume_log AS c JOIN audit.token_log AS t USING (token)
 WHERE c.subject IS NOT NULL;

INSERT INTO result (invariant, checked, violations)
SELECT 'token: consume/verify find nothing after expiry',
	   count(*), count(*) FILTER (WHERE c.t_before >= t.t_after + pg_temp.secs(t.ttl))
  FROM audit.consume_log AS c JOIN audit.token_log AS t USING (token)
 WHERE c.subject IS NOT NULL;

------------------------------------------------------------------------------
-- the sweeper kept up: nothing expired more than 0.5 s ago is left
------------------------------------------------------------------------------
INSERT INTO result (invariant, checked, violations)
SELECT 'sweeper: no row expired > 0.5 s ago left behind',
	   (SELECT count(*) FROM authstore.kv) + (SELECT count(*) FROM authstore.rate_limit)
		 + (SELECT count(*) FROM authstore.token),
	   (SELECT count(*) FROM authstore.kv WHERE expires_at < clock_timestamp() - interval '0.5 s')
		 + (SELECT count(*) FROM authstore.rate_limit WHERE window_end < clock_timestamp() - interval '0.5 s')
		 + (SELECT count(*) FROM authstore.token WHERE expires_at < clock_timestamp() - interval '0.5 s');

------------------------------------------------------------------------------
-- report
------------------------------------------------------------------------------
\echo
\echo 'operations logged'
SELECT op, count(*) AS ops, count(*) FILTER (WHERE value IS NOT NULL OR result) AS hits
  FROM (SELECT op, value, result FROM audit.kv_log
		UNION ALL SELECT CASE WHEN ttl IS NULL THEN 'incr' ELSE 'incr (TTL)' END, NULL, true FROM audit.incr_log
		UNION ALL SELECT 'rl_hit', NULL, allowed FROM audit.rl_log
		UNION ALL SELECT 'token issue', NULL, true FROM audit.token_log
		UNION ALL SELECT 'token ' || op, subject, NULL FROM audit.consume_log) AS o
 GROUP BY op ORDER BY op;

\echo 'invariants (info rows are not violations)'
SELECT invariant, checked, violations, CASE WHEN info THEN 'info' ELSE '' END AS note
  FROM result ORDER BY ord;

SELECT (SELECT count(*) FROM audit.kv_log) + (SELECT count(*) FROM audit.incr_log)
	   + (SELECT count(*) FROM audit.rl_log) + (SELECT count(*) FROM audit.token_log)
	   + (SELECT count(*) FROM audit.consume_log) AS total_ops,
	   (SELECT sum(violations) FROM result WHERE NOT info) AS total_violations \gset
\echo 'ops:' :total_ops
\echo 'violations:' :total_violations
