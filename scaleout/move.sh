# shellcheck shell=bash
# scaleout/move.sh — part of test.sh (sourced): partition 3 moves from node 1
# to node 0 with its key-value, rate-limit and token rows.
in3=$(proxy -c "SELECT string_agg(k, ' ') FROM (SELECT 'mv:' || i AS k FROM generate_series(1, 400) i) s
                 WHERE authstore.partition_number(k) = 3")
sub=$(proxy -c "SELECT k FROM (SELECT 'user:' || i AS k FROM generate_series(1, 100) i) s
                 WHERE authstore.partition_number(k) = 3 LIMIT 1")
nk=$(wc -w <<<"$in3")
proxy -c "SELECT count(auth_kv_set(k, 'val-' || k, 3600)) FROM unnest(string_to_array('$in3', ' ')) k" >/dev/null
proxy -c "SELECT count(*) FROM unnest(string_to_array('$in3', ' ')) k, auth_rl_hit(k, 3600, 10)" >/dev/null
tok=$(proxy -c "SELECT auth_token_issue('$sub', 'reset', 3600)")
check "token for a subject of partition 3 carries prefix 3" test "${tok%%.*}" = 3
before=$(onnode 1 -c "SELECT count(*) FROM authstore.kv WHERE hashtext(key) & 7 = 3")
conn() { echo "host=$SO_DIR port=$1 dbname=authstore user=postgres"; }
if so_pg env PATH="$so_proxy_bin:$PATH" "$here/move_partition.sh" "$(conn "$P")" 3 "$(conn "$N1")" "$(conn "$N0")" \
	"$(so_connstr 0)" >"$SO_DIR/move.out" 2>&1; then
	ok "move_partition.sh 3: $(tr '\n' ';' <"$SO_DIR/move.out")"
else
	cat "$SO_DIR/move.out"
	notok "move_partition.sh 3"
fi
check "node 1 held $before keys of partition 3, now none" \
	test "$(onnode 1 -c "SELECT count(*) FROM authstore.kv WHERE hashtext(key) & 7 = 3")" -eq 0
check "node 0 holds them" test "$(onnode 0 -c "SELECT count(*) FROM authstore.kv WHERE hashtext(key) & 7 = 3")" -eq "$before"
check "all $nk moved keys read back through the proxy with their values and TTLs" test "$(proxy -c "
	SELECT count(*) FROM unnest(string_to_array('$in3', ' ')) k
	 WHERE auth_kv_get(k) = 'val-' || k AND auth_kv_ttl(k) BETWEEN 3000 AND 3600")" -eq "$nk"
check "their rate-limit state moved (second hit counts 2)" test "$(proxy -c "
	SELECT count(*) FROM unnest(string_to_array('$in3', ' ')) k, auth_rl_hit(k, 3600, 10) h
	 WHERE h.count = 2")" -eq "$nk"
check "the token issued before the move verifies and is consumed once" \
	test "$(proxy -c "SELECT auth_token_consume('$tok', 'reset') || '/' || (auth_token_consume('$tok', 'reset') IS NULL)")" = "$sub/true"
proxy -c "SELECT auth_kv_clear('mv:')" >/dev/null
