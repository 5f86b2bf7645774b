#!/usr/bin/env bash
# bench/scaleout.sh — the PL/Proxy layer's cost per call and its key
# distribution, in one run: 2 nodes and a proxy (scaleout/cluster.sh), 8
# partitions.  pgbench runs auth_kv_get and auth_kv_set on random keys of
# 100,000, alternately directly on node 0 (database "direct", a plain
# authstore database with the same keys) and through the proxy, ROUNDS rounds
# of SECONDS s per client count, and prints tps, mean latency and the ratio
# proxy/direct latency.  Then the 100,000 keys' count per partition.
#
#   bench/scaleout.sh [SECONDS [ROUNDS]]   (default 5 s, 2 rounds)
#
# Run as root after installing authstore into PG_CONFIG's installation (default
# Debian's 15); needs postgresql-15-plproxy.  AUTHSTORE_SO_PORT (default 55500).
# Unix sockets only.  Not a quiet-machine benchmark unless the machine is.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
SO_PORT=${AUTHSTORE_SO_PORT:-55500}
SO_DIR=$(mktemp -d /tmp/authstore-so-bench.XXXXXX)
secs=${1:-5} rounds=${2:-2}
# shellcheck source=scaleout/cluster.sh
. "$here/../scaleout/cluster.sh"
trap 'so_stop_all; rm -rf "$SO_DIR"' EXIT

so_init
so_node_create 0
so_node_create 1
so_proxy_create 8 2
N0=$(so_node_port 0) P=$(so_proxy_port)
so_psql "$N0" postgres -c "CREATE DATABASE direct"
so_psql "$N0" direct -c "CREATE EXTENSION authstore"
load="SELECT count(auth_kv_set('b:' || i, repeat('x', 200), 86400)) FROM generate_series(1, 100000) i"
so_psql "$N0" direct -Atc "$load" >/dev/null
so_proxy_psql authstore -Atc "$load" >/dev/null

printf '\\set i random(1, 100000)\nSELECT auth_kv_get('"'"'b:'"'"' || :i);\n' >"$SO_DIR/get.pgb"
printf '\\set i random(1, 100000)\nSELECT auth_kv_set('"'"'b:'"'"' || :i, repeat('"'"'y'"'"', 200), 86400);\n' >"$SO_DIR/set.pgb"
chmod 644 "$SO_DIR"/*.pgb

# run WHERE SCRIPT CLIENTS: "tps latency_ms"
run() {
	local port db out
	if [ "$1" = direct ]; then port=$N0 db=direct; else port=$P db=authstore; fi
	out=$(so_pg "$so_bin/pgbench" -n -h "$SO_DIR" -p "$port" -U postgres -M prepared \
		-c "$3" -j "$(($3 < 2 ? 1 : 2))" -T "$secs" -f "$SO_DIR/$2.pgb" "$db" 2>&1)
	echo "$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' <<<"$out") $(sed -n 's/^latency average = \([0-9.]*\) ms/\1/p' <<<"$out")"
}

echo "date: $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), $secs s x $rounds rounds"
printf '%-5s %-7s %12s %12s %12s %12s %8s\n' op clients direct_tps proxy_tps direct_ms proxy_ms ratio
for op in get set; do
	for c in 1 8; do
		dt=0 pt=0 dl=0 pl=0
		for ((r = 0; r < rounds; r++)); do
			read -r t l <<<"$(run direct "$op" "$c")"
			dt=$(echo "$dt + $t" | bc -l) dl=$(echo "$dl + $l" | bc -l)
			read -r t l <<<"$(run proxy "$op" "$c")"
			pt=$(echo "$pt + $t" | bc -l) pl=$(echo "$pl + $l" | bc -l)
		done
		printf '%-5s %-7s %12.0f %12.0f %12.3f %12.3f %8.2f\n' "$op" "$c" \
			"$(echo "$dt / $rounds" | bc -l)" "$(echo "$pt / $rounds" | bc -l)" \
			"$(echo "$dl / $rounds" | bc -l)" "$(echo "$pl / $rounds" | bc -l)" "$(echo "$pl / $dl" | bc -l)"
	done
done

echo "keys per partition (100,000 keys 'b:1'..'b:100000'; partition p on node p mod 2):"
for i in 0 1; do
	so_psql "$(so_node_port "$i")" authstore -Atc \
		"SELECT 'node $i: ' || string_agg(p || '=' || n, ' ' ORDER BY p) FROM (SELECT hashtext(key) & 7 AS p, count(*) AS n FROM authstore.kv GROUP BY 1) s"
done
