-- issue a one-time token (TTL 600 s); issued tokens accumulate in the table
\set k random(1, 100000)
SELECT peer.token_issue('user:' || :k, 'email-verification', 600);
