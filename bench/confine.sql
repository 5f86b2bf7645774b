-- bench/confine.sql — per-call server time of a role confined to key
-- prefixes (authstore.confinement) against an unconfined one, side by side.
--
-- Single client, no network: each operation is called N times from one
-- statement (as bench/percall.sql does), under SET ROLE to the confined and
-- the unconfined role alternately, REPS times; the median per call and the
-- ratio confined/unconfined are printed.  What it isolates is the check
-- itself (one role-OID comparison and a prefix match per key argument),
-- not contention: the 16-client pgbench comparison needs a quiet machine.
--
-- Run as a superuser in a database with authstore:
--   psql -v n=50000 -v reps=7 -f bench/confine.sql

\set ON_ERROR_STOP 1
SET jit = off;
SET confine.n = :n;
SET confine.reps = :reps;

DO $$
BEGIN
	IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'bench_confined') THEN
		CREATE ROLE bench_confined;
	END IF;
	IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'bench_unconfined') THEN
		CREATE ROLE bench_unconfined;
	END IF;
END
$$;
GRANT authstore_user TO bench_confined, bench_unconfined;
INSERT INTO authstore.confinement VALUES
	('bench_confined', '{rl:,sess:,verification:,cf:}', '{user:}', '{reset}')
	ON CONFLICT (role) DO UPDATE SET key_prefixes = EXCLUDED.key_prefixes;
SELECT count(auth_kv_set('cf:' || i, repeat('x', 200), 3600)) AS preloaded
  FROM generate_series(1, 10000) i;

CREATE TEMP TABLE confine_t (op text, role text, rep int, us_per_call float8);
GRANT ALL ON confine_t TO PUBLIC;

DO $$
DECLARE
	n int := current_setting('confine.n')::int;
	reps int := current_setting('confine.reps')::int;
	ops text[] := ARRAY[
		'get', 'SELECT count(auth_kv_get(''cf:'' || (i %% 10000 + 1))) FROM generate_series(1, %s) i',
		'set', 'SELECT count(auth_kv_set(''cf:'' || (i %% 10000 + 1), repeat(''x'', 200), 3600)::text) FROM generate_series(1, %s) i'];
	roles text[] := ARRAY['bench_unconfined', 'bench_confined'];
	r int;
	o int;
	k int;
	t0 timestamptz;
BEGIN
	FOR r IN 1 .. reps LOOP
		FOR o IN 1 .. 2 LOOP
			FOR k IN 1 .. 2 LOOP
				EXECUTE format('SET ROLE %I', roles[CASE WHEN r % 2 = 0 THEN 3 - k ELSE k END]);
				t0 := clock_timestamp();
				EXECUTE format(ops[2 * o], n);
				INSERT INTO confine_t VALUES (ops[2 * o - 1], current_user, r,
					extract(epoch FROM clock_timestamp() - t0) * 1e6 / n);
				RESET ROLE;
			END LOOP;
		END LOOP;
	END LOOP;
END
$$;

SELECT op,
	   round(percentile_cont(0.5) WITHIN GROUP (ORDER BY us_per_call)
			 FILTER (WHERE role = 'bench_unconfined')::numeric, 3) AS unconfined_us,
	   round(percentile_cont(0.5) WITHIN GROUP (ORDER BY us_per_call)
			 FILTER (WHERE role = 'bench_confined')::numeric, 3) AS confined_us,
	   round((percentile_cont(0.5) WITHIN GROUP (ORDER BY us_per_call)
			  FILTER (WHERE role = 'bench_confined') /
			  percentile_cont(0.5) WITHIN GROUP (ORDER BY us_per_call)
			  FILTER (WHERE role = 'bench_unconfined'))::numeric, 3) AS ratio
  FROM confine_t GROUP BY op ORDER BY op;

SELECT auth_kv_clear('cf:') >= 0 AS cleaned;
DELETE FROM authstore.confinement WHERE role = 'bench_confined'::regrole;
DROP ROLE bench_confined, bench_unconfined;
