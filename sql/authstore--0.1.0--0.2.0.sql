/*
 * authstore--0.1.0--0.2.0.sql
 *	  Update from 0.1.0 to 0.2.0.  Each section below names the change it
 *	  carries; sql/authstore--0.2.0.sql is the same result for a fresh
 *	  install, and test/t/004_dump_upgrade.pl checks, object by object, that
 *	  the two agree and that data stored under 0.1.0 survives the update.
 */

\echo Use "ALTER EXTENSION authstore UPDATE TO '0.2.0'" to load this file. \quit

-- 13: auth_kv_keys pages like SCAN: start after a key, at most count keys
CREATE FUNCTION auth_kv_keys(prefix text, start_after text, count integer)
RETURNS SETOF text
AS 'MODULE_PATHNAME', 'auth_kv_keys'
LANGUAGE C VOLATILE SECURITY DEFINER
ROWS 100;
REVOKE ALL ON FUNCTION auth_kv_keys(text, text, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION auth_kv_keys(text, text, integer) TO authstore_user;

-- 13: maintenance functions also in the private schema, for superusers
/*
 * The maintenance functions again, in the private schema: a superuser
 * calls these by their qualified names.  The schema authstore belongs to
 * the extension's owner, so no application role -- not even the owner of
 * the database, who may rename public and put a trojan auth_kv_sweep() in
 * a new one -- can create, rename or shadow anything there.  The copies in
 * the extension's schema stay for compatibility; they are safe only where
 * no application role controls that schema or the caller's search_path.
 */
CREATE FUNCTION authstore.auth_kv_sweep(max_rows integer DEFAULT NULL)
RETURNS bigint
AS 'MODULE_PATHNAME', 'auth_kv_sweep'
LANGUAGE C VOLATILE SECURITY DEFINER;

CREATE FUNCTION authstore.auth_set_durable(durable boolean)
RETURNS boolean
AS 'MODULE_PATHNAME', 'auth_set_durable'
LANGUAGE C VOLATILE SECURITY DEFINER;

REVOKE ALL ON FUNCTION
	authstore.auth_kv_sweep(integer),
	authstore.auth_set_durable(boolean)
FROM PUBLIC;
