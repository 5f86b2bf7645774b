# shellcheck shell=bash
# scaleout/failure.sh — part of test.sh (sourced): node 1 stopped, then
# crashed in durable mode.  Keys are picked by partition (even partitions on
# node 0, odd on node 1); their names contain a marker that no error may show.
pick() { # pick PARITY: a key "secret-marker-N" whose partition has that parity
	proxy -c "SELECT k FROM (SELECT 'secret-marker-' || i AS k FROM generate_series(1, 100) i) s
	           WHERE authstore.partition_number(k) % 2 = $1 LIMIT 1"
}
k0=$(pick 0) k1=$(pick 1)
proxy -c "SELECT auth_kv_set('$k0', 'v0'), auth_kv_set('$k1', 'v1')" >/dev/null
onnode 1 -c "SELECT auth_set_durable(true)" >/dev/null
so_stop "$so_bin" "$SO_DIR/node1" fast
start=$(date +%s%N)
err=$(proxy -c "SELECT auth_kv_get('$k1')" 2>&1) && notok "a call for node 1's partition fails while it is down" ||
	ok "a call for node 1's partition fails while it is down"
ms=$((($(date +%s%N) - start) / 1000000))
echo "# observed error (node down): $err"
check "... within 3 s ($ms ms)" test "$ms" -lt 3000
check "... and the error names no key" sh -c "! printf '%s' \"\$1\" | grep -q secret-marker" sh "$err"
err2=$(proxy -c "SELECT count(*) FROM auth_kv_keys('secret')" 2>&1) && notok "keys() fails while a node is down" ||
	ok "keys() fails while a node is down"
echo "# observed error (keys, node down): $err2"
check "node 0's partitions keep working" test "$(proxy -c "SELECT auth_kv_get('$k0')")" = "v0"
so_start "$so_bin" "$SO_DIR/node1"
v=$(proxy -c "SELECT auth_kv_get('$k1')" 2>&1 || true)
echo "# first call after the restart: $v"
[ "$v" = v1 ] || v=$(proxy -c "SELECT auth_kv_get('$k1')" 2>&1 || true)
check "node 1 restarted: its key is back through the proxy (got '$v')" test "$v" = "v1"
# crash (immediate stop) in durable mode: committed writes survive
proxy -c "SELECT auth_kv_set('$k1', 'after-durable')" >/dev/null
so_stop "$so_bin" "$SO_DIR/node1" immediate
so_start "$so_bin" "$SO_DIR/node1"
v=$(proxy -c "SELECT auth_kv_get('$k1')" 2>/dev/null || proxy -c "SELECT auth_kv_get('$k1')" 2>&1 || true)
check "node 1 crashed in durable mode and restarted: the committed write is there (got '$v')" test "$v" = "after-durable"
proxy -c "SELECT auth_kv_delete('$k0'), auth_kv_delete('$k1')" >/dev/null
