-- rate-limit hit (window 60 s, max 100) on one of 100,000 client keys
\set k random(1, 100000)
SELECT * FROM auth_rl_hit('rl:' || :k, 60, 100);
