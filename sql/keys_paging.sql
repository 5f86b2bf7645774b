-- keys_paging: auth_kv_keys is a bounded index range scan for every plan,
-- including the generic plan a cached statement gets from its sixth
-- execution on, and pages through keys like SCAN (issue 13, finding 2).
-- Rows examined are counted from the table's statistics in one transaction
-- (pg_stat_xact_* shows pending counts, so each check takes a baseline).
SET authstore.test_clock = 4102444800;
SELECT auth_kv_clear('');
SELECT count(auth_kv_set('p:' || lpad(i::text, 5, '0'), 'v'))
  FROM generate_series(1, 2000) i;
SELECT auth_kv_set('q:1', 'v'), auth_kv_set('q:2', 'v', 1), auth_kv_set('q:3', 'v');
ANALYZE authstore.kv;

CREATE FUNCTION rows_examined() RETURNS bigint LANGUAGE sql AS $$
	SELECT coalesce(seq_tup_read, 0) + coalesce(idx_tup_fetch, 0)
	  FROM pg_stat_xact_all_tables WHERE relid = 'authstore.kv'::regclass
$$;

-- a generic plan for every execution, as after five calls in a connection
SET plan_cache_mode = force_generic_plan;
BEGIN;
CREATE TEMP TABLE base ON COMMIT DROP AS SELECT rows_examined() AS n;
SELECT count(*) FROM auth_kv_keys('p:0123');
SELECT count(*) FROM auth_kv_keys('p:0123');
SELECT rows_examined() - n <= 22 AS bounded_by_the_prefix FROM base;
COMMIT;
BEGIN;
CREATE TEMP TABLE base ON COMMIT DROP AS SELECT rows_examined() AS n;
SELECT * FROM auth_kv_keys('p:', 'p:01000', 3);
SELECT * FROM auth_kv_keys('', 'p:01999', 3);
SELECT rows_examined() - n <= 6 AS bounded_by_count FROM base;
COMMIT;
RESET plan_cache_mode;

-- the one-argument form is unchanged
SELECT * FROM auth_kv_keys('p:0001');
SELECT * FROM auth_kv_keys('q');

-- paging: start_after NULL starts at the beginning; count NULL means all;
-- a start_after before the prefix starts at the prefix, one after it ends
SELECT * FROM auth_kv_keys('q', NULL, NULL);
SELECT * FROM auth_kv_keys('q', NULL, 1);
SELECT * FROM auth_kv_keys('q', 'q:1', 5);
SELECT * FROM auth_kv_keys('q', 'a', 5);
SELECT * FROM auth_kv_keys('q', 'z', 5);
SELECT * FROM auth_kv_keys('q', 'q:', 0);
SELECT * FROM auth_kv_keys('q', 'q:', -1);
SELECT * FROM auth_kv_keys(NULL, NULL, 1);

-- a walk in pages of 7 sees every key once, in order
DO $$
DECLARE
	cursor_key text := NULL;
	page text[];
	walked text[] := '{}';
BEGIN
	LOOP
		page := ARRAY(SELECT k FROM auth_kv_keys('p:', cursor_key, 7) k);
		walked := walked || page;
		EXIT WHEN cardinality(page) < 7 OR cardinality(walked) > 2100;
		cursor_key := page[7];
	END LOOP;
	IF walked IS DISTINCT FROM ARRAY(SELECT k FROM auth_kv_keys('p:') k) OR
	   cardinality(walked) <> 2000 THEN
		RAISE EXCEPTION 'paged walk differs: % keys', cardinality(walked);
	END IF;
END
$$;

DROP FUNCTION rows_examined();
SELECT auth_kv_clear('');
