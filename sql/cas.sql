-- cas: auth_kv_compare_and_set() and auth_kv_delete_if_value() (issue 16),
-- the atomic compare-and-set and delete-if of RustAuth's SecondaryStorage.
-- The clock is pinned at T0 = 2100-01-01 and moved by hand.
SET authstore.test_clock = 4102444800;
SELECT auth_kv_clear('');

-- run a statement, report "SQLSTATE: message" or "ok"
CREATE FUNCTION pg_temp.try(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE q;
	RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
	RETURN SQLSTATE || ': ' || SQLERRM;
END
$$;

-- expected NULL: set only if absent (set-if-not-exists)
SELECT auth_kv_compare_and_set('k', NULL, 'v1', 60) AS absent_set;
SELECT auth_kv_get('k'), auth_kv_ttl('k');
SELECT auth_kv_compare_and_set('k', NULL, 'v2', 60) AS live_not_set;
SELECT auth_kv_get('k'), auth_kv_ttl('k');

-- expected a value: set only if the live value is exactly that
SELECT auth_kv_compare_and_set('k', 'v2', 'v3', 60) AS wrong_expected;
SELECT auth_kv_compare_and_set('k', 'V1', 'v3', 60) AS case_differs;
SELECT auth_kv_compare_and_set('k', 'v1 ', 'v3', 60) AS trailing_space;
SELECT auth_kv_compare_and_set('k', 'v', 'v3', 60) AS prefix_only;
SELECT auth_kv_get('k'), auth_kv_ttl('k');
SELECT auth_kv_compare_and_set('k', 'v1', 'v3', 120) AS matched;
SELECT auth_kv_get('k'), auth_kv_ttl('k');
-- a NULL TTL clears the TTL, as auth_kv_set() does
SELECT auth_kv_compare_and_set('k', 'v3', 'v4') AS matched_no_ttl;
SELECT auth_kv_get('k'), auth_kv_ttl('k');
-- the old value does not match any more
SELECT auth_kv_compare_and_set('k', 'v3', 'v5') AS stale_expected;
SELECT auth_kv_get('k');
-- an absent key matches no value
SELECT auth_kv_compare_and_set('nokey', 'v1', 'x') AS absent_not_matched;
SELECT auth_kv_get('nokey') IS NULL AS still_absent;

-- an empty value is a value: it matches '' and not NULL
SELECT auth_kv_set('empty', '');
SELECT auth_kv_compare_and_set('empty', NULL, 'x') AS empty_is_not_absent;
SELECT auth_kv_compare_and_set('empty', '', 'x') AS empty_matches;
SELECT auth_kv_get('empty');

-- expired keys count as absent, whatever their stored value
SELECT auth_kv_set('exp1', 'old', 10), auth_kv_set('exp2', 'old', 10),
       auth_kv_set('exp3', 'old', 10);
SET authstore.test_clock = 4102444820;
SELECT auth_kv_compare_and_set('exp1', 'old', 'new') AS expired_not_matched;
SELECT auth_kv_get('exp1') IS NULL AS exp1_absent;
SELECT auth_kv_compare_and_set('exp2', NULL, 'new', 30) AS expired_is_absent;
SELECT auth_kv_get('exp2'), auth_kv_ttl('exp2');
SELECT auth_kv_delete_if_value('exp3', 'old') AS expired_not_deleted;
SELECT count(*) AS exp1_exp3_rows_left_to_sweeper FROM authstore.kv
 WHERE key IN ('exp1', 'exp3');
SET authstore.test_clock = 4102444800;

-- TTL 0 (or one that rounds to 0 µs): the value expires at once, so
-- nothing is stored.  A match leaves the key absent and returns true (as
-- auth_kv_set(k, v, 0) does, and RustAuth's compare_and_set(.., Some(0)));
-- expecting absence returns false and touches nothing (as RustAuth's
-- set_if_not_exists(.., Some(0)) does).
SELECT auth_kv_set('z', 'zv', 60);
SELECT auth_kv_compare_and_set('z', 'other', 'x', 0) AS ttl0_mismatch;
SELECT auth_kv_get('z'), auth_kv_ttl('z');
SELECT auth_kv_compare_and_set('z', NULL, 'x', 0) AS ttl0_expect_absent_live;
SELECT auth_kv_get('z');
SELECT auth_kv_compare_and_set('z', 'zv', 'x', 0) AS ttl0_match;
SELECT auth_kv_get('z') IS NULL AS z_gone;
SELECT auth_kv_compare_and_set('z', NULL, 'x', 0) AS ttl0_expect_absent_absent;
SELECT auth_kv_get('z') IS NULL AS z_still_gone;
SELECT auth_kv_set('z', 'zv');
SELECT auth_kv_compare_and_set('z', 'zv', 'x', 0.0000001) AS tiny_ttl_match;
SELECT auth_kv_get('z') IS NULL AS z_gone_again;

-- sub-second TTLs keep µs resolution
SELECT auth_kv_compare_and_set('frac', NULL, 'f', 1.5);
SELECT auth_kv_ttl('frac');

-- delete_if_value: only a live exact match is deleted
SELECT auth_kv_set('lock', 'owner-1', 30);
SELECT auth_kv_delete_if_value('lock', 'owner-2') AS other_owner;
SELECT auth_kv_delete_if_value('lock', 'OWNER-1') AS case_differs;
SELECT auth_kv_get('lock');
SELECT auth_kv_delete_if_value('lock', 'owner-1') AS owner;
SELECT auth_kv_get('lock') IS NULL AS lock_gone;
SELECT auth_kv_delete_if_value('lock', 'owner-1') AS again;
-- expected NULL means "must be absent": nothing to delete, false, both for
-- an absent and a live key (RustAuth's delete_if_value(key, None))
SELECT auth_kv_delete_if_value('lock', NULL) AS null_on_absent;
SELECT auth_kv_set('lock', 'owner-3');
SELECT auth_kv_delete_if_value('lock', NULL) AS null_on_live;
SELECT auth_kv_get('lock');

-- large values (compressed in line, and stored out of line) compare in full
SELECT auth_kv_set('big', repeat('a', 500000));
SELECT auth_kv_compare_and_set('big', repeat('a', 499999) || 'b', 'x') AS big_last_byte_differs;
SELECT auth_kv_compare_and_set('big', repeat('a', 500000), repeat('b', 500000)) AS big_matched;
SELECT length(auth_kv_get('big')), left(auth_kv_get('big'), 3);
SELECT auth_kv_delete_if_value('big', repeat('b', 499999)) AS big_shorter;
SELECT auth_kv_delete_if_value('big', repeat('b', 500000)) AS big_deleted;
SELECT auth_kv_set('rnd', string_agg(md5(i::text), '')) FROM generate_series(1, 200) i;
SELECT auth_kv_compare_and_set('rnd', (SELECT string_agg(md5(i::text), '') FROM generate_series(1, 200) i), 'small') AS external_matched;
SELECT auth_kv_get('rnd');

-- the comparison is bytewise, whatever the collation of the argument
SELECT auth_kv_set('coll', 'Straße');
SELECT auth_kv_compare_and_set('coll', 'Strasse', 'x') AS not_equal_bytewise;
SELECT auth_kv_compare_and_set('coll', 'Straße' COLLATE "C", 'x') AS equal;
SELECT auth_kv_get('coll');

-- inside a transaction: the change is the transaction's, a rollback undoes it
SELECT auth_kv_set('tx', 'a');
BEGIN;
SELECT auth_kv_compare_and_set('tx', 'a', 'b') AS in_tx;
SELECT auth_kv_compare_and_set('tx', 'a', 'c') AS sees_own_change;
SELECT auth_kv_get('tx');
ROLLBACK;
SELECT auth_kv_get('tx');
-- in REPEATABLE READ (the statement path decides), same results
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT auth_kv_compare_and_set('tx', 'a', 'b') AS rr_cas;
SELECT auth_kv_delete_if_value('tx', 'a') AS rr_stale_delete;
SELECT auth_kv_delete_if_value('tx', 'b') AS rr_delete;
COMMIT;
SELECT auth_kv_get('tx') IS NULL AS tx_gone;

-- bad input: a clear error, the key keeps its value and TTL
SELECT auth_kv_set('keep', 'original', 100);
SELECT q, pg_temp.try(q) AS result FROM (VALUES
	($$SELECT auth_kv_compare_and_set(NULL, 'original', 'v')$$),
	($$SELECT auth_kv_compare_and_set('', 'original', 'v')$$),
	($$SELECT auth_kv_compare_and_set(repeat('k', 1025), NULL, 'v')$$),
	($$SELECT auth_kv_compare_and_set('keep', 'original', NULL)$$),
	($$SELECT auth_kv_compare_and_set('keep', NULL, NULL)$$),
	($$SELECT auth_kv_compare_and_set('keep', 'original', 'v', -1)$$),
	($$SELECT auth_kv_compare_and_set('keep', 'original', 'v', -0.000001)$$),
	($$SELECT auth_kv_compare_and_set('keep', 'original', 'v', 'NaN')$$),
	($$SELECT auth_kv_compare_and_set('keep', 'original', 'v', 'Infinity')$$),
	($$SELECT auth_kv_compare_and_set('keep', 'original', 'v', '-Infinity')$$),
	($$SELECT auth_kv_compare_and_set('keep', 'original', 'v', 10000000001)$$),
	($$SELECT auth_kv_compare_and_set('keep', NULL, 'v', -1)$$),
	($$SELECT auth_kv_delete_if_value(NULL, 'original')$$),
	($$SELECT auth_kv_delete_if_value('', 'original')$$),
	($$SELECT auth_kv_delete_if_value(repeat('k', 1025), 'original')$$)
) AS t(q);
SET authstore.max_value_bytes = 8;
SELECT pg_temp.try($$SELECT auth_kv_compare_and_set('keep', 'original', 'too long a value')$$) AS value_too_long;
-- an expected value longer than the limit is only compared, never stored
SELECT auth_kv_compare_and_set('keep', 'no such long value', 'short') AS long_expected;
RESET authstore.max_value_bytes;
SELECT auth_kv_get('keep'), auth_kv_ttl('keep');

-- error messages never contain the key or the values
SELECT pg_temp.try($$SELECT auth_kv_compare_and_set('secret-key', 'secret-old', 'secret-new', 'NaN')$$)
       LIKE '%secret%' AS leaks;

SELECT auth_kv_clear('');
