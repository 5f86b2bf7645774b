/*
 * authstore--0.1.0--0.2.0.sql
 *	  Update from 0.1.0 to 0.2.0.  Each section below names the change it
 *	  carries; sql/authstore--0.2.0.sql is the same result for a fresh
 *	  install, and test/t/004_dump_upgrade.pl checks, object by object, that
 *	  the two agree and that data stored under 0.1.0 survives the update.
 */

\echo Use "ALTER EXTENSION authstore UPDATE TO '0.2.0'" to load this file. \quit

-- 13: as the install script does, refuse an authstore_user that is a member
-- of other roles: every member of authstore_user would inherit them, and
-- this update grants authstore_user more functions.
DO $$
BEGIN
	IF EXISTS (SELECT FROM pg_catalog.pg_auth_members m
				 JOIN pg_catalog.pg_roles r ON r.oid OPERATOR(pg_catalog.=) m.member
				WHERE r.rolname OPERATOR(pg_catalog.=) 'authstore_user') THEN
		RAISE EXCEPTION 'role "authstore_user" is a member of other roles'
			USING ERRCODE = '42710',
				  DETAIL = 'Every member of authstore_user would inherit the privileges of those roles.',
				  HINT = 'Revoke those roles from authstore_user (see pg_auth_members), then update again.';
	END IF;
END
$$;

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

-- 13: least privilege per service: confinement of roles, authstore_ratelimit
/*
 * Least privilege per service: a role with a row here may use only keys
 * (key-value and rate-limit) starting with one of key_prefixes, issue,
 * verify, consume and revoke only tokens whose subject starts with one of
 * subject_prefixes, and only of the purposes listed.  NULL or an empty
 * array allows nothing of that kind.  Roles without a row are not
 * confined.  The role is the session's (after SET ROLE), matched exactly,
 * not through memberships.  Changes take effect in other sessions at their
 * next transaction (the trigger tells every backend to reload).  Kept in
 * dumps.
 */
CREATE TABLE authstore.confinement (
	role		regrole PRIMARY KEY,
	key_prefixes text[],
	subject_prefixes text[],
	purposes	text[]
);
REVOKE ALL ON TABLE authstore.confinement FROM PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('authstore.confinement', '');

CREATE FUNCTION authstore.confinement_changed()
RETURNS trigger
AS 'MODULE_PATHNAME', 'authstore_confinement_changed'
LANGUAGE C;
REVOKE ALL ON FUNCTION authstore.confinement_changed() FROM PUBLIC;

CREATE TRIGGER confinement_changed
	AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON authstore.confinement
	FOR EACH STATEMENT EXECUTE FUNCTION authstore.confinement_changed();

-- authstore_ratelimit: a second cluster-wide NOLOGIN role for services
-- that only rate-limit: auth_rl_hit and auth_rl_reset, nothing else.  Reused
-- under the same conditions as authstore_user.
DO $$
DECLARE
	r pg_catalog.pg_roles;
BEGIN
	SELECT * INTO r FROM pg_catalog.pg_roles
	 WHERE rolname OPERATOR(pg_catalog.=) 'authstore_ratelimit';
	IF NOT FOUND THEN
		CREATE ROLE authstore_ratelimit NOLOGIN;
	ELSIF r.rolcanlogin OR r.rolsuper OR r.rolcreaterole OR r.rolcreatedb
		  OR r.rolreplication OR r.rolbypassrls
		  OR EXISTS (SELECT FROM pg_catalog.pg_auth_members m
					  WHERE m.member OPERATOR(pg_catalog.=) r.oid) THEN
		RAISE EXCEPTION 'role "authstore_ratelimit" already exists and is not a plain NOLOGIN role'
			USING ERRCODE = '42710',
				  DETAIL = 'authstore grants the rate limiter to this role; a role that can log in, holds attributes or is a member of other roles was not created by authstore.',
				  HINT = 'Drop or rename that role.';
	END IF;
END
$$;

GRANT EXECUTE ON FUNCTION
	auth_rl_hit(text, double precision, integer),
	auth_rl_reset(text)
TO authstore_ratelimit;

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

