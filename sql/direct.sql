-- direct: the functions change existing rows without the executor
-- (src/direct.c).  They must keep every index complete, see their own
-- earlier changes within one statement, and step aside for the SQL
-- statements when the table is no longer as the install script made it.
-- test/run.sh runs this file with authstore.direct_access on and off: both
-- must give this output.
SET authstore.test_clock = 4102444800;
SELECT auth_kv_clear('');
DELETE FROM authstore.rate_limit;
DELETE FROM authstore.token;

-- One statement, several calls: each sees the ones before it.
SELECT auth_kv_set('a', '1', 60) AS set,
	   auth_kv_get('a') AS got,
	   auth_kv_incr('a') AS incr,
	   auth_kv_take('a') AS took,
	   auth_kv_get('a') AS after_take;
SELECT (auth_rl_hit('s', 60, 2)).count AS first,
	   (auth_rl_hit('s', 60, 2)).count AS second,
	   (auth_rl_hit('s', 60, 2)).allowed AS third_allowed;
-- a denied hit writes no new row version
SELECT xmin AS s_xmin FROM authstore.rate_limit WHERE key = 's' \gset
SELECT allowed FROM auth_rl_hit('s', 60, 2);
SELECT xmin = :'s_xmin'::xid AS denied_hit_wrote_nothing
  FROM authstore.rate_limit WHERE key = 's';
-- ... and within a transaction, across statements and a savepoint.
BEGIN;
SELECT auth_kv_set('b', 'one', 60);
SELECT auth_kv_set('b', 'two');
SAVEPOINT sp;
SELECT auth_kv_set('b', 'three', 5);
ROLLBACK TO sp;
SELECT auth_kv_get('b') AS b, auth_kv_ttl('b') AS ttl;
COMMIT;

-- Updates that change indexed columns (value size, TTL on and off, back to
-- no TTL) must leave each index with exactly one entry per live row
-- version; amcheck's heapallindexed check compares index and heap.  A DBA's
-- partial index on expires_at (the install script has none, so that sets
-- can be HOT updates) is maintained with its predicate.
CREATE EXTENSION amcheck;
CREATE INDEX kv_ttl_idx ON authstore.kv (expires_at) WHERE expires_at IS NOT NULL;
DO $$
BEGIN
	PERFORM auth_kv_set('k' || i, repeat('x', i), 10 * i) FROM generate_series(1, 200) AS i;
	PERFORM auth_kv_set('k' || i, 'y', CASE WHEN i % 2 = 0 THEN NULL ELSE 30 END)
	   FROM generate_series(1, 200) AS i;
	PERFORM auth_kv_expire('k' || i, NULL) FROM generate_series(1, 200, 3) AS i;
	PERFORM auth_kv_incr('n') FROM generate_series(1, 50);
END $$;
SELECT auth_kv_get('n') AS n;
SELECT h.allowed, count(*)
  FROM generate_series(1, 200) AS i, auth_rl_hit('r' || i % 7, 60, 3) AS h
 GROUP BY h.allowed ORDER BY h.allowed;
SELECT c.relname, bt_index_check(c.oid, true)
  FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
 WHERE i.indrelid IN ('authstore.kv'::regclass, 'authstore.rate_limit'::regclass,
					  'authstore.token'::regclass)
 ORDER BY c.relname;
SELECT count(*) FILTER (WHERE expires_at IS NULL) AS no_ttl,
	   count(*) FILTER (WHERE expires_at IS NOT NULL) AS ttl
  FROM authstore.kv WHERE key LIKE 'k%';
-- the partial index finds exactly the rows with a TTL
SET enable_seqscan = off;
SET enable_bitmapscan = off;
EXPLAIN (COSTS OFF) SELECT count(*) FROM authstore.kv WHERE expires_at IS NOT NULL;
SELECT count(*) FROM authstore.kv WHERE expires_at IS NOT NULL;
RESET enable_seqscan;
RESET enable_bitmapscan;

