#!/usr/bin/env bash
# test/matrix.sh — authstore's whole test suite on every supported
# PostgreSQL version: the README's test command, and what CI runs.
#
#   test/matrix.sh [TREE]
#
# Runs test/run.sh (build, regression and isolation on both paths, TAP,
# load) once per version on TREE (default: the repository this script is
# in).  The version Debian ships for the host's own release (15 on Debian 12)
# runs on the host; every other one runs in a Debian chroot of the release
# that ships it (17: trixie, 18: forky), built with debootstrap from the
# host's mirror on first use and kept in /var/cache/authstore/chroots (see
# test/chroot.sh).  Each version gets a fresh copy of TREE.
#
# In each chroot, test/upgrade.sh then upgrades a cluster with authstore
# from 15 (bookworm's packages, next to the chroot's own) with pg_upgrade.
#
# Then, once on the host's 15: the Better Auth package's tests
# (clients/better-auth/test.sh), the Rust crate's (clients/rust/test.sh),
# the exporter's query file (test/exporter.sh) and the scale-out layer's
# (scaleout/test.sh: 2 nodes and a PL/Proxy proxy).
#
# Prints one summary line per suite and ends with one line
# "N passed, M failed", the sum over all of them; exits non-zero if anything
# failed.  A version that cannot run (no archive, a failed debootstrap, a
# hung run) counts as a failure, never as a skip.
#
# Run as root on Debian 12.  Environment:
#   AUTHSTORE_MATRIX_VERSIONS  versions to run (default "15 17 18")
#   AUTHSTORE_TEST_PORT        base port for run.sh (default 54329)
#   AUTHSTORE_MATRIX_TIMEOUT   seconds one version may take (default 2400)
#   AUTHSTORE_MATRIX_LOGDIR    where each suite's full log is kept
#   PG_CONFIG                  used for the host's version only (a private
#                              build); chroots always use Debian's packages
#   AUTHSTORE_SKIP_APT=1       no apt-get on the host (chroots still get
#                              what they lack)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
tree=$(cd "${1:-$here/..}" && pwd)
versions=${AUTHSTORE_MATRIX_VERSIONS:-15 17 18}
port=${AUTHSTORE_TEST_PORT:-54329}
timeout=${AUTHSTORE_MATRIX_TIMEOUT:-2400}
logdir=${AUTHSTORE_MATRIX_LOGDIR:-$(mktemp -d /tmp/authstore-matrix.XXXXXX)}
mkdir -p "$logdir"

# shellcheck source=test/chroot.sh
. "$here/chroot.sh"

if [ "$(id -u)" -ne 0 ]; then
	echo "test/matrix.sh: run as root (it builds chroots and installs packages)" >&2
	exit 2
fi
[ -x "$tree/test/run.sh" ] || { echo "test/matrix.sh: no test/run.sh in $tree" >&2; exit 2; }

# The Debian release that ships each supported PostgreSQL major version.
suite_of() {
	case $1 in
		15) echo bookworm ;;
		17) echo trixie ;;
		18) echo forky ;;
		*) return 1 ;;
	esac
}
host_suite=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")

summary=()
total_passed=0
total_failed=0
copies=()

