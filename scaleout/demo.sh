#!/usr/bin/env bash
# scaleout/demo.sh — N local authstore nodes and a PL/Proxy proxy, to try the
# scale-out layer on one machine.
#
#   scaleout/demo.sh start [NODES [PARTITIONS]]   (default 2 nodes, 8 partitions)
#   scaleout/demo.sh stop
#
# Run as root (the clusters run as the postgres OS user).  Environment:
# PG_CONFIG (an installation with authstore installed; default Debian's 15),
# AUTHSTORE_SO_DIR (default /tmp/authstore-scaleout), AUTHSTORE_SO_PORT
# (default 55400: node i on port+i, the proxy on port+99).  Everything
# listens on unix sockets in AUTHSTORE_SO_DIR only.  Needs the Debian package
# postgresql-15-plproxy.
set -euo pipefail

export PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
SO_DIR=${AUTHSTORE_SO_DIR:-/tmp/authstore-scaleout}
SO_PORT=${AUTHSTORE_SO_PORT:-55400}
# shellcheck source=scaleout/cluster.sh
. "$(dirname "${BASH_SOURCE[0]}")/cluster.sh"

case ${1:-} in
start)
	nodes=${2:-2}
	parts=${3:-8}
	if ((parts < nodes || (parts & (parts - 1)) != 0)); then
		echo "demo.sh: partitions must be a power of two, at least the number of nodes" >&2
		exit 2
	fi
	if [ -e "$SO_DIR" ]; then
		echo "demo.sh: $SO_DIR exists; run '$0 stop' first" >&2
		exit 2
	fi
	so_init
	for ((i = 0; i < nodes; i++)); do
		so_node_create "$i"
	done
	so_proxy_create "$parts" "$nodes"
	cat <<MSG
$nodes nodes, $parts partitions (partition p on node p mod $nodes).
  proxy: $so_proxy_bin/psql -h $SO_DIR -p $(so_proxy_port) -U postgres authstore
  node i: $so_bin/psql -h $SO_DIR -p \$(( $SO_PORT + i )) -U postgres authstore
  application connection string: postgresql://postgres@/authstore?host=$SO_DIR&port=$(so_proxy_port)
MSG
	;;
stop)
	so_stop_all
	rm -rf "$SO_DIR"
	;;
*)
	sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'
	exit 2
	;;
esac