-- A value stored out of line (TOAST) survives an update that keeps it
-- (expire) and one that replaces it (set); a replaced or taken value leaves
-- no live chunk behind in the TOAST table.
SELECT reltoastrelid::regclass AS kv_toast FROM pg_class
 WHERE oid = 'authstore.kv'::regclass \gset
SELECT auth_kv_set('big', string_agg(md5(i::text), '') , 60) FROM generate_series(1, 5000) AS i;
SELECT auth_kv_expire('big', 120);
SELECT md5(auth_kv_get('big')) = md5(string_agg(md5(i::text), '')) AS same_after_expire,
	   length(auth_kv_get('big')) AS len
  FROM generate_series(1, 5000) AS i;
SELECT count(DISTINCT chunk_id) AS out_of_line FROM :kv_toast;
SELECT auth_kv_set('big', string_agg(md5((i + 1)::text), ''), 60) FROM generate_series(1, 5000) AS i;
SELECT count(DISTINCT chunk_id) AS out_of_line FROM :kv_toast;
SELECT md5(auth_kv_take('big')) = md5(string_agg(md5((i + 1)::text), '')) AS same_after_set
  FROM generate_series(1, 5000) AS i;
SELECT count(DISTINCT chunk_id) AS out_of_line FROM :kv_toast;

-- A DBA's index on the table is maintained too: a plain column ...
CREATE INDEX kv_value_idx ON authstore.kv (value);
SELECT auth_kv_set('k1', 'indexed-by-dba');
SET enable_seqscan = off;
SET enable_bitmapscan = off;
SELECT key FROM authstore.kv WHERE value = 'indexed-by-dba';
-- ... and an expression, which the direct path cannot compute: the
-- functions use their statements, which do.
CREATE INDEX kv_lower_idx ON authstore.kv (lower(value));
SELECT auth_kv_set('k2', 'MiXeD');
SELECT auth_kv_incr('n') AS n;
SELECT key FROM authstore.kv WHERE lower(value) = 'mixed';
RESET enable_seqscan;
RESET enable_bitmapscan;
SELECT c.relname, bt_index_check(c.oid, true)
  FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
 WHERE i.indrelid = 'authstore.kv'::regclass
 ORDER BY c.relname;
DROP INDEX authstore.kv_value_idx, authstore.kv_lower_idx, authstore.kv_ttl_idx;

-- A trigger on the table: the statements fire it, so must the functions.
CREATE FUNCTION pg_temp.kv_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	RAISE NOTICE '% of %', TG_OP, coalesce(NEW.key, OLD.key);
	RETURN coalesce(NEW, OLD);
END $$;
CREATE TRIGGER kv_audit BEFORE UPDATE OR DELETE ON authstore.kv
	FOR EACH ROW EXECUTE FUNCTION pg_temp.kv_trigger();
SELECT auth_kv_set('k3', 'v');
SELECT auth_kv_take('k3') AS took;
DROP TRIGGER kv_audit ON authstore.kv;
-- and once it is gone, no notice
SELECT auth_kv_set('k4', 'v');

-- A NOT NULL a DBA adds to expires_at: a key without TTL is refused, by an
-- update (nn1 exists) and by a new row (nn2) alike, and nothing changes.
DELETE FROM authstore.kv WHERE expires_at IS NULL;
SELECT auth_kv_set('nn1', 'ttl', 60);
ALTER TABLE authstore.kv ALTER COLUMN expires_at SET NOT NULL;
\set VERBOSITY terse
SELECT auth_kv_set('nn1', 'no ttl');
SELECT auth_kv_set('nn2', 'no ttl');
\set VERBOSITY default
SELECT auth_kv_get('nn1') AS nn1, auth_kv_get('nn2') AS nn2;
ALTER TABLE authstore.kv ALTER COLUMN expires_at DROP NOT NULL;

-- A rule on the table: the statements refuse it (ON CONFLICT cannot be used
-- with UPDATE rules), and the direct path steps aside for them.
CREATE RULE kv_notify AS ON UPDATE TO authstore.kv DO ALSO NOTIFY kv_changed;
\set VERBOSITY terse
SELECT auth_kv_set('nn1', 'with a rule', 60);
\set VERBOSITY default
SELECT auth_kv_get('nn1') AS nn1;
DROP RULE kv_notify ON authstore.kv;

