#!/usr/bin/env bash
# bench/security.sh — issue 13's two measurements, in one run:
#
#   bench/security.sh [--small] [--rounds N] [--secs S] [--sizes "N ..."]
#                     [--calls N] [--reps N] [--no-install] [--keep]
#
#   1. What confinement costs at 16 clients.  LOGIN roles bench_unconfined,
#      bench_twin (unconfined too) and bench_confined (a row in
#      authstore.confinement), all members of authstore_user; auth_kv_get
#      and auth_kv_set (TTL) over 100,000 'session:<n>' keys.  (1) pgbench
#      as bench_unconfined (8 clients) beside bench_confined (8), at the
#      same time, so both see the same load, and beside bench_twin as a
#      control: tps ratios.  (1b) each role alone with 16 clients, in
#      rotating order: the server's CPU per call (the backends' CPU time,
#      from the postmaster's reaped children, over the transactions).
#   2. Whether auth_kv_keys' per-call cost stays flat from 10k to 1M keys:
#      one backend times one match, a page of 100 from a random key and
#      the same page every call, under plan_cache_mode auto and
#      force_generic_plan (setup: bench/security_keys.sql).
# bench/README.md ("Confinement and key paging") describes both in full.
#
# As root.  It builds and installs authstore from this tree into $PG_CONFIG's
# PostgreSQL (default Debian's 15; --no-install uses what is installed),
# starts a throwaway server as the postgres OS user (Unix socket in its work
# directory /tmp/authstore-security.*, no TCP; port $AUTHSTORE_BENCH_PG_PORT,
# default 54870), stops it and deletes the work directory on exit.  Reports
# go to stdout and bench/results/security-<UTC timestamp>.md.
# shellcheck disable=SC2034  # KEEP, PGDATA, REDIS_PID: for bench_teardown
set -euo pipefail
export TZ=UTC LC_ALL=C

BENCH=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(dirname "$BENCH")
# shellcheck source=bench/common.sh
. "$BENCH/common.sh"

PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
PORT=${AUTHSTORE_BENCH_PG_PORT:-54870}
ROUNDS=6 SECS=10 SIZES="10000 100000 1000000" CALLS=2000 REPS=5 INSTALL=1 KEEP=0
CLIENTS=16
usage() { sed -n '4,5p' "$0" >&2; exit 2; }
while [ $# -gt 0 ]; do
	case "$1" in
		--small) ROUNDS=2; SECS=3; SIZES="10000 100000"; CALLS=500; REPS=3; shift ;;
		--rounds) ROUNDS=$2; shift 2 ;;
		--secs) SECS=$2; shift 2 ;;
		--sizes) SIZES=$2; shift 2 ;;
		--calls) CALLS=$2; shift 2 ;;
		--reps) REPS=$2; shift 2 ;;
		--no-install) INSTALL=0; shift ;;
		--keep) KEEP=1; shift ;;
		*) usage ;;
	esac
done

say() { echo "security.sh: $*" >&2; }
die() { say "$*"; exit 1; }
[ "$(id -u)" = 0 ] || die "run as root (the server runs as the postgres OS user)"
PGBIN=$("$PG_CONFIG" --bindir)

# The names common.sh's bench_teardown uses (and KEEP).
WORK=$(mktemp -d /tmp/authstore-security.XXXXXX)
PGDATA=$WORK/data
REDIS_PID=
trap bench_teardown EXIT
declare -A TPS CPU CONF_MED KMS KW KSIZE
chown postgres:postgres "$WORK" && chmod 755 "$WORK"

if [ "$INSTALL" = 1 ]; then
	say "building and installing authstore into $("$PG_CONFIG" --pkglibdir)"
	{ make -C "$REPO" PG_CONFIG="$PG_CONFIG" -j2 && make -C "$REPO" PG_CONFIG="$PG_CONFIG" install; } \
		>"$WORK/build.log" 2>&1 || { tail -n 20 "$WORK/build.log" >&2; die "build failed"; }
fi
[ -f "$("$PG_CONFIG" --pkglibdir)/authstore.so" ] || die "authstore is not installed in $PG_CONFIG's PostgreSQL"

# psql_as DB ROLE [ARGS]: psql over the socket, unaligned, stop on error.
psql_as() { local db=$1 role=$2; shift 2; as_postgres "$PGBIN/psql" -X -q -At -v ON_ERROR_STOP=1 -h "$WORK" -p "$PORT" -U "$role" -d "$db" "$@"; }
med() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }

say "starting PostgreSQL $("$PGBIN/postgres" --version | awk '{print $3}') on socket $WORK, port $PORT"
as_postgres "$PGBIN/initdb" -D "$PGDATA" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 \
	>"$WORK/initdb.log" 2>&1 || { cat "$WORK/initdb.log" >&2; die "initdb failed"; }
cat >>"$PGDATA/postgresql.conf" <<CONF
port = $PORT
listen_addresses = ''
unix_socket_directories = '$WORK'
shared_preload_libraries = 'authstore'
authstore.database = 'bench'
shared_buffers = 1GB
max_connections = 50
wal_writer_flush_after = 0
CONF
as_postgres "$PGBIN/pg_ctl" -D "$PGDATA" -l "$WORK/postgresql.log" -w -t 60 start >/dev/null ||
	{ tail -n 20 "$WORK/postgresql.log" >&2; die "could not start PostgreSQL"; }

TS=$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$BENCH/results"
OUT="$BENCH/results/security-$TS.md"
report() { tee -a "$OUT"; }

# ---- 1. confinement at 16 clients ------------------------------------------
say "part 1: roles, 100,000 sessions"
psql_as postgres postgres -c "CREATE DATABASE bench"
psql_as bench postgres <<SQL
CREATE EXTENSION authstore;
CREATE ROLE bench_unconfined LOGIN; CREATE ROLE bench_twin LOGIN; CREATE ROLE bench_confined LOGIN;
GRANT authstore_user TO bench_unconfined, bench_twin, bench_confined;
INSERT INTO authstore.confinement (role, key_prefixes, subject_prefixes, purposes)
	VALUES ('bench_confined', '{session:,rl:}', '{user:}', NULL);
INSERT INTO authstore.kv (key, value, expires_at)
	SELECT 'session:' || i, $BENCH_VALUE_SQL, now() + interval '1 day'
	  FROM generate_series(1, 100000) i;
VACUUM ANALYZE authstore.kv;
SQL
# The confinement must be in force: a key outside its prefixes is refused.
psql_as bench bench_confined -c "SELECT auth_kv_get('session:1') IS NOT NULL" | grep -qx t ||
	die "bench_confined cannot read session:1"
! psql_as bench bench_confined -c "SELECT auth_kv_get('other:1')" >/dev/null 2>&1 ||
	die "bench_confined was not refused a key outside its prefixes"
psql_as bench bench_unconfined -c "SELECT auth_kv_get('other:1') IS NULL" | grep -qx t ||
	die "bench_unconfined was refused"

