#!/bin/bash
# test/exporter.sh -- monitoring/authstore-exporter.yaml works with the
# Debian package prometheus-postgres-exporter: start a throwaway server with
# authstore preloaded on loopback, make known calls, start the exporter with
# the query file, scrape /metrics on loopback and check the authstore series.
# Prints "N passed, M failed".  Run as root (servers run as "postgres").
# Installs the exporter with apt unless AUTHSTORE_SKIP_APT=1; authstore
# must be installed for PG_CONFIG already (test/matrix.sh runs this after
# a suite that installs it).
#
#   PG_CONFIG=... AUTHSTORE_TEST_PORT=54150 test/exporter.sh
#
# Ports: the server on AUTHSTORE_TEST_PORT + 2, the exporter on + 3.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
pg_bin=$("$PG_CONFIG" --bindir)
base=${AUTHSTORE_TEST_PORT:-54150}
port=$((base + 2))
eport=$((base + 3))
exporter=$(command -v prometheus-postgres-exporter || true)
if [ -z "$exporter" ] && [ "${AUTHSTORE_SKIP_APT:-}" != 1 ]; then
	echo "==> installing prometheus-postgres-exporter"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq prometheus-postgres-exporter >/dev/null
	# the package starts a service of its own; ours runs on our port only
	systemctl disable --now prometheus-postgres-exporter >/dev/null 2>&1 || true
	exporter=$(command -v prometheus-postgres-exporter || true)
fi

passed=0
failed=0
check() {
	local name=$1
	shift
	if "$@"; then
		echo "ok - $name"
		passed=$((passed + 1))
	else
		echo "not ok - $name"
		failed=$((failed + 1))
	fi
}

if [ -z "$exporter" ]; then
	echo "prometheus-postgres-exporter is not installed (apt-get install prometheus-postgres-exporter)"
	echo "0 passed, 1 failed"
	exit 1
fi

work=$(mktemp -d /tmp/authstore-exporter.XXXXXX)
exporter_pid=
cleanup() {
	if [ -n "$exporter_pid" ]; then
		kill "$exporter_pid" 2>/dev/null || true
		wait "$exporter_pid" 2>/dev/null || true
	fi
	if [ -f "$work/data/postmaster.pid" ]; then
		runuser -u postgres -- "$pg_bin/pg_ctl" -D "$work/data" -m immediate stop >/dev/null 2>&1 || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT
chown postgres "$work"

runuser -u postgres -- "$pg_bin/initdb" -D "$work/data" -A trust -U postgres >/dev/null
cat >>"$work/data/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
unix_socket_directories = '$work'
port = $port
shared_preload_libraries = 'authstore'
authstore.sweep_interval = '100ms'
EOF
runuser -u postgres -- "$pg_bin/pg_ctl" -D "$work/data" -l "$work/server.log" -w start >/dev/null
psql() { runuser -u postgres -- "$pg_bin/psql" -X -q -At -h "$work" -p "$port" -U postgres -v ON_ERROR_STOP=1 "$@"; }

psql -d postgres -c 'CREATE EXTENSION authstore' \
	-c 'CREATE ROLE exporter LOGIN IN ROLE pg_monitor' >/dev/null
# 3 sets (one already expired at commit), 2 hits, 1 miss, 1 allowed and 1
# denied rate-limit hit.
psql -d postgres >/dev/null <<'EOF'
BEGIN;
SELECT auth_kv_set('a', 'v'), auth_kv_set('b', 'v'), auth_kv_set('gone', 'v', 0.05);
SELECT pg_sleep(0.1);
COMMIT;
SELECT auth_kv_get('a'), auth_kv_get('b'), auth_kv_get('nope');
SELECT allowed FROM auth_rl_hit('rl', 60, 1);
SELECT allowed FROM auth_rl_hit('rl', 60, 1);
EOF
# until the sweeper has deleted the expired key
for _ in $(seq 50); do
	[ "$(psql -d postgres -c 'SELECT sweep_rows_deleted FROM auth_stats WHERE datname = current_database()')" = 1 ] && break
	sleep 0.1
done

DATA_SOURCE_NAME="postgresql://exporter@127.0.0.1:$port/postgres?sslmode=disable" \
	"$exporter" --extend.query-path="$repo/monitoring/authstore-exporter.yaml" \
	--web.listen-address="127.0.0.1:$eport" >"$work/exporter.log" 2>&1 &
exporter_pid=$!

metrics=
for _ in $(seq 50); do
	metrics=$(curl -sf "http://127.0.0.1:$eport/metrics" || true)
	grep -q '^authstore_kv_sets' <<<"$metrics" && break
	sleep 0.2
done
echo "$metrics" >"$work/metrics"
echo "# authstore series scraped from http://127.0.0.1:$eport/metrics:"
grep '^authstore_' "$work/metrics" | sed 's/^/#   /' || true

series() { grep -E "^authstore_$1\{datname=\"postgres\"[^}]*\} $2\$" "$work/metrics" >/dev/null; }
check 'the exporter serves /metrics on loopback' test -n "$metrics"
check 'authstore_kv_sets is 3' series kv_sets 3
check 'authstore_kv_get_hits is 2' series kv_get_hits 2
check 'authstore_kv_get_misses is 1' series kv_get_misses 1
check 'authstore_rl_allowed is 1' series rl_allowed 1
check 'authstore_rl_denied is 1' series rl_denied 1
check 'authstore_sweep_rows_deleted is 1' series sweep_rows_deleted 1
check 'authstore_sweep_cycles is reported' grep -qE '^authstore_sweep_cycles\{datname="postgres"[^}]*\} [1-9]' "$work/metrics"
check 'all 29 authstore series are there' test "$(grep -cE '^authstore_[a-z_]+\{datname="postgres"' "$work/metrics")" -eq 29
check 'the exporter logged no error' bash -c "! grep -qiE 'level=error' '$work/exporter.log'"
if [ "$failed" -ne 0 ]; then
	echo "# exporter log:"
	sed 's/^/#   /' "$work/exporter.log"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
