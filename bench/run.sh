#!/usr/bin/env bash
# bench/run.sh — authstore's benchmark suite, in one command.
#
#   bench/run.sh            full run: clients 1, 16 and 64, 2 rounds of 5 s
#                           per workload (+2 s at 16 clients, +8 s at 64, see
#                           --ramp), 1 s dropped; about 30 minutes
#   bench/run.sh --quick    clients 1 and 16, 1 round of 1 s per workload,
#                           0.25 s dropped, no ramp; under 2 minutes (rough
#                           numbers, see README.md)
#
# As root on Debian 12.  It installs what it needs (apt-get), starts a
# throwaway PostgreSQL 15 (port 5477, loopback + a Unix socket in its work
# directory, authstore preloaded) and a throwaway Redis (127.0.0.1:6399, no
# persistence), loads the same key space into authstore, the SQL reference in
# bench/peer.sql and Redis, and runs every workload interleaved: for each
# round and client count, each workload once on each system, one after the
# other, so drift and background noise hit all of them alike.  It prints a
# table and writes raw results to bench/results/<timestamp>.csv (and the
# table to <timestamp>.md).  Everything it started is stopped on exit.
# It uses the INSTALLED authstore library (make install is not run here).
#
# Options:
#   --quick            the quick mode above (the options below still apply)
#   --rounds N         rounds (full: 2)
#   --secs S           seconds per run, an integer (full: 5)
#   --warm W           seconds dropped at the start of each run (full: 1)
#   --ramp R           PostgreSQL runs with C clients last C*R seconds longer,
#                      all dropped, for fresh backends to warm up (full: 0.125,
#                      i.e. +2 s at 16 clients, +8 s at 64)
#   --clients "1 16"   client counts (full: "1 16 64")
#   --only REGEX       only workloads whose name matches (floors always run)
#   --no-apt           do not run apt-get (everything must be installed)
#   --keep             keep the work directory (logs, server logs)
#   --stock            run PostgreSQL with stock settings, without the
#                      tuning README.md recommends (wal_writer_flush_after = 0)
#   --huge-pages       reserve huge pages (vm.nr_hugepages, restored on exit)
#                      and run PostgreSQL with huge_pages = on; see
#                      bench/hugepages.sh
# Environment: AUTHSTORE_BENCH_PG_PORT (5477), AUTHSTORE_BENCH_REDIS_PORT (6399).
set -euo pipefail
export TZ=UTC LC_ALL=C

BENCH=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=bench/common.sh
. "$BENCH/common.sh"
REPO=$(cd "$BENCH/.." && pwd)
PGBIN=/usr/lib/postgresql/15/bin
PGPORT=${AUTHSTORE_BENCH_PG_PORT:-5477}
RPORT=${AUTHSTORE_BENCH_REDIS_PORT:-6399}
KEYS=100000
PY=/usr/bin/python3   # Debian's, not a shim on PATH

MODE=full
ROUNDS=2
SECS=5
WARM=1
RAMP=0.125
CLIENTS="1 16 64"
ONLY=.
APT=1
KEEP=0
STOCK=0
HUGE=0
CMDLINE="bench/run.sh${*:+ $*}"
T_BEGIN=$(date +%s)

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }
die() { printf 'bench/run.sh: %s\n' "$*" >&2; exit 1; }
say() { printf '==> [%3ss] %s\n' "$(($(date +%s) - T_BEGIN))" "$*" >&2; }

# --quick first, so that explicit options override what it sets
for a in "$@"; do
	if [ "$a" = --quick ]; then MODE=quick ROUNDS=1 SECS=1 WARM=0.25 RAMP=0 CLIENTS="1 16"; fi
done
while [ $# -gt 0 ]; do
	case $1 in
		--quick) ;;
		--rounds) ROUNDS=$2; shift ;;
		--secs) SECS=$2; shift ;;
		--warm) WARM=$2; shift ;;
		--ramp) RAMP=$2; shift ;;
		--clients) CLIENTS=$2; shift ;;
		--only) ONLY=$2; shift ;;
		--no-apt) APT=0 ;;
		--keep) KEEP=1 ;;
		--stock) STOCK=1 ;;
		--huge-pages) HUGE=1 ;;
		-h | --help) usage; exit 0 ;;
		*) die "unknown option $1 (see --help)" ;;
	esac
	shift