cleanup() {
	local c
	chroot_umount
	for c in "${copies[@]}"; do rm -rf "$c"; done
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# run_suite NAME COMMAND...: run a suite that ends its output with a line
# "N passed, M failed", show its output, add its counts to the total and
# record its summary line.  A suite that exits non-zero without a failure
# in its last count line, or prints no such line, counts one failure more.
# Adding a suite (a Node package's tests, cargo test) is one call.
run_suite() {
	local name=$1 log start rc line p f
	shift
	log="$logdir/$(printf '%s' "$name" | tr -c 'A-Za-z0-9._-' '_').log"
	start=$(date +%s)
	echo "==> $name"
	# Not a pipeline: the suite runs in this shell, so that what it mounts
	# and copies is known to the EXIT trap.  In an "if", so that a failing
	# suite (or a "set -e" inside it) cannot end the matrix before its total.
	if "$@" > >(tee "$log") 2>&1; then
		rc=0
	else
		rc=$?
	fi
	wait $!
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$log" | tail -n 1 || true)
	p=0 f=0
	if [ -n "$line" ]; then
		p=${line%% passed*}
		f=${line#*, }
		f=${f%% failed}
	fi
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		f=1
	fi
	total_passed=$((total_passed + p))
	total_failed=$((total_failed + f))
	summary+=("$name: $p passed, $f failed (exit $rc, $(($(date +%s) - start)) s, log $log)")
}

# The oldest supported version, which pg_upgrade is tested from.
upgrade_from=15

# in_chroot VERSION SUITE SCRIPT: a script of the tree (test/run.sh,
# test/upgrade.sh) on a copy of the tree inside the chroot.
in_chroot() {
	local version=$1 suite=$2 script=$3 root copy rc
	if ! chroot_ensure "$suite" "postgresql-$version" "postgresql-server-dev-$version" \
		"+$(suite_of "$upgrade_from")" "postgresql-$upgrade_from" "postgresql-server-dev-$upgrade_from"; then
		echo "test/matrix.sh: no chroot for PostgreSQL $version ($suite)"
		echo "0 passed, 1 failed"
		return 1
	fi
	root=$chroot_root
	copy=$(mktemp -d "$root/tmp/authstore-matrix.XXXXXX")
	copies+=("$copy")
	tar -C "$tree" --exclude=.git --exclude=node_modules --exclude=target -cf - . | tar -C "$copy" -xf -
	chroot_mount "$root" || { echo "0 passed, 1 failed"; return 1; }
	set +e
	timeout --kill-after=60 "$timeout" chroot "$root" env -i \
		PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 TERM=dumb \
		AUTHSTORE_PG_VERSION="$version" AUTHSTORE_SKIP_APT=1 AUTHSTORE_TEST_PORT="$port" \
		AUTHSTORE_UPGRADE_FROM_VERSION="$upgrade_from" "${copy#"$root"}/$script"
	rc=$?
	set -e
	[ "$rc" -ne 124 ] || echo "test/matrix.sh: PostgreSQL $version took more than $timeout s"
	chroot_umount "$root"
	rm -rf "$copy"
	return "$rc"
}

# on_host VERSION: run.sh on the host, from a copy of the tree so that a
# build in one run does not leak into another.
on_host() {
	local version=$1 copy rc
	copy=$(mktemp -d /tmp/authstore-matrix-tree.XXXXXX)
	copies+=("$copy")
	tar -C "$tree" --exclude=.git --exclude=node_modules --exclude=target -cf - . | tar -C "$copy" -xf -
	set +e
	timeout --kill-after=60 "$timeout" env AUTHSTORE_PG_VERSION="$version" \
		AUTHSTORE_TEST_PORT="$port" "$copy/test/run.sh"
	rc=$?
	set -e
	[ "$rc" -ne 124 ] || echo "test/matrix.sh: PostgreSQL $version took more than $timeout s"
	rm -rf "$copy"
	return "$rc"
}

run_version() {
	local version=$1 suite
	if ! suite=$(suite_of "$version"); then
		echo "test/matrix.sh: PostgreSQL $version is not a supported version"
		echo "0 passed, 1 failed"
		return 1
	fi
	if [ "$suite" = "$host_suite" ]; then
		on_host "$version"
	else
		# env -i in the chroot: the host's PG_CONFIG does not get there.
		in_chroot "$version" "$suite" test/run.sh
	fi
}

for v in $versions; do
	if ! suite=$(suite_of "$v"); then
		run_suite "PostgreSQL $v (no Debian release known)" run_version "$v"
		continue
	fi
	if [ "$suite" = "$host_suite" ]; then
		run_suite "PostgreSQL $v ($suite host)" run_version "$v"
	else
		run_suite "PostgreSQL $v ($suite chroot)" run_version "$v"
		if [ "$v" != "$upgrade_from" ]; then
			run_suite "pg_upgrade $upgrade_from -> $v ($suite chroot)" in_chroot "$v" "$suite" test/upgrade.sh
		fi
	fi
done

# Suites that run once, on the host's PostgreSQL 15, after the versions.
run_suite "Better Auth package (PostgreSQL 15 host)" \
	env AUTHSTORE_BUILD=1 "$tree/clients/better-auth/test.sh"
run_suite "Rust crate (PostgreSQL 15 host)" "$tree/clients/rust/test.sh"
# After the Better Auth suite, which installed authstore for the host's 15.
run_suite "prometheus-postgres-exporter (PostgreSQL 15 host)" \
	env AUTHSTORE_TEST_PORT="$port" "$tree/test/exporter.sh"
run_suite "Scale-out with PL/Proxy (PostgreSQL 15 host)" \
	env AUTHSTORE_BUILD=1 "$tree/scaleout/test.sh"

echo
echo "==> summary (tree $tree)"
printf '%s\n' "${summary[@]}"
echo "$total_passed passed, $total_failed failed"
[ "$total_failed" -eq 0 ]
