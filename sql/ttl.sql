-- ttl: expiry semantics at and around the boundaries, with a pinned clock.
-- A key is live while now < expires_at; an expired key is absent for every
-- function before the sweeper has removed it (lazy expiry).
SET authstore.test_clock = 4102444800;
SELECT auth_kv_clear('');

-- ttl > 0: live until exactly expires_at
SELECT auth_kv_set('t', 'v', 10);
SELECT auth_kv_ttl('t');
SET authstore.test_clock = 4102444809.5;
SELECT auth_kv_get('t'), auth_kv_ttl('t');
SET authstore.test_clock = 4102444810;
SELECT auth_kv_get('t') IS NULL AS expired_get, auth_kv_ttl('t') IS NULL AS expired_ttl;
-- not swept yet, yet absent to every function
SELECT count(*) AS row_still_there FROM authstore.kv WHERE key = 't';
SELECT * FROM auth_kv_keys('t');
SELECT auth_kv_delete('t') AS delete_expired;
SELECT auth_kv_expire('t', 100) AS expire_expired;
SELECT auth_kv_take('t') IS NULL AS take_expired;
-- take leaves an expired row to the sweeper
SELECT count(*) AS expired_row_left FROM authstore.kv WHERE key = 't';

-- ttl 0: the key ends up absent, and an existing value is removed
SET authstore.test_clock = 4102444800;
SELECT auth_kv_set('z', 'old');
SELECT auth_kv_set('z', 'new', 0);
SELECT auth_kv_get('z') IS NULL AS zero_ttl_absent;
SELECT count(*) AS zero_ttl_not_stored FROM authstore.kv WHERE key = 'z';

-- tiny TTLs: one microsecond is kept, less rounds to zero (absent)
SELECT auth_kv_set('tiny', 'v', 0.000001);
SELECT auth_kv_get('tiny'), auth_kv_ttl('tiny');
SET authstore.test_clock = 4102444800.000001;
SELECT auth_kv_get('tiny') IS NULL AS tiny_expired;
SET authstore.test_clock = 4102444800;
SELECT auth_kv_set('tinier', 'v', 0.0000001);
SELECT auth_kv_get('tinier') IS NULL AS sub_microsecond_absent;

-- NULL ttl clears an earlier TTL, like Redis SET
SELECT auth_kv_set('p', 'v', 5);
SELECT auth_kv_set('p', 'v2');
SELECT auth_kv_ttl('p');
SET authstore.test_clock = 4102444900;
SELECT auth_kv_get('p');
SET authstore.test_clock = 4102444800;

-- expire: new TTL, NULL removes it, 0 deletes, missing key -> false
SELECT auth_kv_set('e', 'v');
SELECT auth_kv_expire('e', 20), auth_kv_ttl('e');
SELECT auth_kv_expire('e', NULL), auth_kv_ttl('e');
SELECT auth_kv_expire('e', 0), auth_kv_get('e') IS NULL AS deleted;
SELECT auth_kv_expire('e', 5) AS expire_missing;

-- set_if_not_exists on an expired key stores and wins
SELECT auth_kv_set('nx', 'old', 1);
SELECT auth_kv_set_if_not_exists('nx', 'new', 10) AS live_key_kept;
SET authstore.test_clock = 4102444801;
SELECT auth_kv_set_if_not_exists('nx', 'new', 10) AS expired_key_replaced;
SELECT auth_kv_get('nx'), auth_kv_ttl('nx');

-- incr: the TTL is set on creation and never extended; an expired counter
-- starts again at 1 with the new TTL
SET authstore.test_clock = 4102444800;
SELECT auth_kv_incr('c', 60);
SET authstore.test_clock = 4102444830;
SELECT auth_kv_incr('c', 60), auth_kv_ttl('c');
SELECT auth_kv_incr('c'), auth_kv_ttl('c');
SET authstore.test_clock = 4102444860;
SELECT auth_kv_get('c') IS NULL AS counter_expired;
SELECT auth_kv_incr('c', 5), auth_kv_ttl('c');
-- incr with TTL 0 returns 1 and leaves the key absent (INCR then EXPIRE 0)
SELECT auth_kv_incr('c0', 0), auth_kv_get('c0') IS NULL AS c0_absent;
-- a counter without TTL keeps none
SELECT auth_kv_incr('cn'), auth_kv_ttl('cn');

-- expiry follows the wall clock at the call, not the transaction start:
-- inside one transaction, now() stands still but keys still expire.
RESET authstore.test_clock;
BEGIN;
SELECT auth_kv_set('wall', 'v', 0.05);
SELECT pg_sleep(0.1);
SELECT auth_kv_get('wall') IS NULL AS expired_within_transaction;
COMMIT;
SELECT auth_kv_clear('');
