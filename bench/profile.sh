#!/usr/bin/env bash
# bench/profile.sh — where the machine's CPU goes per transaction, from perf.
#
#   bench/profile.sh [options] [WORKLOAD ...]
#
# WORKLOAD is a pgbench script of bench/sql without ".sql"; the default is
# "floor authstore_get_hit xact_floor authstore_set_ttl", two pairs to read
# side by side (a get against SELECT 1, a set against the write floor).
#
# As root on Debian 12.  Starts a throwaway PostgreSQL 15 with bench/run.sh's
# settings (port 5478, shared_buffers 1GB, wal_writer_flush_after = 0) and
# its 100,000 session keys in authstore and the SQL peer, then for each
# workload runs pgbench -M prepared with N clients over TCP loopback, and
# records "perf record -a" for S seconds once the clients are warm.  For
# each workload it prints:
#   - tps inside the recorded window (pgbench's per-second progress) and
#     the machine's CPU time per transaction (busy time in /proc/stat over
#     the window, all processes, perf included);
#   - that time split by process and object: the backends' own code
#     (postgres), the kernel working for them, libc, authstore.so, and the
#     pgbench client;
#   - the symbols of PostgreSQL and authstore.so with the most time per
#     transaction.
# Compare workloads of one run: perf's own cost and the machine's other load
# are in every number.
#
# Options:
#   --clients N     pgbench clients (default 16)
#   --secs S        seconds recorded per workload (default 10)
#   --huge-pages    reserve huge pages and run with huge_pages = on
#   --no-apt        do not run apt-get
#   --keep          keep the work directory (perf.data files, logs)
# Environment: AUTHSTORE_PROFILE_PG_PORT (5478).
set -euo pipefail
export TZ=UTC LC_ALL=C

BENCH=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=bench/common.sh
. "$BENCH/common.sh"
PGBIN=/usr/lib/postgresql/15/bin
PGPORT=${AUTHSTORE_PROFILE_PG_PORT:-5478}
RPORT=
REDIS_PID=
KEYS=100000
CLIENTS=16
SECS=10
HUGE=0
APT=1
KEEP=0
T_BEGIN=$(date +%s)

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }
die() { printf 'bench/profile.sh: %s\n' "$*" >&2; exit 1; }
say() { printf '==> [%3ss] %s\n' "$(($(date +%s) - T_BEGIN))" "$*" >&2; }

WORKLOADS=()
while [ $# -gt 0 ]; do
	case $1 in
		--clients) CLIENTS=$2; shift ;;
		--secs) SECS=$2; shift ;;
		--huge-pages) HUGE=1 ;;
		--no-apt) APT=0 ;;
		--keep) KEEP=1 ;;
		-h | --help) usage; exit 0 ;;
		-*) die "unknown option $1 (see --help)" ;;
		*) WORKLOADS+=("$1") ;;
	esac
	shift
done
[ ${#WORKLOADS[@]} -gt 0 ] || WORKLOADS=(floor authstore_get_hit xact_floor authstore_set_ttl)
case $CLIENTS in '' | *[!0-9]* | 0) die "--clients must be a positive integer" ;; esac
case $SECS in '' | *[!0-9]* | 0) die "--secs must be a positive integer" ;; esac
for w in "${WORKLOADS[@]}"; do
	[ -f "$BENCH/sql/$w.sql" ] || die "no workload bench/sql/$w.sql"
done
[ "$(id -u)" -eq 0 ] || die "run me as root (I install packages, run perf -a and servers)"

bench_packages postgresql-15 postgresql-client-15 linux-perf python3
if (exec 3<>"/dev/tcp/127.0.0.1/$PGPORT") 2>/dev/null; then
	die "port $PGPORT on 127.0.0.1 is already in use"
fi

