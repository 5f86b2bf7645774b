/*
 * authstore--0.1.0--0.2.0.sql
 *	  Update from 0.1.0 to 0.2.0.  Each section below names the change it
 *	  carries; sql/authstore--0.2.0.sql is the same result for a fresh
 *	  install, and test/t/004_dump_upgrade.pl checks, object by object, that
 *	  the two agree and that data stored under 0.1.0 survives the update.
 */

\echo Use "ALTER EXTENSION authstore UPDATE TO '0.2.0'" to load this file. \quit

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
