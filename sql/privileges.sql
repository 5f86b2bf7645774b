-- privileges: PUBLIC can do nothing; "GRANT authstore_user TO app" gives an
-- application every function except the maintenance sweep, and no direct
-- access to the tables or the superuser-only settings.
SET authstore.test_clock = 4102444800;
SELECT auth_kv_clear('');
CREATE ROLE regress_authstore_app LOGIN;
CREATE ROLE regress_authstore_nobody LOGIN;
GRANT authstore_user TO regress_authstore_app;

-- who may execute what: no function is executable by PUBLIC
SELECT p.oid::regprocedure AS function,
       has_function_privilege('regress_authstore_nobody', p.oid, 'EXECUTE') AS nobody,
       has_function_privilege('authstore_user', p.oid, 'EXECUTE') AS authstore_user,
       has_function_privilege('pg_monitor', p.oid, 'EXECUTE') AS pg_monitor
  FROM pg_proc p
  JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
 WHERE d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'authstore')
 ORDER BY p.oid::regprocedure::text COLLATE "C";
-- the statistics view: counts only, for monitoring roles
SELECT has_table_privilege('regress_authstore_nobody', 'auth_stats', 'SELECT') AS nobody,
       has_table_privilege('authstore_user', 'auth_stats', 'SELECT') AS authstore_user,
       has_table_privilege('pg_monitor', 'auth_stats', 'SELECT') AS pg_monitor;
SELECT rolcanlogin, rolsuper FROM pg_roles WHERE rolname = 'authstore_user';

-- a role without the grant can call nothing and read nothing
SET ROLE regress_authstore_nobody;
SELECT auth_kv_set('k', 'v');
SELECT auth_kv_get('k');
SELECT * FROM auth_rl_hit('k', 60, 1);
SELECT * FROM authstore.kv;
RESET ROLE;

-- the application role can use every function
SET ROLE regress_authstore_app;
SELECT auth_kv_set('k', 'v', 60);
SELECT auth_kv_get('k'), auth_kv_ttl('k');
SELECT auth_kv_set_if_not_exists('nx', 'v');
SELECT auth_kv_incr('n');
SELECT auth_kv_expire('k', 120);
SELECT * FROM auth_kv_keys();
SELECT auth_kv_take('k');
SELECT auth_kv_delete('nx');
SELECT auth_kv_compare_and_set('cas', NULL, 'v');
SELECT auth_kv_delete_if_value('cas', 'v');
SELECT * FROM auth_rl_hit('rl', 60, 1);
SELECT auth_rl_reset('rl');
SELECT auth_token_issue('u', 'reset', 60) AS tok \gset
SELECT auth_token_verify(:'tok', 'reset'), auth_token_consume(:'tok', 'reset');
SELECT auth_token_issue('u', 'reset', 60) IS NOT NULL AS issued;
SELECT auth_token_revoke('u');
SELECT auth_kv_clear('');
-- ... but not the tables, the sweep, the internal helper or the settings
SELECT * FROM authstore.kv;
SELECT * FROM authstore.rate_limit;
SELECT * FROM authstore.token;
INSERT INTO authstore.kv VALUES ('x', 'y', NULL);
TRUNCATE authstore.kv;
SELECT auth_kv_sweep();
SELECT authstore.incr_value('1');
SET authstore.test_clock = 1;
SET authstore.max_value_bytes = 1000000000;
SET authstore.max_key_bytes = 1000;
SET authstore.sweep_interval = '1h';
SET authstore.sweep_batch_size = 1;
SET authstore.database = 'other';
ALTER SYSTEM SET authstore.sweep_interval = '1h';
SELECT auth_set_durable(true);
ALTER TABLE authstore.kv SET LOGGED;
RESET ROLE;

-- the test clock is per session: not in the configuration file, nor for a
-- database or role (backends and the real-clock sweeper would disagree)
ALTER SYSTEM SET authstore.test_clock = 1;
ALTER ROLE regress_authstore_app SET authstore.test_clock = 1;
SET authstore.test_clock = 1;
RESET authstore.test_clock;

DROP ROLE regress_authstore_app;
DROP ROLE regress_authstore_nobody;
