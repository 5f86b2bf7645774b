# shellcheck shell=bash
# scaleout/cluster.sh — shell functions (sourced by demo.sh, test.sh and
# bench/scaleout.sh) that run authstore nodes and a PL/Proxy proxy as local
# PostgreSQL clusters under one directory.  Not a program by itself.
#
# Layout under $SO_DIR: node<i>/ (a node: the real extension preloaded,
# database "authstore"), proxy/ (the proxy: its own PostgreSQL installation
# in pgproxy/, where the extension called authstore is the proxy flavour of
# scaleout/extension), every socket in $SO_DIR itself, nothing on TCP.
# Ports: node i on $SO_PORT + i, the proxy on $SO_PORT + 99 (never a node's).
#
# Needs: PG_CONFIG (an installation with authstore installed), SO_DIR,
# SO_PORT; run as root (the clusters run as the postgres OS user).

so_here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
so_bin=$("$PG_CONFIG" --bindir)
so_proxy_bin=$SO_DIR/pgproxy$so_bin

so_pg() { runuser -u postgres -- "$@"; }

# so_psql PORT DB ARGS...: psql as postgres, quiet, stop on the first error.
so_psql() {
	local port=$1 db=$2
	shift 2
	so_pg "$so_bin/psql" -X -q -v ON_ERROR_STOP=1 -h "$SO_DIR" -p "$port" -d "$db" "$@"
}

so_node_port() { echo $((SO_PORT + $1)); }
so_proxy_port() { echo $((SO_PORT + 99)); }

# so_init: the directory, owned by postgres, readable by all (sockets).
so_init() {
	mkdir -p "$SO_DIR"
	chmod 755 "$SO_DIR"
	chown postgres "$SO_DIR"
}

# so_initdb BINDIR DATADIR PORT PRELOAD
so_initdb() {
	local bindir=$1 data=$2 port=$3 preload=$4
	so_pg "$bindir/initdb" -D "$data" -A trust -U postgres --no-sync >/dev/null
	cat >>"$data/postgresql.conf" <<CONF
listen_addresses = ''
unix_socket_directories = '$SO_DIR'
port = $port
shared_preload_libraries = '$preload'
fsync = off
max_connections = 200
CONF
}

so_start() { so_pg "$1/pg_ctl" -D "$2" -l "$2.log" -w start >/dev/null; }
so_stop() { so_pg "$1/pg_ctl" -D "$2" -m "${3:-fast}" -w stop >/dev/null; }

# so_node_create I: node I with database authstore, the extension, and the
# login role the proxy connects as (authstore_proxy, a member of
# authstore_user and nothing else).
so_node_create() {
	local i=$1 port
	port=$(so_node_port "$i")
	so_initdb "$so_bin" "$SO_DIR/node$i" "$port" authstore
	so_start "$so_bin" "$SO_DIR/node$i"
	so_psql "$port" postgres -c "CREATE DATABASE authstore"
	so_psql "$port" authstore <<'SQL'
CREATE EXTENSION authstore;
CREATE ROLE authstore_proxy LOGIN;
GRANT authstore_user TO authstore_proxy;
SQL
}

# so_proxy_install: a copy of PG_CONFIG's installation for the proxy, whose
# extension "authstore" is the proxy flavour and which has PL/Proxy
# (Debian's postgresql-15-plproxy files).  PostgreSQL finds its share and lib
# directories relative to its binaries, so the copy works where it lies.
so_proxy_install() {
	local root=$SO_DIR/pgproxy lib share home plp_lib=/usr/lib/postgresql/15/lib
	local plp_share=/usr/share/postgresql/15/extension
	lib=$("$PG_CONFIG" --pkglibdir)
	share=$("$PG_CONFIG" --sharedir)
	home=$(dirname "$("$PG_CONFIG" --bindir)")
	# the same absolute layout under $root keeps the relative paths
	mkdir -p "$root$(dirname "$home")" "$root$(dirname "$share")"
	cp -a "$home" "$root$(dirname "$home")/"
	cp -a "$share" "$root$(dirname "$share")/"
	local pl=$root$lib sh=$root$share/extension
	[ -f "$pl/plproxy.so" ] || cp "$plp_lib/plproxy.so" "$pl/"
	cp -n "$plp_share"/plproxy* "$sh/" 2>/dev/null || true
	rm -f "$sh"/authstore--*.sql "$sh/authstore.control" "$pl/authstore.so"
	cp "$so_here/extension/authstore.control" "$so_here/extension/authstore--0.2.0.sql" "$sh/"
}

# so_config_sql N NODES: the cluster's configuration in SQL: N partitions
# (a power of two) dealt round-robin over NODES nodes.  Partition p is on
# node p mod NODES.
so_config_sql() {
	local n=$1 nodes=$2 p opts=""
	for ((p = 0; p < n; p++)); do
		[ -n "$opts" ] && opts="$opts,"
		opts="$opts p$p '$(so_connstr $((p % nodes)))'"
	done
	cat <<SQL
CREATE EXTENSION IF NOT EXISTS plproxy;
CREATE SERVER authstore FOREIGN DATA WRAPPER plproxy
	OPTIONS (connection_lifetime '1800',$opts);
CREATE USER MAPPING FOR PUBLIC SERVER authstore OPTIONS (user 'authstore_proxy');
DO \$\$ BEGIN
	IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'authstore_user') THEN
		CREATE ROLE authstore_user NOLOGIN;
	END IF;
	IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'authstore_ratelimit') THEN
		CREATE ROLE authstore_ratelimit NOLOGIN;
	END IF;
END \$\$;
GRANT USAGE ON FOREIGN SERVER authstore TO authstore_user, authstore_ratelimit;
SQL
}

so_connstr() { echo "host=$SO_DIR port=$(so_node_port "$1") dbname=authstore connect_timeout=2"; }

# so_proxy_create N NODES: the proxy cluster; the configuration goes into
# template1, so that every database created later (the Better Auth tests
# make one per file) has it, and into database authstore with the extension.
so_proxy_create() {
	local n=$1 nodes=$2 port
	port=$(so_proxy_port)
	so_proxy_install
	so_initdb "$so_proxy_bin" "$SO_DIR/proxy" "$port" ""
	so_start "$so_proxy_bin" "$SO_DIR/proxy"
	so_config_sql "$n" "$nodes" | so_proxy_psql template1
	so_proxy_psql postgres -c "CREATE DATABASE authstore"
	so_proxy_psql authstore -c "CREATE EXTENSION authstore"
}

so_proxy_psql() {
	local db=$1
	shift
	so_pg "$so_proxy_bin/psql" -X -q -v ON_ERROR_STOP=1 -h "$SO_DIR" -p "$(so_proxy_port)" -d "$db" "$@"
}

# so_stop_all: every cluster under SO_DIR, immediately.
so_stop_all() {
	local d
	for d in "$SO_DIR"/node* "$SO_DIR/proxy"; do
		[ -f "$d/postmaster.pid" ] || continue
		so_pg "$so_bin/pg_ctl" -D "$d" -m immediate stop >/dev/null 2>&1 || true
	done
}
