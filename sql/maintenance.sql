-- maintenance: a superuser running the README's maintenance calls cannot be
-- redirected by a schema an application role controls (issue 13, finding
-- 3).  The attack: the role owning the database (here: owning public, with
-- CREATE on the database, which is what owning the database gives it)
-- renames public, creates a new public with trojans named like the
-- maintenance functions, and waits for a superuser to call them.
SET authstore.test_clock = 4102444800;
SELECT auth_kv_clear('');
SELECT auth_kv_set('expired', 'v', 1);
CREATE ROLE regress_authstore_owner LOGIN;
GRANT authstore_user TO regress_authstore_owner;
ALTER SCHEMA public OWNER TO regress_authstore_owner;
DO $$ BEGIN
	EXECUTE format('GRANT CREATE ON DATABASE %I TO regress_authstore_owner',
				   current_database());
END $$;

SET ROLE regress_authstore_owner;
ALTER SCHEMA public RENAME TO regress_app_public;
CREATE SCHEMA public;
CREATE TABLE public.trojan_log (fn text, by_whom name);
GRANT INSERT ON public.trojan_log TO PUBLIC;
CREATE FUNCTION public.auth_kv_sweep(max_rows integer DEFAULT NULL)
RETURNS bigint LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO public.trojan_log VALUES ('auth_kv_sweep', current_user);
	ALTER ROLE regress_authstore_owner SUPERUSER;
	RETURN 0;
END $$;
CREATE FUNCTION public.auth_set_durable(durable boolean)
RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO public.trojan_log VALUES ('auth_set_durable', current_user);
	ALTER ROLE regress_authstore_owner SUPERUSER;
	RETURN durable;
END $$;
-- the app cannot put anything into authstore's private schema
CREATE FUNCTION authstore.auth_kv_sweep(max_rows bigint) RETURNS bigint
	LANGUAGE sql AS 'SELECT 0::bigint';
ALTER SCHEMA authstore RENAME TO regress_moved;
RESET ROLE;

-- the superuser, with the default search_path, runs the README's calls,
-- including the pg_cron job's command as pg_cron would run it
RESET search_path;
SHOW search_path;
SET authstore.test_clock = 4102444802;
SELECT authstore.auth_kv_sweep();
SELECT authstore.auth_kv_sweep(1000);
DO $$ BEGIN EXECUTE 'SELECT authstore.auth_kv_sweep()'; END $$;
SELECT authstore.auth_set_durable(true);
SELECT authstore.auth_set_durable(false);
SELECT count(*) AS trojan_calls FROM public.trojan_log;
SELECT rolsuper FROM pg_roles WHERE rolname = 'regress_authstore_owner';

-- the unqualified names are the ones the app controls: this is the attack
-- the qualified names defeat (0.1.0's README called them so)
SELECT auth_kv_sweep();
SELECT * FROM public.trojan_log;
SELECT rolsuper FROM pg_roles WHERE rolname = 'regress_authstore_owner';

-- undo
ALTER ROLE regress_authstore_owner NOSUPERUSER;

-- the maintenance functions in authstore are the superuser's alone
SELECT p.oid::regprocedure AS function,
       has_function_privilege('authstore_user', p.oid, 'EXECUTE') AS authstore_user,
       has_function_privilege('regress_authstore_owner', p.oid, 'EXECUTE') AS owner,
       prosecdef
  FROM pg_proc p WHERE pronamespace = 'authstore'::regnamespace AND proname LIKE 'auth%'
 ORDER BY 1::text;

DROP SCHEMA public CASCADE;
ALTER SCHEMA regress_app_public RENAME TO public;
ALTER SCHEMA public OWNER TO pg_database_owner;
DO $$ BEGIN
	EXECUTE format('REVOKE CREATE ON DATABASE %I FROM regress_authstore_owner',
				   current_database());
END $$;
DROP ROLE regress_authstore_owner;
SELECT auth_kv_clear('');
