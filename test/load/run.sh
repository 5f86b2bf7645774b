#!/usr/bin/env bash
# test/load/run.sh — authstore load test with invariants.
#
#   test/load/run.sh [--duration S] [--clients N] [--port P] [--mutate NAME]
#                    [--statement-path] [--keep]
#
# Starts a throwaway PostgreSQL 15 cluster with authstore preloaded and its
# sweeper running every 10 ms in small batches, then runs pgbench: N clients
# for S seconds mixing set/get/take/set-if-not-exists/delete on 8 hot keys,
# incr on counters with and without a TTL, rl_hit on 4 hot rate-limit keys,
# and token issue/consume/verify on the most recent tokens.  Every operation
# logs what it observed into logged audit tables (test/load/setup.sql);
# test/load/check.sql then checks the invariants on those logs.
#
# Exits non-zero if pgbench reports a failed transaction or an aborted
# client, if the server logged an ERROR/FATAL/PANIC during the run, if the
# server restarted, or if any invariant has a violation.  The last line is
#   load: <ops> ops in <S> s with <N> clients (<ops/s> ops/s), <E> errors, <V> violations
#
# --mutate NAME replaces one audit wrapper by a deliberately broken version
# from test/load/mutations/NAME.sql (take, consume, incr, incr_ttl, rl, expiry,
# nx), to show that the checker catches the breakage; such a run must fail.
# --statement-path sets authstore.direct_access = off, so that every function
# runs its SQL statement instead of the direct path (src/direct.c).
# --keep leaves the cluster's directory (logs, data) in place.
#
# Run as root (servers then run as the "postgres" OS user) or as a user that
# can run initdb.  Needs authstore installed (make install) and pgbench.
# Environment: AUTHSTORE_LOAD_PORT (default 5467), PG_CONFIG.
set -euo pipefail

duration=10
clients=16
port=${AUTHSTORE_LOAD_PORT:-5467}
mutate=
keep=
direct_access=on
while [ $# -gt 0 ]; do
	case $1 in
		--duration) duration=$2; shift 2 ;;
		--clients) clients=$2; shift 2 ;;
		--port) port=$2; shift 2 ;;
		--mutate) mutate=$2; shift 2 ;;
		--statement-path) direct_access=off; shift ;;
		--keep) keep=1; shift ;;
		-h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
		*) echo "test/load/run.sh: unknown argument $1" >&2; exit 2 ;;
	esac
done

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
pg_bin=$("${PG_CONFIG:-pg_config}" --bindir 2>/dev/null || echo /usr/lib/postgresql/15/bin)
db=authstore_load

say() { printf '==> %s\n' "$*"; }

if [ -n "$mutate" ] && [ ! -f "$here/mutations/$mutate.sql" ]; then
	echo "test/load/run.sh: no mutation $here/mutations/$mutate.sql" >&2
	exit 2
fi

if [ "$(id -u)" -eq 0 ]; then
	as_pg() { runuser -u postgres -- "$@"; }
else
	as_pg() { "$@"; }
fi

work=$(mktemp -d /tmp/authstore-load.XXXXXX)
chmod 755 "$work"
[ "$(id -u)" -eq 0 ] && chown postgres "$work"
cleanup() {
	if [ -f "$work/data/postmaster.pid" ]; then
		as_pg "$pg_bin/pg_ctl" -D "$work/data" -m fast stop >/dev/null 2>&1 || true
	fi
	if [ -n "$keep" ]; then
		echo "kept $work"
	else
		rm -rf "$work"
	fi
}
trap cleanup EXIT

psql_() { "$pg_bin/psql" -X -q -v ON_ERROR_STOP=1 -h "$work" -p "$port" -U postgres "$@"; }

say "starting a throwaway cluster (port $port) with the sweeper every 10 ms"
as_pg "$pg_bin/initdb" -D "$work/data" -A trust -U postgres --no-sync >/dev/null
cat >>"$work/data/postgresql.conf" <<EOF
listen_addresses = ''
unix_socket_directories = '$work'
port = $port
max_connections = $((clients + 20))
shared_preload_libraries = 'authstore'
authstore.database = '$db'
authstore.sweep_interval = '10ms'
authstore.sweep_batch_size = 20
authstore.direct_access = $direct_access
# a throwaway cluster: no need to survive an OS crash
fsync = off
synchronous_commit = off
full_page_writes = off
log_line_prefix = '%m [%p] %b %d: '
EOF
as_pg "$pg_bin/pg_ctl" -D "$work/data" -l "$work/server.log" -w start >/dev/null

