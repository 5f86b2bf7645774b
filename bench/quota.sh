#!/usr/bin/env bash
# bench/quota.sh — what the storage quota (authstore.max_size) costs, and
# whether auth_stats counts what a benchmark did.  (issue 14)
#
#   bench/quota.sh [--rounds N] [--secs S] [--txns T]
#
# As root.  It starts a throwaway PostgreSQL (the one $PG_CONFIG names,
# default Debian's 15; port $AUTHSTORE_BENCH_PG_PORT, default 5479; a Unix
# socket in its work directory /tmp/authstore-quota.*, no TCP) with authstore
# preloaded, loads 100,000 sessions (~200-byte JSON, TTL 1 day) as
# bench/run.sh does, and then:
#
#   1. quota cost: auth_kv_set (SET EX 3600 of a random preloaded session,
#      bench/sql/authstore_set_ttl.sql) at 16 clients (-M prepared, -j 2) for
#      S seconds, with the quota off (authstore.max_size = 0) and on (10GB,
#      never reached, so every call takes the check's full hot path), N rounds,
#      the order alternating each round (off,on / on,off / ...).  It prints
#      every run and the ratio on/off of the medians.
#   1b. the same per call in one backend, without the network: N calls of
#      auth_kv_set from one statement (as bench/percall.sql does), quota off
#      and on alternating, REPS times each; median microseconds per call.
#   2. stats against pgbench: auth_stats_reset(), then four pgbench runs of
#      exactly T transactions per client at 16 clients (set, get of a key that
#      exists half the time, a hit on one hot rate-limit key, token issue);
#      prints pgbench's own transaction counts next to auth_stats' counters.
#      They must be equal; the script fails if they are not.
#
# It uses the INSTALLED authstore library.  Everything it started is stopped,
# and its work directory deleted, on exit.  Reports go to stdout and
# bench/results/quota-<UTC timestamp>.md.
set -euo pipefail
export TZ=UTC LC_ALL=C

BENCH=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
PGBIN=$("$PG_CONFIG" --bindir)
PORT=${AUTHSTORE_BENCH_PG_PORT:-5479}
ROUNDS=3
SECS=10
PC_N=20000
PC_REPS=7
TXNS=2000
CLIENTS=16
while [ $# -gt 0 ]; do
	case "$1" in
		--rounds) ROUNDS=$2; shift 2 ;;
		--secs) SECS=$2; shift 2 ;;
		--txns) TXNS=$2; shift 2 ;;
		*) echo "usage: $0 [--rounds N] [--secs S] [--txns T]" >&2; exit 2 ;;
	esac
done

W=$(mktemp -d /tmp/authstore-quota.XXXXXX)
chown postgres "$W"
cleanup() {
	su postgres -c "$PGBIN/pg_ctl -D $W/data -m immediate stop" >/dev/null 2>&1 || true
	rm -rf "$W"
}
trap cleanup EXIT

as_pg() { su postgres -c "$*"; }
psql_b() { as_pg "$PGBIN/psql -X -q -At -h $W -p $PORT -d bench -v ON_ERROR_STOP=1 -c \"$1\""; }

as_pg "$PGBIN/initdb -D $W/data -A trust >/dev/null"
cat >> "$W/data/postgresql.conf" <<CONF
port = $PORT
listen_addresses = ''
unix_socket_directories = '$W'
shared_preload_libraries = 'authstore'
shared_buffers = 512MB
max_connections = 50
wal_writer_flush_after = 0
CONF
as_pg "$PGBIN/pg_ctl -D $W/data -l $W/log -w start" >/dev/null
as_pg "$PGBIN/createdb -h $W -p $PORT bench"
psql_b "CREATE EXTENSION authstore"
psql_b "INSERT INTO authstore.kv SELECT 'sess:' || i, '{\\\"user_id\\\":' || i || ',\\\"roles\\\":[\\\"user\\\"],\\\"csrf\\\":\\\"' || md5(i::text) || '\\\",\\\"agent\\\":\\\"' || repeat('x', 100) || '\\\"}', now() + interval '1 day' FROM generate_series(1, 100000) AS i"
psql_b "VACUUM ANALYZE authstore.kv"

VAL='{"user_id":1,"roles":["user"],"csrf":"c4ca4238a0b923820dcc509a6f75849b","agent":"'$(printf 'x%.0s' $(seq 100))'"}'
cat > "$W/get.sql" <<'SQL'
-- a GET of a key that exists half the time (100,000 of 200,000)
\set k random(1, 200000)
SELECT auth_kv_get('sess:' || :k);
SQL
cp "$BENCH/sql/authstore_set_ttl.sql" "$BENCH/sql/authstore_rl_hot.sql" \
   "$BENCH/sql/authstore_token_issue.sql" "$W/"
chown -R postgres "$W"

# pgbench run: prints "tps processed"
pgb() {
	local opts=$1 script=$2 how=$3
	as_pg "PGOPTIONS='$opts' $PGBIN/pgbench -n -M prepared -c $CLIENTS -j 2 $how -D val='$VAL' -h $W -p $PORT -f $W/$script bench" 2>&1 |
		awk '/^tps = .*without initial/ { tps = $3 }
		     /^number of transactions actually processed/ { split($6, a, "/"); n = a[1] }
		     /^number of failed transactions/ { failed = $5 }
		     END { print tps, n, (failed == "" ? 0 : failed) }'
}