done
case $ROUNDS in '' | *[!0-9]* | 0) die "--rounds must be a positive integer" ;; esac
case $SECS in '' | *[!0-9]* | 0) die "--secs must be a positive integer (pgbench -T)" ;; esac
awk -v w="$WARM" -v s="$SECS" 'BEGIN { exit !(w + 0 >= 0 && w + 0 < s + 0) }' ||
	die "--warm must be >= 0 and below --secs"
for c in $CLIENTS; do case $c in *[!0-9]* | 0) die "bad client count '$c'" ;; esac; done
[ "$(id -u)" -eq 0 ] || die "run me as root (I install packages and run servers as the postgres user)"

# ---------------------------------------------------------------------------
# Packages
# ---------------------------------------------------------------------------
bench_packages postgresql-15 postgresql-client-15 redis-server redis-tools libhiredis-dev \
	gcc libc6-dev python3

for p in "$PGPORT" "$RPORT"; do
	if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
		die "port $p on 127.0.0.1 is already in use (a leftover run? stop it first)"
	fi
done

# ---------------------------------------------------------------------------
# Work directory, cleanup
# ---------------------------------------------------------------------------
WORK=$(mktemp -d /tmp/authstore-bench.XXXXXX)
chmod 0755 "$WORK"
PGDATA=$WORK/pgdata
REDIS_PID=
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
RESULTS=$BENCH/results
CSV=$RESULTS/$STAMP.csv

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

# ---------------------------------------------------------------------------
# PostgreSQL
# ---------------------------------------------------------------------------
# Defaults except memory and, unless --stock, the tuning README.md recommends
# for authstore (section Operations, "Tuning"): the WAL writer flushes what it
# writes, so that asynchronous commits stop waking it with a signal each.
# The tables are unlogged, so commits of authstore calls write no WAL that
# must be flushed; synchronous_commit stays on.
if [ "$STOCK" = 1 ]; then TUNING="# --stock: no tuning"; else TUNING="wal_writer_flush_after = 0"; fi
if [ "$HUGE" = 1 ]; then
	hugepages_reserve 1024 || die "--huge-pages: no huge pages"
	TUNING="$TUNING
huge_pages = on"
fi
bench_start_postgres bench/run.sh bench "shared_buffers = 1GB
max_connections = 100
$TUNING"

psql_su -d postgres <<'SQL'
CREATE ROLE bench LOGIN;
CREATE DATABASE bench OWNER bench;
SQL
psql_su -d bench <<'SQL'
SET client_min_messages = warning;
CREATE EXTENSION authstore;
GRANT authstore_user TO bench;
SELECT pg_reload_conf() \g /dev/null
SQL
psql_bench -f "$BENCH/peer.sql"

# ---------------------------------------------------------------------------
# Redis
# ---------------------------------------------------------------------------
say "starting Redis on 127.0.0.1:$RPORT"
mkdir -p "$WORK/redis"
redis-server --bind 127.0.0.1 --port "$RPORT" --save '' --appendonly no \
	--dir "$WORK/redis" --logfile "$WORK/redis.log" --daemonize no &
REDIS_PID=$!
for _ in $(seq 1 100); do
	[ "$(rcli ping 2>/dev/null)" = PONG ] && break
	sleep 0.05
done
[ "$(rcli ping 2>/dev/null)" = PONG ] || die "Redis did not start (see $WORK/redis.log)"
RL_SHA=$(rcli SCRIPT LOAD "$(cat "$BENCH/redis_ratelimit.lua")")

say "building bench/redis_pair.c"
cc -O2 -Wall -o "$WORK/redis_pair" "$BENCH/redis_pair.c" -lhiredis -lm

# ---------------------------------------------------------------------------
# The key space: 100,000 sessions, ~200-byte JSON, TTL 1 day, in all three
# ---------------------------------------------------------------------------
say "loading $KEYS keys into authstore, the peer and Redis"
# the value the set workloads write (bench/common.sh)
VAL=$BENCH_VAL
# authstore, the peer and Redis load in parallel (three processes, 2 cores)
load_pg() { # function: auth_kv_set or peer.kv_set
	bench_load_sessions "$1" "$KEYS" | psql_bench
}
load_pg auth_kv_set &
LOAD1=$!
load_pg peer.kv_set &
LOAD2=$!
# Redis: redis-benchmark's __rand_int__ is 12 digits, 0 .. KEYS-1
"$PY" - "$KEYS" <<'PY' | rcli --pipe >/dev/null
import sys
out = sys.stdout.buffer
def cmd(*args):
    b = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a.encode()
        b.append(b"$%d\r\n%s\r\n" % (len(a), a))
    out.write(b"".join(b))
