/*
 * authstore--0.1.0--0.2.0.sql
 *	  Update from 0.1.0 to 0.2.0.  Each section below names the change it
 *	  carries; sql/authstore--0.2.0.sql is the same result for a fresh
 *	  install, and test/t/004_dump_upgrade.pl checks, object by object, that
 *	  the two agree and that data stored under 0.1.0 survives the update.
 */

\echo Use "ALTER EXTENSION authstore UPDATE TO '0.2.0'" to load this file. \quit

-- 16: auth_kv_compare_and_set() and auth_kv_delete_if_value(), atomic CAS
-- and delete-if for RustAuth-style SecondaryStorage.
CREATE FUNCTION auth_kv_compare_and_set(key text, expected text, value text,
										ttl_seconds double precision DEFAULT NULL)
RETURNS boolean
AS 'MODULE_PATHNAME', 'auth_kv_compare_and_set'
LANGUAGE C VOLATILE SECURITY DEFINER;

CREATE FUNCTION auth_kv_delete_if_value(key text, expected text)
RETURNS boolean
AS 'MODULE_PATHNAME', 'auth_kv_delete_if_value'
LANGUAGE C VOLATILE SECURITY DEFINER;

REVOKE ALL ON FUNCTION
	auth_kv_compare_and_set(text, text, text, double precision),
	auth_kv_delete_if_value(text, text)
FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
	auth_kv_compare_and_set(text, text, text, double precision),
	auth_kv_delete_if_value(text, text)
TO authstore_user;
