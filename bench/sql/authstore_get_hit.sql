-- GET of a live key (100,000 preloaded sessions, ~200-byte JSON, TTL 1 day)
\set k random(1, 100000)
SELECT auth_kv_get('sess:' || :k);
