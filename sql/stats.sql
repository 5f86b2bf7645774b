-- stats: auth_stats counts each call's outcome and which path served it.
-- The paths are set here explicitly, so both runs of the suite (direct
-- path on and off) expect the same output.  A direct path that silently
-- never runs shows up here as statements where there should be none.
SET authstore.test_clock = 4102444800;
SELECT auth_kv_clear('');
CREATE FUNCTION pg_temp.my_stats(OUT direct_accesses bigint, OUT statements bigint,
								 OUT kv_sets bigint, OUT kv_get_hits bigint,
								 OUT kv_get_misses bigint,
								 OUT kv_cas_applied bigint, OUT kv_cas_rejected bigint,
								 OUT rl_allowed bigint, OUT rl_denied bigint)
	AS $$SELECT direct_accesses, statements, kv_sets, kv_get_hits, kv_get_misses,
				kv_cas_applied, kv_cas_rejected, rl_allowed, rl_denied
		   FROM auth_stats WHERE datname = current_database()$$ LANGUAGE sql;

-- direct path: set, get, take, CAS, delete-if, a rate-limit hit on an
-- existing row run no SQL statement
SET authstore.direct_access = on;
SELECT auth_kv_set('st:1', 'a'), auth_kv_set('st:2', 'b'),
       auth_rl_hit('st:rl', 60, 1) IS NOT NULL AS hit;
SELECT auth_stats_reset();
SELECT auth_kv_set('st:1', 'v'), auth_kv_get('st:1'), auth_kv_get('st:none');
SELECT auth_kv_compare_and_set('st:1', 'v', 'w'), auth_kv_compare_and_set('st:1', 'v', 'x');
SELECT auth_kv_delete_if_value('st:2', 'b'), auth_kv_delete_if_value('st:2', 'b');
SELECT allowed FROM auth_rl_hit('st:rl', 60, 1);
SELECT * FROM pg_temp.my_stats();

-- statement path: the same calls, no direct access
SET authstore.direct_access = off;
SELECT auth_kv_set('st:2', 'b'), auth_rl_reset('st:rl');
SELECT auth_stats_reset();
SELECT auth_kv_set('st:1', 'v'), auth_kv_get('st:1'), auth_kv_get('st:none');
SELECT auth_kv_compare_and_set('st:1', 'v', 'w'), auth_kv_compare_and_set('st:1', 'v', 'x');
SELECT auth_kv_delete_if_value('st:2', 'b'), auth_kv_delete_if_value('st:2', 'b');
SELECT allowed FROM auth_rl_hit('st:rl', 60, 1);
SELECT * FROM pg_temp.my_stats();
RESET authstore.direct_access;

-- the view shows counts, never keys; a monitoring role may read it
SELECT count(*) = 1 AS one_row FROM auth_stats WHERE datname = current_database();
SELECT auth_kv_clear('');
DELETE FROM authstore.rate_limit;