TS=$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$BENCH/results"
OUT="$BENCH/results/quota-$TS.md"
{
echo "# bench/quota.sh, $TS"
echo
echo "PostgreSQL $("$PGBIN/postgres" --version | awk '{print $3}'), $(nproc) cores, load before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "## 1. auth_kv_set at $CLIENTS clients, quota off vs on (10GB, not reached), $SECS s runs"
echo
echo "| round | order | off tps | on tps | on/off |"
echo "| --- | --- | --- | --- | --- |"
} | tee "$OUT"
OFFS=()
ONS=()
for r in $(seq 1 "$ROUNDS"); do
	if [ $((r % 2)) -eq 1 ]; then order="off on"; else order="on off"; fi
	for m in $order; do
		if [ "$m" = on ]; then q=10GB; else q=0; fi
		read -r tps _ _ < <(pgb "-c authstore.max_size=$q" authstore_set_ttl.sql "-T $SECS")
		if [ "$m" = on ]; then on=$tps; else off=$tps; fi
	done
	OFFS+=("$off"); ONS+=("$on")
	echo "| $r | ${order/ /,} | $off | $on | $(awk -v a="$on" -v b="$off" 'BEGIN { printf "%.3f", a / b }') |" | tee -a "$OUT"
done
med() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
MOFF=$(med "${OFFS[@]}"); MON=$(med "${ONS[@]}")
{
echo "| median | | $MOFF | $MON | $(awk -v a="$MON" -v b="$MOFF" 'BEGIN { printf "%.3f", a / b }') |"
echo
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "## 1b. auth_kv_set per call in one backend ($PC_N calls per statement, $PC_REPS statements each way, alternating)"
echo
} | tee -a "$OUT"
PC_OFF=()
PC_ON=()
for r in $(seq 1 "$PC_REPS"); do
	if [ $((r % 2)) -eq 1 ]; then order="0 10GB"; else order="10GB 0"; fi
	for q in $order; do
		ms=$(as_pg "$PGBIN/psql -X -q -h $W -p $PORT -d bench -c \"SET authstore.max_size = '$q'\" -c '\\timing on' -c \"SELECT count(auth_kv_set('sess:' || (i % 100000 + 1), repeat('x', 200), 3600)::text) FROM generate_series(1, $PC_N) i\"" |
			awk '/^Time:/ { print $2 }')
		us=$(awk -v ms="$ms" -v n="$PC_N" 'BEGIN { printf "%.3f", ms * 1000 / n }')
		if [ "$q" = 0 ]; then PC_OFF+=("$us"); else PC_ON+=("$us"); fi
	done
done
POFF=$(med "${PC_OFF[@]}"); PON=$(med "${PC_ON[@]}")
{
echo "| | µs per call, each statement | median |"
echo "| --- | --- | --- |"
echo "| off | ${PC_OFF[*]} | $POFF |"
echo "| on | ${PC_ON[*]} | $PON |"
echo
echo "on/off: $(awk -v a="$PON" -v b="$POFF" 'BEGIN { printf "%.3f (%+.3f µs per call)", a / b, a - b }')"
echo
echo "## 2. auth_stats against pgbench ($CLIENTS clients x $TXNS transactions each)"
echo
} | tee -a "$OUT"

psql_b "SELECT auth_stats_reset()" >/dev/null
read -r _ n_set f_set < <(pgb "" authstore_set_ttl.sql "-t $TXNS")
read -r _ n_get f_get < <(pgb "" get.sql "-t $TXNS")
read -r _ n_rl f_rl < <(pgb "" authstore_rl_hot.sql "-t $TXNS")
read -r _ n_tok f_tok < <(pgb "" authstore_token_issue.sql "-t $TXNS")
IFS='|' read -r s_set s_hit s_miss s_allowed s_denied s_tok < <(psql_b "SELECT kv_sets, kv_get_hits, kv_get_misses, rl_allowed, rl_denied, tokens_issued FROM auth_stats WHERE datname = 'bench'")
ok=yes
row() {
	local what=$1 pgb_n=$2 stats_n=$3 detail=$4
	[ "$pgb_n" = "$stats_n" ] || ok=no
	echo "| $what | $pgb_n | $stats_n | $detail |"
}
{
echo "| pgbench script | pgbench transactions | auth_stats | counters |"
echo "| --- | --- | --- | --- |"
row "set (authstore_set_ttl.sql)" "$n_set" "$s_set" "kv_sets = $s_set"
row "get, half missing" "$n_get" "$((s_hit + s_miss))" "kv_get_hits $s_hit + kv_get_misses $s_miss"
row "rate-limit hot key (authstore_rl_hot.sql)" "$n_rl" "$((s_allowed + s_denied))" "rl_allowed $s_allowed + rl_denied $s_denied"
row "token issue (authstore_token_issue.sql)" "$n_tok" "$s_tok" "tokens_issued = $s_tok"
echo
echo "failed transactions reported by pgbench: set $f_set, get $f_get, rl $f_rl, token $f_tok; counts agree: $ok"
} | tee -a "$OUT"
[ "$ok" = yes ]
