#!/usr/bin/env bash
# test/upgrade.sh — pg_upgrade with authstore installed, from an older
# PostgreSQL to a newer one (test/upgrade/*.pl).  test/matrix.sh runs it in
# the chroots for 15 -> 17 and 15 -> 18.
#
# Run as root on a machine (or chroot) that has both versions and their
# server headers (Debian's postgresql-NN and postgresql-server-dev-NN):
# builds and installs authstore for both, then runs the TAP test as the
# "postgres" OS user on a copy of the tree.  Ends with one line
# "N passed, M failed"; exits non-zero when anything failed.
#
# Environment: AUTHSTORE_PG_VERSION (the new version, default 17),
# AUTHSTORE_UPGRADE_FROM_VERSION (the old one, default 15).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
new=${AUTHSTORE_PG_VERSION:-17}
old=${AUTHSTORE_UPGRADE_FROM_VERSION:-15}

say() { printf '==> %s\n' "$*"; }
# shellcheck source=test/count.sh
. "$repo/test/count.sh"

if [ "$(id -u)" -ne 0 ]; then
	echo "test/upgrade.sh: run as root (it installs the extension)" >&2
	exit 2
fi

cd "$repo"
for v in "$old" "$new"; do
	pg_config=/usr/lib/postgresql/$v/bin/pg_config
	if [ ! -x "$pg_config" ]; then
		echo "test/upgrade.sh: PostgreSQL $v is not installed (no $pg_config)"
		echo "0 passed, 1 failed"
		exit 1
	fi
	say "building and installing authstore for PostgreSQL $v (warnings are errors)"
	make -s clean PG_CONFIG="$pg_config" >/dev/null
	build_log=$(mktemp)
	if ! make PG_CONFIG="$pg_config" >"$build_log" 2>&1 || grep -q 'warning:' "$build_log"; then
		cat "$build_log"
		echo "0 passed, 1 failed"
		exit 1
	fi
	rm -f "$build_log"
	make -s install PG_CONFIG="$pg_config" >/dev/null
done

export PG_CONFIG=/usr/lib/postgresql/$new/bin/pg_config
pg_bin=$("$PG_CONFIG" --bindir)
export PATH="$pg_bin:$PATH"
work=$(mktemp -d /tmp/authstore-upgrade.XXXXXX)
trap 'rm -rf "$work"' EXIT
tar -C "$repo" --exclude=.git --exclude=node_modules --exclude=target -cf - . | tar -C "$work" -xf - --one-top-level=tree
chown -R postgres "$work"

say "pg_upgrade from PostgreSQL $old to $new"
set +e
runuser -u postgres -- env -C "$work/tree" PATH="$PATH" PG_CONFIG="$PG_CONFIG" \
	AUTHSTORE_UPGRADE_FROM="/usr/lib/postgresql/$old" \
	make prove_installcheck PROVE_TESTS='test/upgrade/*.pl' >"$work/prove.log" 2>&1
rc=$?
set -e
cat "$work/prove.log"
count_tap "$work/prove.log" "$rc" "$repo/test/upgrade"
if [ "$rc" -ne 0 ]; then
	for log in "$work"/tree/tmp_check/log/* "$work"/tree/tmp_check/t_*_new_data/pgdata/pg_upgrade_output.d/*/log/*; do
		[ -f "$log" ] || continue
		say "$log (last 40 lines)"
		tail -n 40 "$log"
	done
fi
echo "$tap_ok passed, $tap_bad failed"
[ "$tap_bad" -eq 0 ]
