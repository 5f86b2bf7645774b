#!/usr/bin/env bash
# scaleout/move_partition.sh — move one partition, with its data, to another
# node.
#
#   scaleout/move_partition.sh PROXY PART FROM TO TO_CONNSTR
#
# PROXY, FROM and TO are libpq connection strings for psql as a superuser:
# the proxy database, the node holding partition PART now, and the node it
# goes to.  TO_CONNSTR is what the proxy's server "authstore" gets as the new
# pPART (the proxy's view of TO: host, port, dbname, no password; see README).
#
# Steps: (1) fence: pPART points at a database that does not exist, so calls
# for PART fail at once with the proxy's connection error while the rows move
# (the other partitions keep working); (2) copy PART's rows of kv, rate_limit
# and token from FROM to TO (keys by hashtext(key), tokens by
# hashtext(subject), masked with N - 1 as the proxy does); (3) delete them on
# FROM; (4) point pPART at TO.  A failure before (4) leaves the partition
# fenced; rerun or set pPART back by hand.  Same-version nodes only (hashtext
# must agree, which it does on 15, 17 and 18).
set -euo pipefail
[ $# -eq 5 ] || { sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
proxy=$1 part=$2 from=$3 to=$4 to_conn=$5
psql_() { psql -X -q -v ON_ERROR_STOP=1 -At "$@"; }

n=$(psql_ "$proxy" -c "SELECT authstore.partition_count()")
((part >= 0 && part < n)) || { echo "move_partition.sh: no partition $part (there are $n)" >&2; exit 2; }
mask=$((n - 1))
q() { printf "%s" "$1" | sed "s/'/''/g"; }

fence="host=/nonexistent dbname=authstore_partition_${part}_is_moving"
psql_ "$proxy" -c "ALTER SERVER authstore OPTIONS (SET p$part '$(q "$fence")')"

for t in kv:key rate_limit:key token:subject; do
	table=${t%%:*} col=${t#*:}
	where="(pg_catalog.hashtext($col) OPERATOR(pg_catalog.&) $mask) OPERATOR(pg_catalog.=) $part"
	psql_ "$from" -c "\\copy (SELECT * FROM authstore.$table WHERE $where) TO STDOUT" |
		psql_ "$to" -c "\\copy authstore.$table FROM STDIN"
	moved=$(psql_ "$from" -c "WITH d AS (DELETE FROM authstore.$table WHERE $where RETURNING 1) SELECT count(*) FROM d")
	echo "partition $part: $moved rows of authstore.$table moved"
done

psql_ "$proxy" -c "ALTER SERVER authstore OPTIONS (SET p$part '$(q "$to_conn")')"
echo "partition $part now on the new node"