WORK=$(mktemp -d /tmp/authstore-profile.XXXXXX)
chmod 0755 "$WORK"
PGDATA=$WORK/pgdata
cleanup() {
	local rc=$?
	set +e
	trap - EXIT INT TERM
	bench_teardown
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

psql_bench() { "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PGPORT" -U bench -d bench "$@"; }

TUNING="wal_writer_flush_after = 0"
if [ "$HUGE" = 1 ]; then
	hugepages_reserve 1024 || die "--huge-pages: no huge pages"
	TUNING="$TUNING
huge_pages = on"
fi
bench_start_postgres "bench/profile.sh (bench/run.sh's settings)" bench "shared_buffers = 1GB
max_connections = 100
$TUNING"
psql_su -d postgres -c "CREATE ROLE bench LOGIN" -c "CREATE DATABASE bench OWNER bench"
psql_su -d bench -c "SET client_min_messages = warning" -c "CREATE EXTENSION authstore" \
	-c "GRANT authstore_user TO bench"
psql_bench -f "$BENCH/peer.sql"

say "loading $KEYS session keys into authstore and the peer"
# the value the set workloads write (bench/common.sh)
VAL=$BENCH_VAL
bench_load_sessions auth_kv_set "$KEYS" | psql_bench
bench_load_sessions peer.kv_set "$KEYS" | psql_bench
psql_su -d bench -c "VACUUM ANALYZE"

# cpu_ticks: busy and total jiffies of the whole machine
cpu_ticks() {
	awk '$1 == "cpu" { busy = $2 + $3 + $4 + $7 + $8 + $9; print busy, busy + $5 + $6 }' /proc/stat
}

printf 'bench/profile.sh: %s, %s clients, %s s per workload%s\n' "$(date -u '+%Y-%m-%d %H:%M UTC')" \
	"$CLIENTS" "$SECS" "$([ "$HUGE" = 1 ] && echo ', huge pages')"
printf 'repository at %s; load average before: %s\n' \
	"$(git -C "$BENCH" describe --always --dirty 2>/dev/null || echo '?')" "$(cut -d' ' -f1-3 /proc/loadavg)"
for w in "${WORKLOADS[@]}"; do
	say "$w: $CLIENTS clients, perf over $SECS s"
	# 6 s to connect and warm up before perf starts, 2 s after it stops
	# progress every second with Unix timestamps, to count the transactions
	# of the recorded window only (not those of the warm-up)
	"$PGBIN/pgbench" -h 127.0.0.1 -p "$PGPORT" -U bench -n -M prepared \
		-T "$((SECS + 8))" -c "$CLIENTS" -j $((CLIENTS < 2 ? CLIENTS : 2)) \
		-P 1 --progress-timestamp \
		-f "$BENCH/sql/$w.sql" -D "val=$VAL" bench >"$WORK/$w.pgbench" 2>&1 &
	pgb=$!
	sleep 6
	read -r b1 t1 < <(cpu_ticks)
	w1=$(date +%s.%N)
	perf record -a -F 999 -o "$WORK/$w.perf" -- sleep "$SECS" >"$WORK/$w.perf.log" 2>&1
	w2=$(date +%s.%N)
	read -r b2 t2 < <(cpu_ticks)
	wait "$pgb" || { cat "$WORK/$w.pgbench" >&2; die "pgbench failed: $w"; }
	grep -q '^number of failed transactions: 0 ' "$WORK/$w.pgbench" ||
		{ cat "$WORK/$w.pgbench" >&2; die "failed transactions: $w"; }
	# mean of the per-second rates reported inside the window
	tps=$(awk -v a="$w1" -v b="$w2" '$1 == "progress:" && $2 > a + 1 && $2 <= b + 0.5 {
		n++; s += $4 } END { if (n) printf "%.1f", s / n }' "$WORK/$w.pgbench")
	[ -n "$tps" ] || { cat "$WORK/$w.pgbench" >&2; die "no progress lines in the window: $w"; }
	perf report -i "$WORK/$w.perf" --no-children --sort comm,dso -q -t '|' \
		>"$WORK/$w.dso" 2>/dev/null
	perf report -i "$WORK/$w.perf" --no-children --comm postgres \
		--dso postgres,authstore.so --sort dso,sym -q -t '|' \
		>"$WORK/$w.sym" 2>/dev/null
	/usr/bin/python3 - "$w" "$tps" "$SECS" "$b1" "$t1" "$b2" "$t2" "$(getconf CLK_TCK)" \
		"$WORK/$w.dso" "$WORK/$w.sym" <<'PY'
import sys
w, tps, secs, b1, t1, b2, t2, hz, dso_file, sym_file = sys.argv[1:]
tps, secs, hz = float(tps), float(secs), int(hz)
tx = tps * secs                    # transactions in the recorded window
busy = (int(b2) - int(b1)) / hz    # CPU-seconds, all CPUs
total = (int(t2) - int(t1)) / hz   # perf -a samples idle CPUs too
def us(pct):                       # a share of all samples, per transaction
    return pct / 100 * total / tx * 1e6
def rows(path):
    for line in open(path):
        f = [x.strip() for x in line.split('|')]
        if len(f) == 3 and f[0].endswith('%'):
            yield float(f[0][:-1]), f[1], f[2]
groups = {}
for pct, comm, dso in rows(dso_file):
    if comm == 'postgres':
        key = {'postgres': 'backend code (postgres)', '[kernel.kallsyms]': 'kernel for backends',
               'libc.so.6': 'libc in backends', 'authstore.so': 'authstore.so'}.get(dso, 'other in backends')
    elif comm == 'pgbench':
        key = 'pgbench client'
    elif comm == 'swapper':
        key = 'idle'
    else:
        key = 'other processes'
    groups[key] = groups.get(key, 0) + pct
print(f"== {w}: {tps:,.0f} tps; machine CPU {busy / tx * 1e6:.1f} us per transaction "
      f"({busy / total:.0%} busy)")
order = ['backend code (postgres)', 'authstore.so', 'libc in backends', 'kernel for backends',
         'other in backends', 'pgbench client', 'other processes', 'idle']
print('   ' + ' | '.join(f"{k} {us(groups[k]):.1f}" for k in order if k in groups) + '  (us per transaction)')
print('   top symbols of the backends\' own code, us per transaction:')
for pct, dso, sym in list(rows(sym_file))[:12]:
    print(f"   {us(pct):6.2f}  {dso:13s} {sym.replace('[.] ', '')}")
PY
done
printf 'load average after: %s\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
