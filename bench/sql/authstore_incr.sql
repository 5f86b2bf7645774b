-- INCR + EXPIRE NX 60 over 100,000 counters
\set k random(1, 100000)
SELECT auth_kv_incr('ctr:' || :k, 60);
