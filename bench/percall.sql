-- bench/percall.sql — server-side cost of one call, without the network.
--
-- Each operation is called N times from ONE SQL statement
--   SELECT count(<call>) FROM generate_series(1, N) i
-- and the wall time per call is taken, minus the same loop around a bare
-- key expression.  authstore and the peer alternate, REPS times, and the
-- median is printed.  This isolates what the extension itself costs in the
-- backend (SPI, executor, index and heap work) from round trips and client
-- overhead, which dominate the pgbench numbers.  Every statement is one
-- transaction, so writes here are N updates in one transaction, not N
-- commits.  Keys live under 'pc:' so the main key space is not disturbed
-- (except set_ttl, which rewrites the preloaded sessions like the pgbench
-- workload does).  A hot key is not measured here: N updates of one row in
-- one transaction build an N-long HOT chain, which autocommit calls never do.
--
-- Run by bench/run.sh as the benchmark role: psql -v n=... -v reps=...

\set ON_ERROR_STOP 1
SET jit = off;
SET percall.n = :n;
SET percall.reps = :reps;

CREATE TEMP TABLE percall_q (ord int, op text, sys text, q text);
INSERT INTO percall_q VALUES
 (1, 'get, live key', 'authstore', $$SELECT count(auth_kv_get('sess:' || (i % 100000 + 1))) FROM generate_series(1, {n}) i$$),
 (1, 'get, live key', 'peer', $$SELECT count(peer.kv_get('sess:' || (i % 100000 + 1))) FROM generate_series(1, {n}) i$$),
 (2, 'get, missing key', 'authstore', $$SELECT count(auth_kv_get('nokey:' || i)) FROM generate_series(1, {n}) i$$),
 (2, 'get, missing key', 'peer', $$SELECT count(peer.kv_get('nokey:' || i)) FROM generate_series(1, {n}) i$$),
 (3, 'set with TTL (update)', 'authstore', $$SELECT count(auth_kv_set('sess:' || (i % 100000 + 1), repeat('x', 200), 3600)::text) FROM generate_series(1, {n}) i$$),
 (3, 'set with TTL (update)', 'peer', $$SELECT count(peer.kv_set('sess:' || (i % 100000 + 1), repeat('x', 200), 3600)::text) FROM generate_series(1, {n}) i$$),
 (4, 'set_if_not_exists (new key)', 'authstore', $$SELECT count(auth_kv_set_if_not_exists('pc:{r}:' || i, 'v', 600)) FROM generate_series(1, {n}) i$$),
 (4, 'set_if_not_exists (new key)', 'peer', $$SELECT count(peer.kv_set_if_not_exists('pc:{r}:' || i, 'v', 600)) FROM generate_series(1, {n}) i$$),
 (5, 'set_if_not_exists (live key)', 'authstore', $$SELECT count(auth_kv_set_if_not_exists('pc:{r}:' || i, 'v', 600)) FROM generate_series(1, {n}) i$$),
 (5, 'set_if_not_exists (live key)', 'peer', $$SELECT count(peer.kv_set_if_not_exists('pc:{r}:' || i, 'v', 600)) FROM generate_series(1, {n}) i$$),
 (6, 'incr (existing key)', 'authstore', $$SELECT count(auth_kv_incr('pc:c:' || i, 600)) FROM generate_series(1, {n}) i$$),
 (6, 'incr (existing key)', 'peer', $$SELECT count(peer.kv_incr('pc:c:' || i, 600)) FROM generate_series(1, {n}) i$$),
 (7, 'take (live key)', 'authstore', $$SELECT count(auth_kv_take('pc:{r}:' || i)) FROM generate_series(1, {n}) i$$),
 (7, 'take (live key)', 'peer', $$SELECT count(peer.kv_take('pc:{r}:' || i)) FROM generate_series(1, {n}) i$$),
 (8, 'delete (missing key)', 'authstore', $$SELECT count(auth_kv_delete('pc:{r}:' || i)) FROM generate_series(1, {n}) i$$),
 (8, 'delete (missing key)', 'peer', $$SELECT count(peer.kv_delete('pc:{r}:' || i)) FROM generate_series(1, {n}) i$$),
 (9, 'rl_hit (existing key)', 'authstore', $$SELECT count(r.allowed) FROM generate_series(1, {n}) i, LATERAL auth_rl_hit('pc:rl:' || i, 600, 1000000) r$$),
 (9, 'rl_hit (existing key)', 'peer', $$SELECT count(r.allowed) FROM generate_series(1, {n}) i, LATERAL peer.rl_hit('pc:rl:' || i, 600, 1000000) r$$),
 (11, 'token issue', 'authstore', $$SELECT count(auth_token_issue('user:' || i, 'pc', 600)) FROM generate_series(1, {n}) i$$),
 (11, 'token issue', 'peer', $$SELECT count(peer.token_issue('user:' || i, 'pc', 600)) FROM generate_series(1, {n}) i$$),
 (0, 'loop overhead', 'baseline', $$SELECT count('pc:{r}:' || i) FROM generate_series(1, {n}) i$$);

CREATE TEMP TABLE percall_r (op text, sys text, us float8);

-- counters and rate-limit keys exist before they are measured
SELECT count(auth_kv_incr('pc:c:' || i, 600)), count(peer.kv_incr('pc:c:' || i, 600))
FROM generate_series(1, :n) i \g /dev/null
SELECT count(a.allowed), count(p.allowed) FROM generate_series(1, :n) i,
	LATERAL auth_rl_hit('pc:rl:' || i, 600, 1000000) a, LATERAL peer.rl_hit('pc:rl:' || i, 600, 1000000) p \g /dev/null

DO $$
DECLARE
	n int := current_setting('percall.n')::int;
	reps int := current_setting('percall.reps')::int;
	r record;
	t0 timestamptz;
	dummy bigint;
BEGIN
	-- one short untimed pass first: plans, catalog caches, buffers
	FOR r IN SELECT * FROM percall_q ORDER BY ord, sys LOOP
		EXECUTE replace(replace(r.q, '{n}', '200'), '{r}', '0') INTO dummy;
	END LOOP;
	FOR rep IN 1..reps LOOP
		FOR r IN SELECT * FROM percall_q ORDER BY ord, sys LOOP
			t0 := clock_timestamp();
			EXECUTE replace(replace(r.q, '{n}', n::text), '{r}', rep::text) INTO dummy;
			INSERT INTO percall_r
			VALUES (r.op, r.sys, extract(epoch FROM clock_timestamp() - t0) * 1e6 / n);
		END LOOP;
	END LOOP;
END
$$;

\pset footer off
\echo
\echo Server-side wall time per call in microseconds (median of :reps, :n calls each, loop overhead subtracted):
WITH m AS (
	SELECT op, sys, percentile_cont(0.5) WITHIN GROUP (ORDER BY us) AS us
	FROM percall_r GROUP BY op, sys
), base AS (SELECT us FROM m WHERE sys = 'baseline')
SELECT a.op AS operation,
	   round((a.us - base.us)::numeric, 2) AS "authstore us",
	   round((p.us - base.us)::numeric, 2) AS "peer us",
	   round(((p.us - base.us) / nullif(a.us - base.us, 0))::numeric, 2) AS "peer/authstore"
FROM m a JOIN m p ON p.op = a.op AND p.sys = 'peer', base
WHERE a.sys = 'authstore'
ORDER BY (SELECT min(ord) FROM percall_q q WHERE q.op = a.op);
