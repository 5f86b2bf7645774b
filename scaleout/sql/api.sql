-- scaleout/sql/api.sql: every API function once or more, run by test.sh both
-- on one node directly and through the proxy; the two outputs must be equal.
-- Errors print as SQLSTATE only (PL/Proxy prefixes the node's message with
-- the function and "REMOTE ERROR:", and keeps the SQLSTATE).  Tokens are
-- never printed (the proxy's carry the partition prefix).  Keys spread over
-- every partition, so that keys/clear merge rows of several nodes.
SET client_min_messages = warning;
\set VERBOSITY sqlstate
SELECT auth_kv_clear('');
SELECT count(auth_kv_set('k:' || lpad(i::text, 3, '0'), 'v' || i)) FROM generate_series(1, 200) i;
SELECT auth_kv_get('k:007'), auth_kv_get('k:999') IS NULL AS missing;
SELECT auth_kv_take('k:008'), auth_kv_take('k:008') IS NULL AS taken_once;
SELECT auth_kv_set_if_not_exists('nx', 'a', 100), auth_kv_set_if_not_exists('nx', 'b', 100), auth_kv_get('nx');
SELECT auth_kv_delete('nx'), auth_kv_delete('nx');
SELECT auth_kv_incr('c'), auth_kv_incr('c', 100), round(auth_kv_ttl('c')), auth_kv_incr('c');
SELECT auth_kv_ttl('k:001'), auth_kv_ttl('nokey') IS NULL AS absent;
SELECT auth_kv_expire('k:001', 50), round(auth_kv_ttl('k:001')), auth_kv_expire('nokey', 5);
SELECT auth_kv_set('short', 'x', 0.2);
SELECT pg_sleep(0.4);
SELECT auth_kv_get('short') IS NULL AS expired;
SELECT auth_kv_compare_and_set('cas', NULL, 'v1'), auth_kv_compare_and_set('cas', NULL, 'v2'),
       auth_kv_compare_and_set('cas', 'v1', 'v3'), auth_kv_get('cas');
SELECT auth_kv_delete_if_value('cas', 'v1'), auth_kv_delete_if_value('cas', 'v3'), auth_kv_get('cas') IS NULL;
-- keys with an owner: 40 keys spread over every partition, listed in key
-- order and deleted by owner
SELECT count(auth_kv_set_owned('s:' || lpad(i::text, 2, '0'), 'v', 'user:' || (i % 2), 100)) FROM generate_series(1, 40) i;
SELECT auth_kv_set_owned('s:nottl', 'v', 'user:9'), auth_kv_set_owned('s:none', 'v', NULL, 100);
SELECT count(*), min(key), max(key), bool_and(expires_at IS NOT NULL) FROM auth_kv_owner_keys('user:1');
SELECT string_agg(key, ',') FROM auth_kv_owner_keys('user:0') WHERE key < 's:11';
SELECT key, expires_at FROM auth_kv_owner_keys('user:9');
SELECT auth_kv_owner_delete('user:1'), auth_kv_owner_delete('user:1'), auth_kv_get('s:01') IS NULL, auth_kv_get('s:02');
SELECT auth_kv_owner_delete('user:0') + auth_kv_owner_delete('user:9'), auth_kv_get('s:none');
-- keys: ordered bytewise, whole and paged
SELECT count(*), min(k), max(k) FROM auth_kv_keys() AS k;
SELECT * FROM auth_kv_keys('k:01');
SELECT * FROM auth_kv_keys('k:', 'k:150', 5);
SELECT * FROM auth_kv_keys('k:', NULL, 3);
SELECT count(*) FROM auth_kv_keys('k:', 'k:100', NULL);
SELECT count(*) FROM auth_kv_keys('k:', 'k:199', 10);
SELECT count(*) FROM auth_kv_keys('k:', NULL, 0);
-- paging through everything in pages of 7 gives every key once, in order
WITH RECURSIVE page(n, last) AS (
	SELECT 0, NULL::text
	UNION ALL
	SELECT p.n + 1, (SELECT max(k) FROM auth_kv_keys('k:', p.last, 7) AS k)
	  FROM page p WHERE p.n = 0 OR p.last IS NOT NULL
)
SELECT count(*) - 2 AS full_pages_and_last FROM page;
SELECT auth_kv_clear('k:1'), count(*) FROM auth_kv_keys('k:') AS k;
-- non-ASCII keys in bytewise order
SELECT auth_kv_set(k, 'x') FROM (VALUES ('é'), ('z'), ('Z'), ('ü')) v(k);
SELECT k FROM auth_kv_keys('') AS k WHERE k !~ '^[kcs]';
-- rate limiter
SELECT allowed, count, remaining FROM auth_rl_hit('rl', 100, 2);
SELECT allowed, count, remaining FROM auth_rl_hit('rl', 100, 2);
SELECT allowed, count, remaining, retry_after > 0 AS wait FROM auth_rl_hit('rl', 100, 2);
SELECT auth_rl_reset('rl'), auth_rl_reset('rl');
SELECT allowed, count FROM auth_rl_hit('rl', 100, 2);
-- tokens
SELECT auth_token_issue('user:1', 'reset', 600) AS t1 \gset
SELECT auth_token_issue('user:1', 'verify', 600) AS t2 \gset
SELECT auth_token_issue('user:2', 'reset', 600) AS t3 \gset
SELECT auth_token_verify(:'t1', 'reset'), auth_token_verify(:'t1', 'verify') IS NULL AS wrong_purpose;
SELECT auth_token_consume(:'t1', 'reset'), auth_token_consume(:'t1', 'reset') IS NULL AS once;
SELECT auth_token_verify(NULL, 'reset') IS NULL, auth_token_verify('', 'reset') IS NULL,
       auth_token_verify('x', 'reset') IS NULL, auth_token_verify(left(:'t3', -1), 'reset') IS NULL;
SELECT auth_token_revoke('user:1', 'reset'), auth_token_revoke('user:1'), auth_token_verify(:'t2', 'verify') IS NULL;
SELECT auth_token_verify(:'t3', 'reset'), auth_token_revoke('user:2'), auth_token_consume(:'t3', 'reset') IS NULL;
-- bad input: the node's SQLSTATE
SELECT auth_kv_set('s', 'abc');
SELECT auth_kv_incr('s');
SELECT auth_kv_set(NULL, 'x');
SELECT auth_kv_set('x', 'y', 'NaN');
SELECT auth_kv_expire('x', -1);
SELECT * FROM auth_rl_hit('r', -1, 2);
SELECT * FROM auth_rl_hit('r', 1, -2);
SELECT * FROM auth_kv_keys('k', NULL, -1);
SELECT * FROM auth_kv_keys(NULL);
SELECT auth_kv_set_owned('k', 'v', '', 1);
SELECT auth_kv_clear(NULL);
SELECT auth_token_issue('u', 'p', -1);
SELECT auth_token_issue(NULL, 'p', 10);
SELECT auth_token_verify('x', NULL);
SELECT auth_token_revoke(NULL);
SELECT auth_kv_clear('');