for i in range(int(sys.argv[1])):
    k = "%012d" % i
    v = ('{"session":{"id":"s_%s","userId":"u_%d","expiresAt":"2026-12-31T23:59:59.000Z",'
         '"ipAddress":"203.0.113.7","userAgent":"Mozilla/5.0 (X11; Linux x86_64; rv:128.0) '
         'Gecko/20100101 Firefox/128.0"}}') % (k, i)
    cmd("SET", "sess:" + k, v, "EX", "86400")
PY
wait "$LOAD1" || die "loading authstore failed"
wait "$LOAD2" || die "loading the peer failed"
psql_su -d bench -c 'VACUUM ANALYZE' -c 'CHECKPOINT'
[ "$(rcli DBSIZE)" -ge "$KEYS" ] || die "Redis key load failed"

# ---------------------------------------------------------------------------
# Workloads.  name | redis kind | redis command (see README.md)
#   rb:   redis-benchmark, __rand_int__ = 0 .. KEYS-1
#   pair: bench/redis_pair.c, __key__ = 1 .. keyspace, ';' separates commands
# The PostgreSQL scripts are bench/sql/{floor,authstore_NAME,peer_NAME}.sql.
# ---------------------------------------------------------------------------
WORKLOADS=(get_hit get_miss set_ttl set_nx take delete incr rl_random rl_hot token_issue token_consume)
redis_cmd() {
	case $1 in
		floor) R_KIND=rb R_ARGS=(PING) ;;
		get_hit) R_KIND=rb R_ARGS=(GET 'sess:__rand_int__') ;;
		get_miss) R_KIND=rb R_ARGS=(GET 'nokey:__rand_int__') ;;
		set_ttl) R_KIND=rb R_ARGS=(SET 'sess:__rand_int__' "$VAL" EX 3600) ;;
		set_nx) R_KIND=rb R_ARGS=(SET 'lock:__rand_int__' "$VAL" NX EX 5) ;;
		take) R_KIND=pair R_KEYS=$KEYS R_ARGS=(SET 'otp:__key__' "$VAL" EX 600 ';' GETDEL 'otp:__key__') ;;
		delete) R_KIND=pair R_KEYS=$KEYS R_ARGS=(SET 'del:__key__' "$VAL" EX 600 ';' DEL 'del:__key__') ;;
		incr) R_KIND=rb R_ARGS=(INCR 'ctr:__rand_int__') ;;
		rl_random) R_KIND=rb R_ARGS=(EVALSHA "$RL_SHA" 1 'rl:__rand_int__' 60 100) ;;
		rl_hot) R_KIND=rb R_ARGS=(EVALSHA "$RL_SHA" 1 'rl:hot' 60 100) ;;
		token_issue) R_KIND=rb R_ARGS=(SET 'tok:__rand_int__' 'user:1' EX 600) ;;
		token_consume) R_KIND=pair R_KEYS=1000000000 R_ARGS=(SET 'tok:__key__' 'user:__key__' EX 600 ';' GETDEL 'tok:__key__') ;;
		*) die "no Redis command for $1" ;;
	esac
}

mkdir -p "$RESULTS"
echo "timestamp,round,clients,system,workload,tool,tps,p50_ms,p99_ms,avg_ms,n,secs,load1,note" >"$CSV"
declare -A RPS_EST=() CONN_MS=()

