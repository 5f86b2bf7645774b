#!/usr/bin/env bash
# authstore sandbox: install what is needed, build and install the extension,
# start a private PostgreSQL cluster with authstore preloaded, create the
# demo database and an application role, run a demo, say how to connect.
#
# Run as root on Debian 12 (PostgreSQL 15), 13 (17) or forky (18).  Safe to
# run again: it rebuilds, reuses the existing sandbox cluster and restarts it
# so that it loads the new library.  Debian's own cluster (port 5432) is left
# alone.
#
# Environment (optional):
#   AUTHSTORE_PG_VERSION    PostgreSQL major version (default: the one this
#                           Debian release ships: 15, 17 or 18)
#   AUTHSTORE_SANDBOX_DIR   sandbox directory (default /var/tmp/authstore-sandbox)
#   AUTHSTORE_SANDBOX_PORT  port (default 5433)
#   AUTHSTORE_SANDBOX_RESET=1  delete an existing sandbox first and start anew
set -euo pipefail

SANDBOX=${AUTHSTORE_SANDBOX_DIR:-/var/tmp/authstore-sandbox}
PORT=${AUTHSTORE_SANDBOX_PORT:-5433}
DB=authstore_demo
APP_ROLE=demo_app
DATA=$SANDBOX/data
LOG=$SANDBOX/postgresql.log

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

say() { printf '\n==> %s\n' "$*"; }
die() { printf 'sandbox.sh: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run me as root (I install packages and run PostgreSQL as the postgres user)"
case $(. /etc/os-release && echo "${VERSION_CODENAME:-}") in
	trixie) default_version=17 ;;
	forky) default_version=18 ;;
	*) default_version=15 ;;
