-- SET NX EX 5 over 100,000 lock keys: succeeds when the key is absent or expired
\set k random(1, 100000)
SELECT auth_kv_set_if_not_exists('lock:' || :k, :val, 5);
