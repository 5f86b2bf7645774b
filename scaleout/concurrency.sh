# shellcheck shell=bash
# scaleout/concurrency.sh — part of test.sh (sourced): the load test's
# invariants through the proxy.  8 pgbench clients on 40 keys of each kind;
# every success is counted in a second key (its own proxy call), and the
# counts are checked afterwards on the proxy.
pgb=$SO_DIR/concurrency.pgb
cat >"$pgb" <<'PGB'
\set i random(1, 40)
SELECT auth_kv_incr('took:' || :i) FROM (SELECT auth_kv_take('once:' || :i) AS v) s WHERE v IS NOT NULL;
SELECT auth_kv_incr('nxwon:' || :i) FROM (SELECT auth_kv_set_if_not_exists('nx:' || :i, 'w', 3600) AS won) s WHERE won;
SELECT auth_kv_incr('rlok:' || :i) FROM auth_rl_hit('rl:' || :i, 3600, 5) h WHERE h.allowed;
PGB
chmod 644 "$pgb"
proxy -c "SELECT count(auth_kv_set('once:' || i, 'v')) FROM generate_series(1, 40) i" >/dev/null
if so_pg "$so_bin/pgbench" -n -h "$SO_DIR" -p "$P" -U postgres -c 8 -j 2 -t 150 -f "$pgb" authstore \
	>"$SO_DIR/pgbench.out" 2>&1; then
	ok "pgbench through the proxy: $(grep -E '^tps' "$SO_DIR/pgbench.out" | head -1 | cut -c1-40)"
else
	tail -5 "$SO_DIR/pgbench.out"
	notok "pgbench through the proxy"
fi
inv() { proxy -c "$1"; }
check "take exactly once: 40 keys taken, each once" test "$(inv "
	SELECT count(*) FILTER (WHERE auth_kv_get('took:' || i) = '1')::text || '/' ||
	       count(*) FILTER (WHERE auth_kv_get('once:' || i) IS NULL)
	  FROM generate_series(1, 40) i")" = "40/40"
check "set-if-not-exists: one winner per key" test "$(inv "
	SELECT count(*) FILTER (WHERE auth_kv_get('nxwon:' || i) = '1')::text || '/' ||
	       count(*) FILTER (WHERE auth_kv_get('nx:' || i) = 'w')
	  FROM generate_series(1, 40) i")" = "40/40"
check "rate limit: exactly max (5) allowed per key, never more" test "$(inv "
	SELECT count(*) FILTER (WHERE auth_kv_get('rlok:' || i) = '5')
	  FROM generate_series(1, 40) i")" = "40"
