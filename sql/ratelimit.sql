-- ratelimit: auth_rl_hit follows Better Auth 1.7's consume step for step.
--   no state -> count 1; elapsed >= window -> reset to 1;
--   count >= max -> denied, state unchanged, retry_after = last + window - now;
--   else count + 1.  last is the time of the latest allowed hit.
SET authstore.test_clock = 4102444800;

SELECT * FROM auth_rl_hit('ip:1', 10, 3);
SELECT * FROM auth_rl_hit('ip:1', 10, 3);
SELECT * FROM auth_rl_hit('ip:1', 10, 3);
SELECT * FROM auth_rl_hit('ip:1', 10, 3);
SET authstore.test_clock = 4102444804;
SELECT * FROM auth_rl_hit('ip:1', 10, 3);
-- one microsecond before the window ends: still denied
SET authstore.test_clock = 4102444809.999999;
SELECT allowed, count, remaining, round(retry_after::numeric, 6) AS retry_after
  FROM auth_rl_hit('ip:1', 10, 3);
-- exactly at the window boundary (elapsed = window): reset (1.7 semantics)
SET authstore.test_clock = 4102444810;
SELECT * FROM auth_rl_hit('ip:1', 10, 3);

-- last moves with every allowed hit, so retry_after counts from the latest one
SET authstore.test_clock = 4102444900;
SELECT * FROM auth_rl_hit('ip:2', 10, 3);
SET authstore.test_clock = 4102444904;
SELECT * FROM auth_rl_hit('ip:2', 10, 3);
SET authstore.test_clock = 4102444908;
SELECT * FROM auth_rl_hit('ip:2', 10, 3);
SET authstore.test_clock = 4102444909;
SELECT * FROM auth_rl_hit('ip:2', 10, 3);
-- a denied hit changed nothing: the state still dates from 904+4 = 908
SELECT hits, last_hit = to_timestamp(4102444908) AS last_is_908
  FROM authstore.rate_limit WHERE key = 'ip:2';
SET authstore.test_clock = 4102444918;
SELECT * FROM auth_rl_hit('ip:2', 10, 3);

-- max = 1, and a larger max for the same key lets more hits through
SET authstore.test_clock = 4102445000;
SELECT * FROM auth_rl_hit('ip:3', 60, 1);
SELECT * FROM auth_rl_hit('ip:3', 60, 1);
SELECT * FROM auth_rl_hit('ip:3', 60, 2);
SELECT * FROM auth_rl_hit('ip:3', 60, 2);

-- fractional windows
SELECT * FROM auth_rl_hit('frac', 0.5, 1);
SELECT * FROM auth_rl_hit('frac', 0.5, 1);
SET authstore.test_clock = 4102445000.5;
SELECT * FROM auth_rl_hit('frac', 0.5, 1);

-- keys are independent, and independent of key-value keys
SELECT auth_kv_set('ip:4', 'a kv value');
SELECT * FROM auth_rl_hit('ip:4', 60, 1);
SELECT auth_kv_get('ip:4');

-- reset: true when the state was still in effect; the next hit starts over
SELECT auth_rl_reset('ip:3') AS reset_active, auth_rl_reset('ip:3') AS reset_again;
SELECT * FROM auth_rl_hit('ip:3', 60, 1);
SELECT auth_rl_reset('never') AS reset_missing;
-- idle state (window over) counts as no state
SET authstore.test_clock = 4102446000;
SELECT auth_rl_reset('ip:4') AS reset_idle;

-- the composite trap: (f()).* calls the function once per output column,
-- so it counts four hits.  Always call it as SELECT * FROM auth_rl_hit(...).
SELECT (auth_rl_hit('trap', 60, 100)).*;
SELECT count FROM auth_rl_hit('trap', 60, 100);

-- rate limiting follows the wall clock, even inside one transaction
RESET authstore.test_clock;
-- (with now() the second hit would see elapsed = 0 and be denied)
BEGIN;
SELECT allowed, count FROM auth_rl_hit('wall', 0.05, 1);
SELECT pg_sleep(0.1);
SELECT allowed, count FROM auth_rl_hit('wall', 0.05, 1);
COMMIT;

DELETE FROM authstore.rate_limit;
SELECT auth_kv_clear('');
