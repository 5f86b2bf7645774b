# shellcheck shell=bash
# bench/common.sh — sourced by bench/run.sh and bench/growth.sh: what both
# need to run throwaway servers as root.  The caller sets PGBIN, PGDATA,
# PGPORT, RPORT, WORK, KEEP and REDIS_PID and defines say().

# shellcheck source=bench/hugepages.sh
. "$(dirname "${BASH_SOURCE[0]}")/hugepages.sh"

# PostgreSQL refuses to run as root; cd / so that postgres can read its cwd.
as_postgres() { (cd / && runuser -u postgres -- "$@"); }
psql_su() { "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PGPORT" -U postgres "$@"; }
rcli() { redis-cli -h 127.0.0.1 -p "$RPORT" "$@"; }

# The end of every run, after an error or Ctrl-C too (from the caller's EXIT
# trap): stop PostgreSQL (fast, else immediate) and Redis, give the huge
# pages back, and delete the work directory unless --keep.
bench_teardown() {
	if [ -f "$PGDATA/postmaster.pid" ]; then
		as_postgres "$PGBIN/pg_ctl" -D "$PGDATA" -m fast -w stop >/dev/null 2>&1 ||
			as_postgres "$PGBIN/pg_ctl" -D "$PGDATA" -m immediate stop >/dev/null 2>&1
	fi
	if [ -n "$REDIS_PID" ]; then
		kill "$REDIS_PID" 2>/dev/null
		wait "$REDIS_PID" 2>/dev/null
	fi
	hugepages_restore
	if [ "$KEEP" = 1 ]; then
		say "kept $WORK"
	else
		rm -rf "$WORK"
	fi
}
