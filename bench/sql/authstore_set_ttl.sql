-- SET EX 3600 of one of the preloaded sessions (an update of a live key)
\set k random(1, 100000)
SELECT auth_kv_set('sess:' || :k, :val, 3600);
