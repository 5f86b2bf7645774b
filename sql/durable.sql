-- durable: auth_set_durable switches the storage tables (and their indexes
-- and TOAST tables) between UNLOGGED and LOGGED, keeping their contents.
-- That a logged table survives a crash is shown by the TAP crash test.
SET authstore.test_clock = 4102444800;
SELECT auth_kv_set('kept', 'v', 100);
SELECT count(*) FROM auth_rl_hit('kept', 60, 5);
SELECT auth_token_issue('u', 'reset', 60) AS tok \gset

-- authstore.confinement is configuration, always logged: not counted here
CREATE TEMP VIEW persistence AS
SELECT c.relname, c.relpersistence
  FROM pg_class c
 WHERE (c.relnamespace = 'authstore'::regnamespace
        AND c.relname !~ '^confinement')
    OR c.oid IN (SELECT reltoastrelid FROM pg_class
                  WHERE relnamespace = 'authstore'::regnamespace
                    AND relname !~ '^confinement')
 ORDER BY c.relkind, c.relname ~ '^pg_toast', c.relname;

SELECT relpersistence, count(*) FROM persistence GROUP BY 1;
SELECT auth_set_durable(true);
SELECT relpersistence, count(*) FROM persistence GROUP BY 1;
SELECT auth_kv_get('kept'), auth_kv_ttl('kept');
SELECT auth_token_verify(:'tok', 'reset');
SELECT * FROM auth_rl_hit('kept', 60, 5);
-- switching to the state the tables are in already is harmless
SELECT auth_set_durable(true);
SELECT auth_set_durable(false);
SELECT relpersistence, count(*) FROM persistence GROUP BY 1;
SELECT auth_kv_get('kept');
SELECT auth_set_durable(NULL);

SELECT auth_kv_clear('');
DELETE FROM authstore.rate_limit;
DELETE FROM authstore.token;
