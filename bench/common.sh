# shellcheck shell=bash
# bench/common.sh — sourced by bench/run.sh and bench/growth.sh: what both
# need to run throwaway servers as root.  The caller sets PGBIN, PGDATA,
# PGPORT, RPORT, WORK, KEEP and REDIS_PID and defines say().

# shellcheck source=bench/hugepages.sh
. "$(dirname "${BASH_SOURCE[0]}")/hugepages.sh"

# PostgreSQL refuses to run as root; cd / so that postgres can read its cwd.
as_postgres() { (cd / && runuser -u postgres -- "$@"); }
psql_su() { "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PGPORT" -U postgres "$@"; }
rcli() { redis-cli -h 127.0.0.1 -p "$RPORT" "$@"; }

# bench_packages PACKAGE...: install those not installed (apt-get), unless
# the caller's APT is 0, which makes a missing package an error; then check
# that authstore is installed.  Uses the caller's say() and die().
bench_packages() {
	local missing
	missing=$(dpkg-query -W -f='${db:Status-Abbrev} ${Package}\n' "$@" 2>/dev/null |
		awk '$1 == "ii" { print $2 }' | sort | comm -13 - <(printf '%s\n' "$@" | sort) |
		tr '\n' ' ')
	if [ -n "$missing" ]; then
		[ "$APT" = 1 ] || die "missing packages: $missing(--no-apt given)"
		say "installing: $missing"
		export DEBIAN_FRONTEND=noninteractive
		apt-get update -qq
		# shellcheck disable=SC2086  # a word list
		apt-get install -y -qq --no-install-recommends $missing >/dev/null
	fi
	[ -f "$("$PGBIN/pg_config" --pkglibdir)/authstore.so" ] ||
		die "authstore is not installed: run 'make && make install' in the repository first"
}

# bench_start_postgres NAME DB SETTINGS: initdb in $PGDATA and start a
# throwaway server for script NAME: loopback on $PGPORT, its socket in
# $WORK, authstore preloaded with its worker on database DB, and the
# postgresql.conf lines in SETTINGS.  Reserve huge pages before.  Uses the
# caller's say() and die().
bench_start_postgres() {
	say "starting PostgreSQL 15 on 127.0.0.1:$PGPORT (work dir $WORK)"
	chown postgres:postgres "$WORK"
	as_postgres "$PGBIN/initdb" -D "$PGDATA" -U postgres --auth=trust -E UTF8 \
		--locale=C.UTF-8 >"$WORK/initdb.log" 2>&1 || { cat "$WORK/initdb.log" >&2; die "initdb failed"; }
	cat >>"$PGDATA/postgresql.conf" <<EOF

# $1
listen_addresses = '127.0.0.1'
port = $PGPORT
unix_socket_directories = '$WORK'
shared_preload_libraries = 'authstore'
authstore.database = '$2'
$3
EOF
	as_postgres "$PGBIN/pg_ctl" -D "$PGDATA" -l "$WORK/postgresql.log" -w -t 60 start >/dev/null ||
		{ tail -n 20 "$WORK/postgresql.log" >&2; die "could not start PostgreSQL"; }
}

# The end of every run, after an error or Ctrl-C too (from the caller's EXIT
# trap): stop PostgreSQL (fast, else immediate) and Redis, give the huge
# pages back, and delete the work directory unless --keep.
bench_teardown() {
	if [ -f "$PGDATA/postmaster.pid" ]; then
		as_postgres "$PGBIN/pg_ctl" -D "$PGDATA" -m fast -w stop >/dev/null 2>&1 ||
			as_postgres "$PGBIN/pg_ctl" -D "$PGDATA" -m immediate stop >/dev/null 2>&1
	fi
	if [ -n "$REDIS_PID" ]; then
		kill "$REDIS_PID" 2>/dev/null
		wait "$REDIS_PID" 2>/dev/null
	fi
	hugepages_restore
	if [ "$KEEP" = 1 ]; then
		say "kept $WORK"
	else
		rm -rf "$WORK"
	fi
}

# The value the set workloads write: a 204-byte Better Auth session.
# shellcheck disable=SC2034  # used by the scripts that source this file
BENCH_VAL='{"session":{"id":"s_000000048213","userId":"u_48213","expiresAt":"2026-12-31T23:59:59.000Z","ipAddress":"203.0.113.7","userAgent":"Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"}}'

# The preloaded value of session i, as an SQL expression in i (~200 bytes).
BENCH_VALUE_SQL="format('{\"session\":{\"id\":\"s_%s\",\"userId\":\"u_%s\",\"expiresAt\":\"2026-12-31T23:59:59.000Z\",\"ipAddress\":\"203.0.113.7\",\"userAgent\":\"Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\"}}', lpad(i::text, 12, '0'), i)"

# bench_load_sessions FUNCTION KEYS: SQL that stores KEYS sessions
# 'sess:1'..'sess:KEYS' (TTL 1 day) with FUNCTION, which is auth_kv_set or
# the peer's peer.kv_set.
bench_load_sessions() {
	cat <<SQL
DO \$\$
BEGIN
	FOR i IN 1..$2 LOOP
		PERFORM $1('sess:' || i, $BENCH_VALUE_SQL, 86400);
	END LOOP;
END
\$\$;
SQL
}
