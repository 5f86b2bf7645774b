-- set+delete pair (2 calls, 2 round trips): store a value, then DEL it, so
-- that every delete removes a live key.
\set k random(1, 100000)
SELECT peer.kv_set('del:' || :k, :val, 600);
SELECT peer.kv_delete('del:' || :k);