cat >"$WORK/get.sql" <<'SQL'
\set k random(1, 100000)
SELECT auth_kv_get('session:' || :k);
SQL
cat >"$WORK/set.sql" <<'SQL'
\set k random(1, 100000)
SELECT auth_kv_set('session:' || :k, :val, 3600);
SQL
chown postgres "$WORK"/*.sql

# pgbench_as ROLE OP SECS CLIENTS LOG: one pgbench run (LOG: its output).
pgbench_as() {
	as_postgres "$PGBIN/pgbench" -n -M prepared -c "$4" -j "$(((($4) + 7) / 8))" -T "$3" -U "$1" \
		-D "val=$BENCH_VAL" -h "$WORK" -p "$PORT" -f "$WORK/$2.sql" bench >"$5" 2>&1 ||
		{ tail -n 5 "$5" >&2; return 1; }
}
# pgb ROLE OP SECS TAG: tps of one pgbench run of half the clients.
pgb() {
	pgbench_as "$1" "$2" "$3" "$((CLIENTS / 2))" "$WORK/pgbench-$4.log" || return 1
	awk '/^tps = .*without initial/ { printf "%.0f\n", $3 }' "$WORK/pgbench-$4.log"
}
# pair OP SECS ROLE_A ROLE_B: "tps_A tps_B", the two runs at the same time
# (A started a moment before B), so that both see the same machine.
pair() {
	pgb "$3" "$1" "$2" a >"$WORK/tps-a" &
	local a=$!
	pgb "$4" "$1" "$2" b >"$WORK/tps-b" &
	local b=$!
	{ wait "$a" && wait "$b"; } || die "pgbench failed ($1 as $3 and $4)"
	echo "$(cat "$WORK/tps-a") $(cat "$WORK/tps-b")"
}
# pm_ticks: CPU clock ticks of the postmaster's reaped children (cutime +
# cstime): a backend's CPU time is added when it exits.
pm_ticks() { awk '{ print $16 + $17 }' "/proc/$(head -n 1 "$PGDATA/postmaster.pid")/stat"; }
# no_clients: wait until every benchmark backend has exited and been reaped.
no_clients() {
	until [ "$(psql_as bench postgres -c "SELECT count(*) FROM pg_stat_activity WHERE usename LIKE 'bench\_%'")" = 0 ]; do
		sleep 0.1
	done
	sleep 0.5
}
# solo ROLE OP: "tps cpu" of one run of all the clients as ROLE alone, cpu
# being the server's CPU per transaction in microseconds: the CPU its
# backends used (counted once they have exited) over the transactions.
solo() {
	local log=$WORK/pgbench-solo.log t0 t1
	no_clients
	t0=$(pm_ticks)
	pgbench_as "$1" "$2" "$SECS" "$CLIENTS" "$log" || die "pgbench failed as $1 ($2)"
	no_clients
	t1=$(pm_ticks)
	awk -v d=$((t1 - t0)) -v hz="$(getconf CLK_TCK)" '/^number of transactions actually processed/ { n = $NF }
		/^tps = .*without initial/ { t = $3 } END { printf "%.0f %.2f\n", t, d * 1e6 / hz / n }' "$log"
}

printf '# bench/security.sh, %s\n\nPostgreSQL %s, %s cores, authstore %s, load before: %s\n\n' "$TS" \
	"$("$PGBIN/postgres" --version | awk '{print $3}')" "$(nproc)" "$(git -C "$REPO" rev-parse --short HEAD)" "$(cut -d' ' -f1-3 /proc/loadavg)" | report
printf '## 1. %s clients at once: %s as bench_unconfined, %s as the other role; %s s runs, %s rounds\n\n%s\n%s\n' \
	"$CLIENTS" "$((CLIENTS / 2))" "$((CLIENTS / 2))" "$SECS" "$ROUNDS" \
	"| round | op | other role | started first | unconfined tps | other tps | other/unconfined | load1 |" \
	"| --- | --- | --- | --- | --- | --- | --- | --- |" | report
# Warm-up, not counted: 2 s of each pair and operation.
for op in get set; do for other in confined twin; do pair "$op" 2 bench_unconfined "bench_$other" >/dev/null; done; done
for r in $(seq 1 "$ROUNDS"); do
	for op in get set; do
		for other in confined twin; do
			# The role started first alternates from round to round.
			if [ $((r % 2)) -eq 1 ]; then
				first=unconfined res=$(pair "$op" "$SECS" bench_unconfined "bench_$other")
				read -r u x <<<"$res"
			else
				first=$other res=$(pair "$op" "$SECS" "bench_$other" bench_unconfined)
				read -r x u <<<"$res"
			fi
			TPS[$op,$other,$r]=$(ratio "$x" "$u")
			echo "| $r | $op | $other | $first | $u | $x | ${TPS[$op,$other,$r]} | $(cut -d' ' -f1 /proc/loadavg) |" | report
		done
	done
done
printf '\n## 1b. server CPU per call: %s clients as one role alone, %s s runs, %s rounds\n\n%s\n%s\n' \
	"$CLIENTS" "$SECS" "$ROUNDS" "| round | op | role | tps | server CPU µs per call | load1 |" "| --- | --- | --- | --- | --- | --- |" | report
for r in $(seq 1 "$ROUNDS"); do
	for op in get set; do
		# Each role goes first in a third of the rounds, after 2 s not counted
		# (the first run after a change of operation is the slowest).
		case $((r % 3)) in
			1) order="unconfined confined twin" ;;
			2) order="confined twin unconfined" ;;
			0) order="twin unconfined confined" ;;
		esac
		pair "$op" 2 bench_unconfined bench_twin >/dev/null
		for who in $order; do
			read -r t c <<<"$(solo "bench_$who" "$op")"
			CPU[$op,$who,$r]=$c
			echo "| $r | $op | $who | $t | $c | $(cut -d' ' -f1 /proc/loadavg) |" | report
		done
		for other in confined twin; do CPU[$op,$other,$r]=$(ratio "${CPU[$op,$other,$r]}" "${CPU[$op,unconfined,$r]}"); done
	done
done
# Per operation and role: the median of the per-round ratios and their range.
for op in get set; do
	for other in confined twin; do
		for m in TPS CPU; do
			declare -n arr=$m
			rs=()
			for r in $(seq 1 "$ROUNDS"); do rs+=("${arr[$op,$other,$r]}"); done
			CONF_MED[$m,$op,$other]="$(printf '%.3f' "$(med "${rs[@]}")")|$(printf '%s\n' "${rs[@]}" | sort -g | sed -n '1p;$p' | paste -sd-)"
		done
	done
done
echo | report

# ---- 2. auth_kv_keys per call, 10k to 1M keys -------------------------------
say "part 2: auth_kv_keys per call at sizes $SIZES"
psql_as postgres postgres -c "CREATE DATABASE keys"
psql_as keys postgres <"$BENCH/security_keys.sql"
prev=0
for size in $SIZES; do
	say "filling to $size session keys"
	psql_as keys postgres <<SQL
INSERT INTO authstore.kv (key, value, expires_at)
	SELECT 'session:' || i, $BENCH_VALUE_SQL, now() + interval '1 day'
	  FROM generate_series($((prev + 1)), $size) i;
VACUUM ANALYZE authstore.kv;
SQL
	prev=$size
	KSIZE[$size]=$(psql_as keys postgres -c "SELECT pg_size_pretty(pg_table_size('authstore.kv')) || ' table, ' || pg_size_pretty(pg_relation_size('authstore.kv_pkey')) || ' key index'")
	# One backend: every timing at this size, modes and operations alternating.
	sqlf=$WORK/keys-$size.sql
	: >"$sqlf"
	for rep in $(seq 1 "$REPS"); do
		if [ $((rep % 2)) -eq 1 ]; then modes="auto force_generic_plan"; else modes="force_generic_plan auto"; fi
		for mode in $modes; do
			for op in one page hot; do
				echo "SELECT '$mode', '$op', ms, round(rows::numeric, 1), round(fetched::numeric, 1), round(buffers::numeric, 1) FROM bench_keys('$mode', '$op', $CALLS, $size);" >>"$sqlf"
			done
		done
	done
	chown postgres "$sqlf"
	while IFS='|' read -r mode op ms rows fetched buffers; do
		KMS[$size,$mode,$op]="${KMS[$size,$mode,$op]:-} $ms"
		KW[$size,$mode,$op]="$rows / $fetched / $buffers"
	done < <(psql_as keys postgres -f "$sqlf")
done

{
printf '## 2. auth_kv_keys per call in one backend (%s calls per timing, %s timings each, median)\n\n%s\n%s\n' "$CALLS" "$REPS" \
	"| keys | size | plan_cache_mode | op | ms per call (median) | each timing | per call (last timing): rows returned / heap tuples fetched / buffers |" "| --- | --- | --- | --- | --- | --- | --- |"
for size in $SIZES; do
	for mode in auto force_generic_plan; do
		for op in one page hot; do
			# shellcheck disable=SC2086  # word lists
			m=$(med ${KMS[$size,$mode,$op]}) each=$(printf '%.4f ' ${KMS[$size,$mode,$op]})
			KMS[$size,$mode,$op,med]=$m
			echo "| $size | ${KSIZE[$size]} | $mode | $op | $(printf '%.4f' "$m") | ${each% } | ${KW[$size,$mode,$op]} |"
		done
	done
done
printf '\nload after: %s\n\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
first=${SIZES%% *} last=${SIZES##* }
printf '## Result\n\n| measurement | figure |\n| --- | --- |\n'
for op in get set; do
	IFS='|' read -r cmed crange <<<"${CONF_MED[TPS,$op,confined]}"
	IFS='|' read -r tmed trange <<<"${CONF_MED[TPS,$op,twin]}"
	echo "| $op tps, $CLIENTS clients at once: confined/unconfined, median of $ROUNDS rounds | **$cmed** (rounds $crange; control twin/unconfined $tmed, rounds $trange) |"
	IFS='|' read -r cmed crange <<<"${CONF_MED[CPU,$op,confined]}"
	IFS='|' read -r tmed trange <<<"${CONF_MED[CPU,$op,twin]}"
	echo "| $op server CPU per call, $CLIENTS clients alone: confined/unconfined, median of $ROUNDS rounds | **$cmed** (rounds $crange; control twin/unconfined $tmed, rounds $trange) |"
done
for mode in auto force_generic_plan; do
	for op in one page hot; do
		a=${KMS[$first,$mode,$op,med]} b=${KMS[$last,$mode,$op,med]}
		echo "| auth_kv_keys $op, $mode: ms per call at $first / $last keys | $(printf '%.4f / %.4f' "$a" "$b"): ratio **$(ratio "$b" "$a")** |"
	done
done
echo; echo "(one = auth_kv_keys('active-sessions-42'), one key; page = auth_kv_keys('session:', <random key>, 100); hot = the same page every call, after 'session:5')"
} | report
say "report: $OUT"
