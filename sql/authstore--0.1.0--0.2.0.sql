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
