-- GET of a key that was never set
\set k random(1, 100000)
SELECT peer.kv_get('nokey:' || :k);