esac
PG_VERSION=${AUTHSTORE_PG_VERSION:-$default_version}
case $PG_VERSION in '' | *[!0-9]*) die "AUTHSTORE_PG_VERSION must be a major version such as 17, not '$PG_VERSION'" ;; esac
PGBIN=/usr/lib/postgresql/$PG_VERSION/bin
case $PORT in '' | *[!0-9]*) die "AUTHSTORE_SANDBOX_PORT must be a number, not '$PORT'" ;; esac
case $SANDBOX in /*) ;; *) die "AUTHSTORE_SANDBOX_DIR must be an absolute path" ;; esac

# Run a command as the postgres OS user, from a directory it can read.
as_postgres() { (cd / && runuser -u postgres -- "$@"); }

say "Installing packages (apt-get)"
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends \
	build-essential "postgresql-$PG_VERSION" "postgresql-server-dev-$PG_VERSION" libsodium-dev ||
	die "could not install PostgreSQL $PG_VERSION; this Debian release ships $default_version (see README, Supported versions)"

say "Building and installing authstore for PostgreSQL $PG_VERSION from $REPO"
# clean first: objects built for another version must not be linked in
make -C "$REPO" PG_CONFIG="$PGBIN/pg_config" clean >/dev/null
make -C "$REPO" PG_CONFIG="$PGBIN/pg_config"
make -C "$REPO" PG_CONFIG="$PGBIN/pg_config" install

if [ "${AUTHSTORE_SANDBOX_RESET:-0}" = 1 ] && [ -d "$SANDBOX" ]; then
	say "Removing the old sandbox in $SANDBOX"
	if [ -f "$DATA/PG_VERSION" ]; then
		as_postgres "$PGBIN/pg_ctl" -D "$DATA" -m immediate stop >/dev/null 2>&1 || true
	fi
	rm -rf "$SANDBOX"
fi

mkdir -p "$SANDBOX"
chown postgres:postgres "$SANDBOX"
chmod 0755 "$SANDBOX"

if [ -f "$DATA/PG_VERSION" ] && [ "$(cat "$DATA/PG_VERSION")" != "$PG_VERSION" ]; then
	die "the sandbox in $DATA is a PostgreSQL $(cat "$DATA/PG_VERSION") cluster, not $PG_VERSION; stop it and set AUTHSTORE_SANDBOX_RESET=1 to start anew"
fi
if [ ! -f "$DATA/PG_VERSION" ]; then
	say "Creating the sandbox cluster in $DATA"
	as_postgres "$PGBIN/initdb" -D "$DATA" --username=postgres --auth=trust \
		--encoding=UTF8 --locale=C.UTF-8
	echo "include_if_exists = 'authstore-sandbox.conf'" >>"$DATA/postgresql.conf"
else
	say "Reusing the sandbox cluster in $DATA"
fi

# Written on every run, so that a changed port takes effect on the restart.
cat >"$DATA/authstore-sandbox.conf" <<EOF
# Written by scripts/sandbox.sh on every run; edit the script, not this file.
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = '$SANDBOX'
shared_preload_libraries = 'authstore'
authstore.database = '$DB'
EOF
chown postgres:postgres "$DATA/authstore-sandbox.conf"

# A restart, not a reload: the postmaster keeps the preloaded library it
# started with, and a rebuilt one is only used after a restart.
if as_postgres "$PGBIN/pg_ctl" -D "$DATA" status >/dev/null; then
	say "Restarting the sandbox server (port $PORT)"
	action=restart
else
	say "Starting the sandbox server (port $PORT)"
	action=start
fi
if ! as_postgres "$PGBIN/pg_ctl" -D "$DATA" -l "$LOG" -w -t 60 "$action" -m fast; then
	echo "--- last lines of $LOG:" >&2
	tail -n 20 "$LOG" >&2 || true
	die "could not $action the sandbox server"
fi

psql_as() {
	local user=$1 db=$2
	shift 2
	"$PGBIN/psql" -X -v ON_ERROR_STOP=1 -h "$SANDBOX" -p "$PORT" -U "$user" -d "$db" "$@"
}

say "Creating database $DB, the extension and the role $APP_ROLE"
psql_as postgres postgres -q <<SQL
SELECT 'CREATE DATABASE $DB' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '$DB') \gexec
SQL
psql_as postgres "$DB" -q <<SQL
SET client_min_messages = warning;
-- The demo database is disposable: recreate the extension so that a sandbox
-- from an earlier checkout runs this tree's install script, not a stale one.
DROP EXTENSION IF EXISTS authstore CASCADE;
CREATE EXTENSION authstore;
SELECT 'CREATE ROLE $APP_ROLE LOGIN' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$APP_ROLE') \gexec
GRANT authstore_user TO $APP_ROLE;
-- wake the authstore launcher, which re-checks its database list on a reload
SELECT pg_reload_conf() \g /dev/null
SQL

say "Demo, as $APP_ROLE (psql -U $APP_ROLE $DB -f scripts/demo.sql)"
psql_as "$APP_ROLE" "$DB" -f "$REPO/scripts/demo.sql"

say "Background workers (as the superuser postgres)"
# The launcher starts the sweeper for a database created a moment ago on its
# next check; give it a few seconds.
for _ in $(seq 1 30); do
	n=$(psql_as postgres "$DB" -At -c \
		"SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'authstore sweeper' AND datname = '$DB'")
	[ "$n" -ge 1 ] && break
	sleep 0.5
done
psql_as postgres "$DB" -P footer=off -c \
	"SELECT pid, backend_type, datname FROM pg_stat_activity WHERE backend_type LIKE 'authstore%' ORDER BY backend_type, datname"
[ "$n" -ge 1 ] || die "no authstore sweeper is running for $DB; see $LOG"

cat <<EOF

authstore sandbox is running: PostgreSQL $PG_VERSION, port $PORT, data in $DATA, log in $LOG.
Trust authentication: any local user can connect as any role. For trying things out only.

Connect as the superuser:
  psql -h $SANDBOX -p $PORT -U postgres $DB
Connect as the application role (member of authstore_user):
  psql -h $SANDBOX -p $PORT -U $APP_ROLE $DB
Node (pg) connection string:
  postgresql://$APP_ROLE@127.0.0.1:$PORT/$DB

Stop it:
  runuser -u postgres -- $PGBIN/pg_ctl -D $DATA stop
Start it again (or just re-run this script):
  runuser -u postgres -- $PGBIN/pg_ctl -D $DATA -l $LOG start
Remove it:
  AUTHSTORE_SANDBOX_RESET=1 $REPO/scripts/sandbox.sh   # rebuild from scratch, or
  runuser -u postgres -- $PGBIN/pg_ctl -D $DATA stop && rm -rf $SANDBOX
EOF
