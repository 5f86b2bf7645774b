-- rate-limit hit (window 60 s, max 100) on ONE key shared by every client:
-- after the first 100 hits of a window every hit is denied.
SELECT * FROM peer.rl_hit('rl:' || 'hot', 60, 100);