-- 14: statistics: auth_stats() and its view for pg_monitor, auth_stats_reset()
CREATE FUNCTION auth_stats(
	OUT datid oid,
	OUT kv_get_hits bigint,
	OUT kv_get_misses bigint,
	OUT kv_sets bigint,
	OUT kv_nx_stored bigint,
	OUT kv_nx_existed bigint,
	OUT kv_incrs bigint,
	OUT kv_take_hits bigint,
	OUT kv_take_misses bigint,
	OUT kv_delete_hits bigint,
	OUT kv_delete_misses bigint,
	OUT kv_cleared bigint,
	OUT rl_allowed bigint,
	OUT rl_denied bigint,
	OUT rl_resets bigint,
	OUT tokens_issued bigint,
	OUT tokens_verified bigint,
	OUT tokens_verify_rejected bigint,
	OUT tokens_consumed bigint,
	OUT tokens_consume_rejected bigint,
	OUT tokens_revoked bigint,
	OUT kv_cas_applied bigint,
	OUT kv_cas_rejected bigint,
	OUT direct_accesses bigint,
	OUT statements bigint,
	OUT sweep_rows_deleted bigint,
	OUT sweep_cycles bigint,
	OUT last_sweep_start timestamptz,
	OUT last_sweep_ms double precision,
	OUT expired_unswept_estimate bigint,
	OUT stats_reset timestamptz)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'auth_stats'
LANGUAGE C VOLATILE;

CREATE VIEW auth_stats AS
	SELECT d.datname, s.*
	FROM auth_stats() s
	JOIN pg_catalog.pg_database d ON d.oid OPERATOR(pg_catalog.=) s.datid;

-- Zero the current database's counters.  Superusers only (no grant).
CREATE FUNCTION auth_stats_reset()
RETURNS void
AS 'MODULE_PATHNAME', 'auth_stats_reset'
LANGUAGE C VOLATILE;

REVOKE ALL ON FUNCTION auth_stats(), auth_stats_reset() FROM PUBLIC;
REVOKE ALL ON auth_stats FROM PUBLIC;
GRANT EXECUTE ON FUNCTION auth_stats() TO pg_monitor;
GRANT SELECT ON auth_stats TO pg_monitor;

-- 12: keys with an owner: authstore.kv.owner and its index,
-- auth_kv_set_owned(), auth_kv_owner_keys(), auth_kv_owner_delete()
ALTER TABLE authstore.kv ADD COLUMN owner text COLLATE "C";

/*
 * The owner of a key (issue 12), e.g. the user a session token belongs to:
 * auth_kv_owner_keys() and auth_kv_owner_delete() find an owner's keys
 * through this index, in key order.  Keys without an owner (NULL) stay out
 * of it, so that it costs nothing to those who never use owners, and a
 * write that keeps a key's owner can still be a HOT update.
 */
CREATE INDEX kv_owner_idx ON authstore.kv (owner, key) WHERE owner IS NOT NULL;

/*
 * Keys with an owner (issue 12): auth_kv_set_owned() stores a key as
 * auth_kv_set() does, with an owner; auth_kv_owner_keys() lists the owner's
 * live keys with their expiry, and auth_kv_owner_delete() deletes them all
 * in one statement.  An owner is a subject: confined roles need it under
 * one of their subject_prefixes, and see and delete only keys under their
 * key_prefixes.
 */
CREATE FUNCTION auth_kv_set_owned(key text, value text, owner text,
								  ttl_seconds double precision DEFAULT NULL)
RETURNS void
AS 'MODULE_PATHNAME', 'auth_kv_set_owned'
LANGUAGE C VOLATILE SECURITY DEFINER;

CREATE FUNCTION auth_kv_owner_keys(owner text)
RETURNS TABLE (key text, expires_at timestamptz)
AS 'MODULE_PATHNAME', 'auth_kv_owner_keys'
LANGUAGE C VOLATILE SECURITY DEFINER
ROWS 10;

CREATE FUNCTION auth_kv_owner_delete(owner text)
RETURNS bigint
AS 'MODULE_PATHNAME', 'auth_kv_owner_delete'
LANGUAGE C VOLATILE SECURITY DEFINER;

REVOKE ALL ON FUNCTION
	auth_kv_set_owned(text, text, text, double precision),
	auth_kv_owner_keys(text),
	auth_kv_owner_delete(text)
FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
	auth_kv_set_owned(text, text, text, double precision),
	auth_kv_owner_keys(text),
	auth_kv_owner_delete(text)
TO authstore_user;
