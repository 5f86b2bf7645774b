#!/usr/bin/env bash
# scaleout/test.sh — the scale-out layer's tests: 2 authstore nodes and a
# PL/Proxy proxy (3 local PostgreSQL clusters), 8 partitions.
#
#   1. the API through the proxy equals one node: scaleout/sql/api.sql run on
#      a node directly and through the proxy, outputs compared;
#   2. routing: 8000 keys through the proxy, each on the node of its
#      partition, per-partition counts printed; a token with a tampered
#      prefix rejected;
#   3. concurrency through the proxy (pgbench, 8 clients): take exactly once,
#      set-if-not-exists one winner, rate limit never over max;
#   4. node 1 stopped: its partitions fail fast with an error naming no key,
#      node 0's keep working; node 1 (durable mode) crashed and restarted:
#      committed writes are back;
#   5. partition 3 moved from node 1 to node 0 with its data;
#   6. the Better Auth package's flow tests (contract, concurrency), unchanged,
#      with the proxy as their cluster.
#
# Run as root.  Installs postgresql-15-plproxy (and what the Better Auth tests
# need) with apt unless AUTHSTORE_SKIP_APT=1; AUTHSTORE_BUILD=1 builds and
# installs authstore into PG_CONFIG's installation first.  Environment:
# PG_CONFIG (default Debian's 15), AUTHSTORE_SO_PORT (default 55300; uses
# port .. port+99).  Ends with "N passed, M failed"; exits non-zero on failure.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
export PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
SO_PORT=${AUTHSTORE_SO_PORT:-55300}
SO_DIR=$(mktemp -d /tmp/authstore-so-test.XXXXXX)
passed=0 failed=0

ok() { passed=$((passed + 1)); echo "ok - $*"; }
notok() { failed=$((failed + 1)); echo "not ok - $*"; }
check() { # check NAME COMMAND...: ok when the command succeeds
	local name=$1
	shift
	if "$@"; then ok "$name"; else notok "$name"; fi
}
finished=0
finish() {
	finished=1
	echo "$passed passed, $failed failed"
	[ "$failed" -eq 0 ]
}
# a step that fails outside a check (set -e) still ends with the count line
aborted() {
	[ "$finished" = 1 ] && return
	notok "the test stopped early (see the error above)"
	finish || true
}

[ "$(id -u)" -eq 0 ] || { echo "scaleout/test.sh: run as root" >&2; exit 2; }
if [ -z "${AUTHSTORE_SKIP_APT:-}" ]; then
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	pkgs="postgresql-15 postgresql-15-plproxy postgresql-server-dev-15 postgresql-client-15 build-essential libsodium-dev"
	command -v node >/dev/null && command -v npm >/dev/null || pkgs="$pkgs nodejs npm"
	# shellcheck disable=SC2086
	apt-get install -y -qq $pkgs >/dev/null
fi
if [ -n "${AUTHSTORE_BUILD:-}" ]; then
	if ! { make -s -C "$repo" >/dev/null && make -s -C "$repo" install >/dev/null; }; then
		notok "authstore builds and installs"
		finish
		exit 1
	fi
fi
[ -f /usr/lib/postgresql/15/lib/plproxy.so ] ||
	{ notok "postgresql-15-plproxy is installed (apt-get install postgresql-15-plproxy)"; finish; exit 1; }
# shellcheck source=scaleout/cluster.sh
. "$here/cluster.sh"
trap 'aborted; so_stop_all; rm -rf "$SO_DIR"' EXIT

so_init
so_node_create 0
so_node_create 1
so_proxy_create 8 2
ok "2 nodes and a proxy with 8 partitions set up"
P=$(so_proxy_port)
N0=$(so_node_port 0)
N1=$(so_node_port 1)
proxy() { so_proxy_psql authstore -At "$@"; }
onnode() { local i=$1; shift; so_psql "$(so_node_port "$i")" authstore -At "$@"; }

# 1. the API: one node directly (its own database) against the proxy
so_psql "$N0" postgres -c "CREATE DATABASE single"
so_psql "$N0" single -c "CREATE EXTENSION authstore"
so_psql "$N0" single -v ON_ERROR_STOP=0 -f "$here/sql/api.sql" >"$SO_DIR/api.node" 2>&1 || true
so_proxy_psql authstore -v ON_ERROR_STOP=0 -f "$here/sql/api.sql" >"$SO_DIR/api.proxy" 2>&1 || true
if diff -u "$SO_DIR/api.node" "$SO_DIR/api.proxy"; then
	ok "api.sql: the proxy's output equals one node's ($(wc -l <"$SO_DIR/api.node") lines)"
else
	notok "api.sql: the proxy's output differs from one node's"
fi
check "api.sql ran to its end" grep -q "auth_kv_clear" "$SO_DIR/api.proxy"
check "api.sql: its 14 bad-input statements fail on both" test "$(grep -c "ERROR" "$SO_DIR/api.proxy")" -eq 14

# 2. routing and distribution
proxy -c "SELECT count(auth_kv_set('dist:' || i, 'x')) FROM generate_series(1, 8000) i" >/dev/null
dist() { onnode "$1" -c "SELECT hashtext(key) & 7 AS p, count(*) FROM authstore.kv WHERE key LIKE 'dist:%' GROUP BY 1 ORDER BY 1"; }
d0=$(dist 0 | tr '\n' ' ') d1=$(dist 1 | tr '\n' ' ')
echo "# keys per partition (partition|count), node 0: $d0"
echo "# keys per partition (partition|count), node 1: $d1"
wrong=$( (dist 0 | awk -F'|' '$1 % 2 != 0'; dist 1 | awk -F'|' '$1 % 2 != 1') | wc -l)
check "every key is on the node of its partition" test "$wrong" -eq 0
check "all 8 partitions hold keys, each within 20% of 1000" \
	test "$( (dist 0; dist 1) | awk -F'|' '$2 >= 800 && $2 <= 1200' | wc -l)" -eq 8
check "keys() through the proxy lists 8000 dist: keys" test "$(proxy -c "SELECT count(*) FROM auth_kv_keys('dist:')")" -eq 8000
proxy -c "SELECT auth_kv_clear('dist:')" >/dev/null

# a token whose prefix is changed to a partition of the other node is not found
tok=$(proxy -c "SELECT auth_token_issue('user:tamper', 'reset', 600)")
alt=$(((${tok%%.*} + 1) % 8)).${tok#*.}
check "a token with a tampered prefix is rejected, the real one verifies" test "$(proxy -c "
	SELECT (auth_token_verify('$alt', 'reset') IS NULL)::text || '/' || auth_token_verify('$tok', 'reset')")" = "true/user:tamper"

# 3. concurrency invariants through the proxy
# shellcheck source=scaleout/concurrency.sh
. "$here/concurrency.sh"

# 4. a node stopped, then crashed in durable mode and restarted
# shellcheck source=scaleout/failure.sh
. "$here/failure.sh"

# 5. moving partition 3 (node 1) to node 0
# shellcheck source=scaleout/move.sh
. "$here/move.sh"

# 6. the Better Auth package's flow tests against the proxy
# shellcheck source=scaleout/betterauth.sh
. "$here/betterauth.sh"

finish
