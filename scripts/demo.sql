-- authstore demo, run by scripts/sandbox.sh as the unprivileged role demo_app
-- (a member of authstore_user).  Safe to run again: it first removes what a
-- previous run left under the "demo:" prefix and resets its rate-limit key.
\set ON_ERROR_STOP 1
\set QUIET 1
\pset null '(null)'
\pset footer off
\set ECHO queries

SELECT auth_kv_clear('demo:') AS cleared_from_last_run,
       auth_rl_reset('login:ip:203.0.113.7') AS rate_limit_reset,
       auth_token_revoke('demo:u_42') AS tokens_revoked;

\echo '== Session data with a TTL (Better Auth secondaryStorage.set / get)'
SELECT auth_kv_set('demo:session:abc123', '{"userId":"u_42"}', 3600);
SELECT auth_kv_get('demo:session:abc123');
SELECT round(auth_kv_ttl('demo:session:abc123')) AS ttl_seconds;

\echo '== One-time value: take is an atomic GETDEL, the second take gets NULL'
SELECT auth_kv_set('demo:verify:xyz', 'user@example.com', 600);
SELECT auth_kv_take('demo:verify:xyz') AS first_take;
SELECT auth_kv_take('demo:verify:xyz') AS second_take;

\echo '== SET NX: only the first caller gets the lock'
SELECT auth_kv_set_if_not_exists('demo:lock:job', 'worker-1', 30) AS first_try;
SELECT auth_kv_set_if_not_exists('demo:lock:job', 'worker-2', 30) AS second_try;

\echo '== Counter: INCR, the TTL is set by the first increment only'
SELECT auth_kv_incr('demo:counter', 60) AS first;
SELECT auth_kv_incr('demo:counter', 60) AS second;
SELECT round(auth_kv_ttl('demo:counter')) AS ttl_seconds;

\echo '== Live keys under a prefix'
SELECT * FROM auth_kv_keys('demo:');

\echo '== Rate limit: at most 3 hits per 60 s window, the 4th is denied'
SELECT * FROM auth_rl_hit('login:ip:203.0.113.7', 60, 3);
SELECT * FROM auth_rl_hit('login:ip:203.0.113.7', 60, 3);
SELECT * FROM auth_rl_hit('login:ip:203.0.113.7', 60, 3);
SELECT * FROM auth_rl_hit('login:ip:203.0.113.7', 60, 3);

\echo '== One-time token: only its SHA-256 is stored; it can be consumed once'
SELECT auth_token_issue('demo:u_42', 'password-reset', 3600) AS token \gset
SELECT length(:'token') AS token_chars;
SELECT auth_token_verify(:'token', 'email-verify') AS wrong_purpose;
SELECT auth_token_consume(:'token', 'password-reset') AS first_consume;
SELECT auth_token_consume(:'token', 'password-reset') AS second_consume;

\echo '== Least privilege: demo_app can call the API but not read the tables or sweep'
SELECT current_user,
       has_schema_privilege('authstore', 'USAGE') AS can_use_storage_schema,
       has_function_privilege('auth_kv_sweep(integer)', 'EXECUTE') AS can_sweep;
