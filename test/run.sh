#!/usr/bin/env bash
# test/run.sh — set up and run authstore's whole test suite on one
# PostgreSQL version on Debian (test/matrix.sh runs it on every version).
#
# Run as root from anywhere: installs the packages it needs, builds (any
# compiler warning fails the run), installs the extension, starts a
# throwaway PostgreSQL cluster with authstore preloaded, runs the
# regression and isolation tests against it, then the TAP tests (which start
# their own clusters) and the load test.  Postgres refuses to run as root,
# so servers and TAP run as the unprivileged "postgres" OS user on a copy of
# the tree.
#
# Ends with one line "N passed, M failed" (regression files + isolation specs
# + TAP assertions + load runs) and exits non-zero when anything failed.
# Every test that did not pass counts as failed: a test the output does not
# report as passing, a TAP file that died (its unrun assertions, or 1 if it
# never said how many it planned), a suite that failed without saying why.
#
# Environment: AUTHSTORE_PG_VERSION picks Debian's PostgreSQL major version
# (default 15, Debian 12's); PG_CONFIG overrides it with any installation
# (a private build, say); AUTHSTORE_SKIP_APT=1 skips apt-get;
# AUTHSTORE_TEST_PORT picks the throwaway cluster's port (default 54329, the
# load test uses the next one).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
port=${AUTHSTORE_TEST_PORT:-54329}
version=${AUTHSTORE_PG_VERSION:-15}
case $version in '' | *[!0-9]*)
	echo "test/run.sh: AUTHSTORE_PG_VERSION must be a major version such as 17, not '$version'" >&2
	exit 2 ;;
esac
export PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/$version/bin/pg_config}

say() { printf '==> %s\n' "$*"; }
# shellcheck source=test/count.sh
. "$repo/test/count.sh"

if [ "$(id -u)" -ne 0 ]; then
	echo "test/run.sh: run as root (it installs packages and the extension)" >&2
	exit 2
fi

if [ -z "${AUTHSTORE_SKIP_APT:-}" ]; then
	say "installing packages"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq build-essential "postgresql-$version" "postgresql-server-dev-$version" \
		libsodium-dev libipc-run-perl >/dev/null
fi

# An explicit AUTHSTORE_PG_VERSION and PG_CONFIG must agree.
actual=$("$PG_CONFIG" --version | sed -nE 's/^PostgreSQL ([0-9]+).*/\1/p')
if [ -n "${AUTHSTORE_PG_VERSION:-}" ] && [ "$actual" != "$version" ]; then
	echo "test/run.sh: PG_CONFIG=$PG_CONFIG is PostgreSQL $actual, AUTHSTORE_PG_VERSION is $version" >&2
	echo "0 passed, 1 failed"
	exit 1
fi
say "PostgreSQL $("$PG_CONFIG" --version | sed 's/^PostgreSQL //') ($PG_CONFIG)"

pg_bin=$("$PG_CONFIG" --bindir)
# TAP clusters and pg_regress find initdb, pg_ctl and psql on PATH.
export PATH="$pg_bin:$PATH"

cd "$repo"
say "building (warnings are errors)"
make -s clean >/dev/null
build_log=$(mktemp)
if ! make >"$build_log" 2>&1; then
	cat "$build_log"
	echo "0 passed, 1 failed"
	exit 1
fi
if grep -q 'warning:' "$build_log"; then
	grep 'warning:' "$build_log"
	echo "build produced compiler warnings"
	echo "0 passed, 1 failed"
	exit 1
fi
rm -f "$build_log"
make -s install >/dev/null

# A copy of the tree the postgres user can write to (results, tmp_check).
work=$(mktemp -d /tmp/authstore-test.XXXXXX)
cleanup() {
	if [ -f "$work/data/postmaster.pid" ]; then
		runuser -u postgres -- "$pg_bin/pg_ctl" -D "$work/data" -m immediate stop >/dev/null 2>&1 || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT
tar -C "$repo" --exclude=.git --exclude=node_modules --exclude=target -cf - . | tar -C "$work" -xf - --one-top-level=tree
chown -R postgres "$work"
as_pg() { runuser -u postgres -- env -C "$work/tree" PATH="$PATH" PG_CONFIG="$PG_CONFIG" "$@"; }

say "starting a throwaway cluster with authstore preloaded (port $port)"
as_pg "$pg_bin/initdb" -D "$work/data" -A trust -U postgres >/dev/null
cat >>"$work/data/postgresql.conf" <<EOF
listen_addresses = ''
unix_socket_directories = '$work'
port = $port
shared_preload_libraries = 'authstore'
# The sweeper must not be connected to the databases pg_regress drops and
# recreates; the worker is covered by the TAP tests.
authstore.database = 'postgres'
EOF
as_pg "$pg_bin/pg_ctl" -D "$work/data" -l "$work/server.log" -w start >/dev/null

passed=0
failed=0

# One make call per suite, so that a failure in one does not hide the other.
# Each suite runs twice against the same expected files: with the direct
# path (the default) and with authstore.direct_access = off, where every
# function runs its SQL statement.  Same output = same behaviour.
for path in direct statement; do
	case $path in
		direct) options= ;;
		statement) options="-c authstore.direct_access=off" ;;
	esac
	for suite in regression isolation; do
		say "$suite tests, $path path"
		case $suite in
			regression) only="ISOLATION=" only_var=REGRESS diffs="$work/tree/regression.diffs" ;;
			isolation) only="REGRESS=" only_var=ISOLATION diffs="$work/tree/output_iso/regression.diffs" ;;
		esac
		rm -f "$diffs"
		set +e
		as_pg env PGHOST="$work" PGPORT="$port" PGUSER=postgres PGOPTIONS="$options" \
			make installcheck "$only" TAP_TESTS= >"$work/$suite.log" 2>&1
		rc=$?
		set -e
		cat "$work/$suite.log"
		count_regress "$work/$suite.log" "$rc" "$(make_list "$repo" "$only_var")"
		passed=$((passed + ok))
		failed=$((failed + bad))
		if [ -s "$diffs" ]; then
			say "$diffs ($path path)"
			cat "$diffs"
		fi
	done
done

say "TAP tests"
set +e
as_pg make prove_installcheck >"$work/prove.log" 2>&1
rc=$?
set -e
cat "$work/prove.log"
count_tap "$work/prove.log" "$rc" "$repo/test/t"
if [ "$rc" -ne 0 ]; then
	for log in "$work"/tree/tmp_check/log/*; do
		[ -f "$log" ] || continue
		say "$log (last 40 lines)"
		tail -n 40 "$log"
	done
fi
passed=$((passed + tap_ok))
failed=$((failed + tap_bad))

# Invariants under concurrency (atomic take/consume, incr, rate limit, expiry)
# with 16 clients against its own cluster, on the direct path and on the
# statement path; see test/load/README.md for long runs.
for path in direct statement; do
	case $path in
		direct) args="--duration 10" ;;
		statement) args="--duration 5 --statement-path" ;;
	esac
	say "load test ($path path, $args, 16 clients)"
	# shellcheck disable=SC2086
	if "$repo/test/load/run.sh" $args --clients 16 --port $((port + 1)) >"$work/load.log" 2>&1; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
	fi
	tail -n 45 "$work/load.log"
done

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
