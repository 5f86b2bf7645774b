#!/usr/bin/env bash
# bench/better-auth.sh — app-level benchmark: the same Better Auth server on
# @better-auth/redis-storage + Redis and on @authstore/better-auth, driven by
# autocannon (bench/better-auth/run.mjs says what it measures).
#
# Run as root after `make install` (it uses the installed library of
# PG_CONFIG, default Debian's 15) on a quiet machine: it installs the
# package's and the bench's locked npm dependencies, starts a throwaway
# PostgreSQL cluster and a redis-server of its own, and prints a table.
# AUTHSTORE_BENCH_PORT sets the cluster's port; see run.mjs for the rest.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
export PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
if [ "$(id -u)" -ne 0 ]; then
	echo "bench/better-auth.sh: run as root (it runs PostgreSQL as postgres)" >&2
	exit 2
fi
command -v redis-server >/dev/null || { echo "bench/better-auth.sh: needs redis-server (apt-get install redis-server)" >&2; exit 2; }
(cd "$repo/clients/better-auth" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
(cd "$here/better-auth" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
exec node "$here/better-auth/run.mjs"