psql_ -d postgres -c "CREATE DATABASE $db"
psql_ -d "$db" -c "CREATE EXTENSION authstore" -f "$here/setup.sql"
if [ -n "$mutate" ]; then
	say "MUTATION $mutate: $(sed -n 's/^-- mutation: //p' "$here/mutations/$mutate.sql")"
	psql_ -d "$db" -f "$here/mutations/$mutate.sql"
fi

# the launcher re-checks a missing database only every 10 s: a reload wakes it
psql_ -d "$db" -Atc "SELECT pg_reload_conf()" >/dev/null
sweeper=
for _ in $(seq 1 100); do
	sweeper=$(psql_ -d "$db" -Atc "SELECT pid FROM pg_stat_activity
		WHERE backend_type = 'authstore sweeper' AND datname = current_database()")
	[ -n "$sweeper" ] && break
	sleep 0.2
done
if [ -z "$sweeper" ]; then
	echo "no authstore sweeper is running for $db" >&2
	exit 1
fi
pm_start=$(psql_ -d "$db" -Atc "SELECT pg_postmaster_start_time()")
log_offset=$(stat -c %s "$work/server.log")

jobs=$((clients < 2 ? clients : 2))
say "pgbench: $clients clients, $jobs threads, $duration s (sweeper pid $sweeper)"
s="$here/pgbench"
set +e
"$pg_bin/pgbench" -n -M prepared -c "$clients" -j "$jobs" -T "$duration" \
	-h "$work" -p "$port" -U postgres \
	-f "$s/kv_set.sql@15" -f "$s/kv_nx.sql@10" -f "$s/kv_get.sql@20" \
	-f "$s/kv_take.sql@20" -f "$s/kv_delete.sql@5" \
	-f "$s/incr.sql@8" -f "$s/incr_ttl.sql@7" -f "$s/rl_hit.sql@15" \
	-f "$s/token_issue.sql@6" -f "$s/token_consume.sql@12" -f "$s/token_verify.sql@4" \
	"$db" >"$work/pgbench.log" 2>&1
pgbench_rc=$?
set -e
sed -n '/^transaction type/,/^tps/p; /aborted/p; /ERROR/p' "$work/pgbench.log" | grep -v '^ *- ' | head -40
failed=$(sed -nE 's/^number of failed transactions: ([0-9]+).*/\1/p' "$work/pgbench.log")
failed=${failed:-0}
aborted=$(grep -c 'aborted in command' "$work/pgbench.log" || true)
processed=$(sed -nE 's/^number of transactions actually processed: ([0-9]+).*/\1/p' "$work/pgbench.log")
processed=${processed:-0}

# let the sweeper catch up with what expired at the very end (TTLs <= 1 s)
sleep 1.5

server_errors=$(tail -c +"$((log_offset + 1))" "$work/server.log" | grep -cE '(ERROR|FATAL|PANIC): ' || true)
if [ "$server_errors" -gt 0 ]; then
	say "server log errors during the run (first 10)"
	tail -c +"$((log_offset + 1))" "$work/server.log" | grep -E '(ERROR|FATAL|PANIC): ' | head -10
fi
restarted=0
if [ "$(psql_ -d "$db" -Atc "SELECT pg_postmaster_start_time()")" != "$pm_start" ] ||
	grep -qE 'terminated by signal|was terminated by' "$work/server.log"; then
	restarted=1
	say "the server restarted during the run"
fi
sweeper_now=$(psql_ -d "$db" -Atc "SELECT pid FROM pg_stat_activity
	WHERE backend_type = 'authstore sweeper' AND datname = current_database()")
if [ "$sweeper_now" != "$sweeper" ]; then
	say "note: the sweeper is now pid '${sweeper_now:-none}' (was $sweeper)"
fi

say "checking invariants"
psql_ -d "$db" -f "$here/check.sql" >"$work/check.log" 2>&1 || { cat "$work/check.log"; exit 1; }
cat "$work/check.log"
ops=$(sed -nE 's/^ops: ([0-9]+)$/\1/p' "$work/check.log")
violations=$(sed -nE 's/^violations: ([0-9]+)$/\1/p' "$work/check.log")

errors=$((failed + aborted + server_errors))
echo "pgbench: $processed transactions, $failed failed, $aborted clients aborted (exit $pgbench_rc)"
echo "load: $ops ops in $duration s with $clients clients ($((ops / duration)) ops/s), $errors errors, $violations violations${mutate:+ (mutation $mutate)}"
[ "$pgbench_rc" -eq 0 ] && [ "$errors" -eq 0 ] && [ "$violations" -eq 0 ] && [ "$restarted" -eq 0 ]
