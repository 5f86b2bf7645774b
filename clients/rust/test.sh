#!/usr/bin/env bash
# clients/rust/test.sh — build and test the Rust crate, offline, from
# Debian's packaged crates, against a throwaway PostgreSQL with authstore.
#
# Run as root: installs the Debian packages it needs (unless
# AUTHSTORE_SKIP_APT=1), builds and installs the extension from this tree
# into PG_CONFIG's installation (default Debian's 15), starts a cluster as
# the "postgres" OS user on AUTHSTORE_TEST_PORT (default 54390), runs
# `cargo test` and `cargo clippy --all-targets -- -D warnings`, and ends
# with one line "N passed, M failed": the tests cargo ran, plus one failure
# for clippy findings or for a build that produced no test results.
#
# The build goes to CARGO_TARGET_DIR (default /var/tmp/authstore-rust-target,
# kept between runs so that a second run is warm); cargo's home for this run
# is inside it, so ~/.cargo is not touched.  .cargo/config.toml here points
# cargo at /usr/share/cargo/registry, offline.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
port=${AUTHSTORE_TEST_PORT:-54390}
export PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/var/tmp/authstore-rust-target}
export CARGO_HOME="$CARGO_TARGET_DIR/cargo-home"

say() { printf '==> %s\n' "$*"; }

if [ "$(id -u)" -ne 0 ]; then
	echo "clients/rust/test.sh: run as root (it installs packages and the extension)" >&2
	exit 2
fi

if [ -z "${AUTHSTORE_SKIP_APT:-}" ]; then
	say "installing packages"
	export DEBIAN_FRONTEND=noninteractive
	pkgs="build-essential postgresql-15 postgresql-server-dev-15 libsodium-dev
		librust-tokio-postgres-dev librust-tokio-dev"
	# Debian's toolchain (rustc 1.63) unless one is already on PATH (e.g. rustup's)
	if ! command -v cargo >/dev/null || ! cargo clippy --version >/dev/null 2>&1; then
		pkgs="$pkgs cargo rustc rust-clippy"
	fi
	apt-get update -qq
	# shellcheck disable=SC2086
	apt-get install -y -qq $pkgs >/dev/null
fi

say "building and installing the extension"
make -C "$repo" -s >/dev/null
make -C "$repo" -s install >/dev/null
pg_bin=$("$PG_CONFIG" --bindir)

work=$(mktemp -d /tmp/authstore-rust.XXXXXX)
cleanup() {
	if [ -f "$work/data/postmaster.pid" ]; then
		runuser -u postgres -- "$pg_bin/pg_ctl" -D "$work/data" -m immediate stop >/dev/null 2>&1 || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT
chown postgres "$work"

say "starting a throwaway cluster with authstore preloaded (port $port)"
runuser -u postgres -- "$pg_bin/initdb" -D "$work/data" -A trust -U postgres >/dev/null
cat >>"$work/data/postgresql.conf" <<EOF
listen_addresses = ''
unix_socket_directories = '$work'
port = $port
shared_preload_libraries = 'authstore'
authstore.database = 'authstore_rust'
max_connections = 100
fsync = off
EOF
runuser -u postgres -- "$pg_bin/pg_ctl" -D "$work/data" -l "$work/server.log" -w start >/dev/null
runuser -u postgres -- "$pg_bin/psql" -h "$work" -p "$port" -d postgres -qAt \
	-c 'CREATE DATABASE authstore_rust' >/dev/null
runuser -u postgres -- "$pg_bin/psql" -h "$work" -p "$port" -d authstore_rust -qAt \
	-c 'CREATE EXTENSION authstore' >/dev/null
export AUTHSTORE_TEST_DSN="host=$work port=$port user=postgres dbname=authstore_rust"

cd "$here"
# Not committed (it would resolve against one registry only); one left by
# another cargo version may not even parse, so each run resolves afresh.
rm -f Cargo.lock
passed=0
failed=0

say "cargo test (target dir $CARGO_TARGET_DIR)"
test_log="$work/cargo-test.log"
start=$(date +%s)
set +e
cargo test --no-fail-fast 2>&1 | tee "$test_log"
test_rc=${PIPESTATUS[0]}
set -e
say "cargo test took $(($(date +%s) - start)) s (exit $test_rc)"
while read -r p f; do
	passed=$((passed + p))
	failed=$((failed + f))
done < <(sed -n 's/^test result: [a-zA-Z]*\. \([0-9]*\) passed; \([0-9]*\) failed.*/\1 \2/p' "$test_log")
if [ "$test_rc" -ne 0 ] && [ "$failed" -eq 0 ]; then
	echo "cargo test failed without a failing test (build error?)"
	failed=$((failed + 1))
fi

say "cargo clippy --all-targets -- -D warnings"
if cargo clippy --all-targets -- -D warnings; then
	echo "clippy: clean"
else
	echo "clippy: findings (counted as one failure)"
	failed=$((failed + 1))
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