# Stats lines are "k=v k=v ...": parse one into ST[k] (no subprocesses; the
# machine has 2 cores and the benchmark is running on them).
declare -A ST=()
parse_stats() {
	local kv
	ST=()
	for kv in $1; do ST[${kv%%=*}]=${kv#*=}; done
}

record() { # round clients system workload tool note   (stats in ST)
	local load1 _
	read -r load1 _ </proc/loadavg
	printf '%(%Y-%m-%dT%H:%M:%SZ)T,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s\n' -1 "$1" "$2" "$3" "$4" "$5" \
		"${ST[tps]}" "${ST[p50_ms]}" "${ST[p99_ms]}" "${ST[avg_ms]}" "${ST[n]}" "${ST[secs]}" \
		"$load1" "$6" >>"$CSV"
	printf '    %-9s %-14s c=%-3s %10s tps  p50 %7s ms  p99 %7s ms %s\n' "$3" "$4" "$2" \
		"${ST[tps]}" "${ST[p50_ms]}" "${ST[p99_ms]}" "$6" >&2
}

run_pg() { # round clients system workload script
	local round=$1 c=$2 sys=$3 wl=$4 script=$5 dir out note
	dir=$WORK/log/$sys-$wl-$c-$round
	out=$WORK/log/pgbench.out
	# pgbench 15 starts its -T clock before it connects its clients (about
	# 20 ms each here): when that took 0.5 s or more at this client count last
	# time, add as many whole seconds, so that the measured part stays about
	# SECS-WARM.  Fresh backends also need time to reach full speed on
	# workloads that touch many pages (seconds at 64 clients here, see
	# README.md): runs with C clients get C*RAMP seconds more, all dropped.
	local conn_ms=${CONN_MS[$c]:-$((c * 25))} extra=0 ramp=${RAMP_S[$c]} warm
	[ "$conn_ms" -lt 500 ] || extra=$(((conn_ms + 999) / 1000))
	warm=${WARM_S[$c]}
	for _ in 1 2; do
		rm -rf "$dir"
		mkdir -p "$dir"
		if ! "$PGBIN/pgbench" -h 127.0.0.1 -p "$PGPORT" -U bench -n -M prepared \
			-T "$((SECS + extra + ramp))" -c "$c" -j $((c < 2 ? c : 2)) -f "$BENCH/sql/$script" \
			-D "val=$VAL" -l --log-prefix="$dir/tx" bench >"$out" 2>&1; then
			cat "$out" >&2
			die "pgbench failed: $sys $wl c=$c"
		fi
		grep -q '^number of failed transactions: 0 ' "$out" ||
			{ cat "$out" >&2; die "failed transactions: $sys $wl c=$c"; }
		conn_ms=$(sed -n 's/^initial connection time = \([0-9]*\).*/\1/p' "$out")
		CONN_MS[$c]=${conn_ms:-0}
		parse_stats "$("$PY" "$BENCH/analyze.py" pglog "$warm" "$dir")"
		rm -rf "$dir"
		# the connections took (nearly) the whole run: once more, longer
		note=$(awk -v m="${ST[secs]}" -v s="$SECS" -v w="$WARM" \
			'BEGIN { if (m < 0.5 * (s - w)) printf "short:%.2fs", m }')
		[ -n "$note" ] || break
		extra=$(((CONN_MS[$c] + 999) / 1000 + 1))
	done
	record "$round" "$c" "$sys" "$wl" pgbench "$note"
}

# redis-benchmark --csv: "test","rps","avg_latency_ms","min_latency_ms",
# "p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"; the
# test name is the unescaped command line, so count fields from the right.
rb_stats() {
	awk -F'","' '/^"/ && !/^"test"/ { n = NF; gsub(/"/, "", $n)
		printf "tps=%s p50_ms=%s p99_ms=%s avg_ms=%s\n", $(n-6), $(n-3), $(n-1), $(n-5) }' "$1" | tail -n 1
}

run_redis() { # round clients workload
	local round=$1 c=$2 wl=$3 est n note="" out
	redis_cmd "$wl"
	out=$WORK/redis.out
	if [ "$R_KIND" = pair ]; then
		"$WORK/redis_pair" -h 127.0.0.1 -p "$RPORT" -c "$c" -T "$SECS" -w "$WARM" \
			-r "$R_KEYS" "${R_ARGS[@]}" >"$out" 2>&1 ||
			{ cat "$out" >&2; die "redis_pair failed: $wl c=$c"; }
		parse_stats "$(tail -n 1 "$out")"
		record "$round" "$c" redis "$wl" redis_pair "misses=${ST[nil_last]}"
		return
	fi
	# redis-benchmark runs a number of requests, not a time: a warm-up of about
	# WARM seconds (which also measures the rate), then about SECS-WARM seconds.
	est=${RPS_EST[$wl-$c]:-20000}
	n=$(awk -v r="$est" -v w="$WARM" -v c="$c" 'BEGIN { n = int(r * w); if (n < 10 * c) n = 10 * c; if (n < 500) n = 500; print n }')
	redis-benchmark -h 127.0.0.1 -p "$RPORT" -c "$c" -n "$n" -r "$KEYS" --csv "${R_ARGS[@]}" >"$out" 2>&1 ||
		{ cat "$out" >&2; die "redis-benchmark warm-up failed: $wl c=$c"; }
	parse_stats "$(rb_stats "$out")"
	n=$(awk -v r="${ST[tps]}" -v s="$SECS" -v w="$WARM" 'BEGIN { n = int(r * (s - w)); if (n < 1000) n = 1000; print n }')
	redis-benchmark -h 127.0.0.1 -p "$RPORT" -c "$c" -n "$n" -r "$KEYS" --csv "${R_ARGS[@]}" >"$out" 2>&1 ||
		{ cat "$out" >&2; die "redis-benchmark failed: $wl c=$c"; }
	grep -q '^"' "$out" || { cat "$out" >&2; die "redis-benchmark printed no CSV: $wl c=$c"; }
	parse_stats "$(rb_stats "$out")"
	RPS_EST[$wl-$c]=${ST[tps]}
	ST[n]=$n
	ST[secs]=$(awk -v n="$n" -v r="${ST[tps]}" 'BEGIN { printf "%.3f", n / r }')
	record "$round" "$c" redis "$wl" redis-benchmark ""
}

