#!/usr/bin/env bash
# clients/better-auth/test.sh — run the Better Auth package's tests.
#
# Run as root from anywhere.  Installs what the tests need (Debian's
# redis-server and PostgreSQL 15, and Node.js/npm if missing; skipped with
# AUTHSTORE_SKIP_APT=1), the package's locked dependencies (npm ci),
# optionally builds and installs authstore into PG_CONFIG's installation
# (AUTHSTORE_BUILD=1), starts one throwaway PostgreSQL cluster with authstore
# preloaded (as the postgres OS user, unix socket only), and runs the tests
# with node's test runner.  The tests start their own redis-server (loopback,
# a free port, no persistence) and Better Auth servers (loopback).
#
# Ends with one line "N passed, M failed" and exits non-zero when anything
# failed.  A `todo` test, if any, is reported on the line before and counts
# in neither number.  The installed authstore must be 0.2.0 (exact session
# lists use its owner functions).
#
# Environment: PG_CONFIG (default Debian's 15); AUTHSTORE_BA_TEST_PORT, the
# cluster's port (default 54331); AUTHSTORE_SKIP_APT=1; AUTHSTORE_BUILD=1;
# AUTHSTORE_CONCURRENCY_RUNS (default 5).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
port=${AUTHSTORE_BA_TEST_PORT:-54331}
export PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}

say() { printf '==> %s\n' "$*"; }
fail() {
	echo "$*" >&2
	echo "0 passed, 1 failed"
	exit 1
}

if [ "$(id -u)" -ne 0 ]; then
	echo "clients/better-auth/test.sh: run as root (it installs packages and runs PostgreSQL as postgres)" >&2
	exit 2
fi

if [ -z "${AUTHSTORE_SKIP_APT:-}" ]; then
	say "installing packages"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	pkgs="redis-server postgresql-15 postgresql-server-dev-15 build-essential libsodium-dev util-linux"
	command -v node >/dev/null && command -v npm >/dev/null || pkgs="$pkgs nodejs npm"
	# shellcheck disable=SC2086
	apt-get install -y -qq $pkgs >/dev/null
fi
# Debian starts a redis-server service on 6379; the tests use their own.

if [ -n "${AUTHSTORE_BUILD:-}" ]; then
	say "building and installing authstore into $("$PG_CONFIG" --pkglibdir)"
	make -s -C "$repo" >/dev/null || fail "authstore did not build"
	make -s -C "$repo" install >/dev/null || fail "authstore did not install"
fi

cd "$here"
say "npm ci"
npm ci --no-audit --no-fund --loglevel=error >/dev/null || fail "npm ci failed"

pg_bin=$("$PG_CONFIG" --bindir)
work=$(mktemp -d /tmp/authstore-ba-test.XXXXXX)
chmod 755 "$work"
chown postgres "$work"
cleanup() {
	if [ -f "$work/data/postmaster.pid" ]; then
		runuser -u postgres -- "$pg_bin/pg_ctl" -D "$work/data" -m immediate stop >/dev/null 2>&1 || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT

say "starting a throwaway cluster with authstore preloaded (port $port)"
runuser -u postgres -- "$pg_bin/initdb" -D "$work/data" -A trust -U postgres --no-sync >/dev/null
cat >>"$work/data/postgresql.conf" <<EOF
listen_addresses = ''
unix_socket_directories = '$work'
port = $port
shared_preload_libraries = 'authstore'
fsync = off
max_connections = 100
EOF
runuser -u postgres -- "$pg_bin/pg_ctl" -D "$work/data" -l "$work/log" -w start >/dev/null ||
	{ cat "$work/log"; fail "the cluster did not start"; }

say "running the tests"
export AUTHSTORE_TEST_PGHOST=$work AUTHSTORE_TEST_PGPORT=$port
set +e
node --test --test-concurrency=1 --test-reporter=tap test/ >"$work/tap" 2>&1
rc=$?
set -e
# The figures the tests record (concurrency, import) and every failure.
grep -E '^# (plain-adapter|package|import|keys|sessions valid)' "$work/tap" || true
grep -E '^not ok|^\s+not ok' "$work/tap" | grep -v '# TODO' || true

pass=$(sed -n 's/^# pass \([0-9]*\)$/\1/p' "$work/tap" | tail -1)
failed=$(sed -n 's/^# fail \([0-9]*\)$/\1/p' "$work/tap" | tail -1)
todo=$(sed -n 's/^# todo \([0-9]*\)$/\1/p' "$work/tap" | tail -1)
if [ -z "$pass" ] || [ -z "$failed" ]; then
	tail -50 "$work/tap"
	fail "the test runner printed no summary"
fi
if [ "$rc" -ne 0 ] && [ "$failed" -eq 0 ]; then
	tail -50 "$work/tap"
	failed=1
fi
[ "${todo:-0}" -gt 0 ] && echo "todo (known gaps, counted in neither number): $todo"
echo "$pass passed, $failed failed"
[ "$failed" -eq 0 ]
