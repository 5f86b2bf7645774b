-- set+take pair (2 calls, 2 round trips): store a one-time value, then GETDEL
-- it, so that every take hits a live key.
\set k random(1, 100000)
SELECT auth_kv_set('otp:' || :k, :val, 600);
SELECT auth_kv_take('otp:' || :k);
