-- issue+consume pair (2 calls, 2 round trips): consume always finds a live token
\set k random(1, 100000)
SELECT peer.token_issue('user:' || :k, 'email-verification', 600) AS tok \gset
SELECT peer.token_consume(:tok, 'email-verification');