# per client count: extra seconds for fresh backends, and seconds dropped
declare -A RAMP_S=() WARM_S=()
for c in $CLIENTS; do
	RAMP_S[$c]=$(awk -v c="$c" -v r="$RAMP" 'BEGIN { print int(c * r + 0.5) }')
	WARM_S[$c]=$(awk -v w="$WARM" -v r="${RAMP_S[$c]}" 'BEGIN { print w + r }')
done

# ---------------------------------------------------------------------------
# The interleaved run
# ---------------------------------------------------------------------------
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
say "mode $MODE: rounds=$ROUNDS secs=$SECS warm=$WARM ramp=$RAMP clients=[$CLIENTS]; load average before: $LOAD_BEFORE"
for round in $(seq 1 "$ROUNDS"); do
	for c in $CLIENTS; do
		say "round $round/$ROUNDS, $c client(s)"
		run_pg "$round" "$c" authstore floor floor.sql
		run_pg "$round" "$c" authstore xact_floor xact_floor.sql
		run_redis "$round" "$c" floor
		for wl in "${WORKLOADS[@]}"; do
			[[ $wl =~ $ONLY ]] || continue
			run_pg "$round" "$c" authstore "$wl" "authstore_$wl.sql"
			run_pg "$round" "$c" peer "$wl" "peer_$wl.sql"
			run_redis "$round" "$c" "$wl"
		done
	done
done
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

# Server-side cost per call, without the network (bench/percall.sql)
if [ "$MODE" = quick ]; then PC_N=5000 PC_REPS=1; else PC_N=20000 PC_REPS=$ROUNDS; fi
say "server-side cost per call (bench/percall.sql, $PC_N calls x $PC_REPS)"
PERCALL=$(psql_bench -v n="$PC_N" -v reps="$PC_REPS" -f "$BENCH/percall.sql")

# ---------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------
T_END=$(date +%s)
META=$WORK/meta.txt
{
	echo "Command: $CMDLINE   (mode $MODE: rounds=$ROUNDS, secs=$SECS, warm=$WARM, ramp=$RAMP s/client, clients=$CLIENTS)"
	echo "Date: $(date -u '+%Y-%m-%d %H:%M UTC'); wall time $((T_END - T_BEGIN)) s"
	echo "Machine: $(nproc) cores, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -n 1), $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), kernel $(uname -r)"
	echo "Versions: $("$PGBIN/postgres" --version), $(redis-server --version | cut -d' ' -f1-3), authstore $(sed -n "s/^default_version = '\(.*\)'/\1/p" "$REPO/authstore.control") (installed $(stat -c %y "$("$PGBIN/pg_config" --pkglibdir)/authstore.so" | cut -d. -f1), repo commit $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?'))"
	echo "PostgreSQL settings: shared_buffers = 1GB, huge_pages = $(psql_su -d postgres -Atc 'SHOW huge_pages'), $([ "$STOCK" = 1 ] && echo "otherwise stock (--stock)" || echo "wal_writer_flush_after = 0 (README.md's tuning; --stock runs without it), otherwise stock")"
	echo "Load average (1/5/15 min): before $LOAD_BEFORE, after $LOAD_AFTER"
} >"$META"
{
	"$PY" "$BENCH/analyze.py" report "$CSV" "$META"
	printf '%s\n' "$PERCALL"
} | tee "$RESULTS/$STAMP.md"
echo
echo "raw results: $CSV"