-- An identity column a DBA makes of rate_limit.hits: the statements refuse
-- to write it, and the direct path steps aside for them.
ALTER TABLE authstore.rate_limit ALTER COLUMN hits ADD GENERATED ALWAYS AS IDENTITY;
\set VERBOSITY terse
SELECT allowed FROM auth_rl_hit('s', 60, 2);
SELECT allowed FROM auth_rl_hit('identity', 60, 2);
\set VERBOSITY default
ALTER TABLE authstore.rate_limit ALTER COLUMN hits DROP IDENTITY;

-- A new key is one insert, not a speculative insertion taken back and redone
-- by the statement (that would count one more insert and a delete).  The
-- view also holds counts of earlier transactions not yet reported, but none
-- are reported within a transaction block: count from a baseline.
BEGIN;
CREATE TEMP TABLE counts_before AS
SELECT relname, n_tup_ins, n_tup_del FROM pg_stat_xact_user_tables
 WHERE schemaname = 'authstore';
SELECT auth_kv_set('fresh1', 'v', 60), auth_kv_set_if_not_exists('fresh2', 'v', 60),
	   auth_kv_incr('fresh3') AS incr;
SELECT allowed FROM auth_rl_hit('fresh4', 60, 3);
SELECT auth_token_issue('fresh5', 'p', 60) IS NOT NULL AS issued;
SELECT s.relname, s.n_tup_ins - b.n_tup_ins AS inserts, s.n_tup_del - b.n_tup_del AS deletes
  FROM pg_stat_xact_user_tables s JOIN counts_before b USING (relname)
 WHERE s.schemaname = 'authstore' AND s.relname <> 'confinement'
 ORDER BY s.relname;
COMMIT;

-- A new row rolled back to a savepoint is gone, and the key can be set again.
BEGIN;
SAVEPOINT a;
SELECT auth_kv_set('fresh6', 'one', 60);
ROLLBACK TO a;
SELECT auth_kv_get('fresh6') AS after_rollback;
SELECT auth_kv_set_if_not_exists('fresh6', 'two', 60) AS stored;
COMMIT;
SELECT auth_kv_get('fresh6') AS fresh6;

-- Many new rows, each inserted by a function, and a plain insert of tokens
-- that the subject index must find.
DO $$
BEGIN
	PERFORM auth_kv_set_if_not_exists('nx' || i, 'v', 60) FROM generate_series(1, 300) AS i;
	PERFORM auth_kv_incr('ctr' || i) FROM generate_series(1, 300) AS i;
	PERFORM auth_rl_hit('new' || i, 60, 3) FROM generate_series(1, 300) AS i;
	PERFORM auth_token_issue('subject' || i % 10, 'p', 60) FROM generate_series(1, 300) AS i;
END $$;
SELECT count(*) FILTER (WHERE key LIKE 'nx%') AS nx,
	   count(*) FILTER (WHERE key LIKE 'ctr%' AND value = '1') AS ctr
  FROM authstore.kv;
SELECT count(*) AS rl FROM authstore.rate_limit WHERE key LIKE 'new%' AND hits = 1;
SET enable_seqscan = off;
SET enable_bitmapscan = off;
SELECT count(*) AS subject3 FROM authstore.token WHERE subject = 'subject3' AND purpose = 'p';
RESET enable_seqscan;
RESET enable_bitmapscan;
SELECT auth_token_revoke('subject3') AS revoked;

SELECT c.relname, bt_index_check(c.oid, true)
  FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
 WHERE i.indrelid IN ('authstore.kv'::regclass, 'authstore.rate_limit'::regclass,
					  'authstore.token'::regclass)
 ORDER BY c.relname;
DROP EXTENSION amcheck;
SELECT auth_kv_clear('');
DELETE FROM authstore.rate_limit;
DELETE FROM authstore.token;
