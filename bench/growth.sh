#!/usr/bin/env bash
# bench/growth.sh — does authstore keep up as the key space grows, when many
# keys expire at once, and how much room does a key take?  (issue #5, item 3)
#
#   bench/growth.sh           full run: 100,000 vs 10,000,000 keys, 3 rounds of
#                             10 s (+8 s ramp) runs at each size, sweeps of
#                             1,000,000 rows; about 12-15 minutes, ~5 GB in /tmp
#   bench/growth.sh --small   smoke test: 10,000 vs 200,000 keys, 1 round of
#                             3 s (+3 s ramp) runs, sweeps of 100,000 rows;
#                             about 2 minutes
#
# As root on Debian 12.  It starts a throwaway PostgreSQL 15 (port 5478,
# loopback + a Unix socket in its work directory /tmp/authstore-growth.*,
# authstore preloaded with authstore.database = 'growth' and the default sweep
# settings, shared_buffers = 6GB in full mode so that the 10M-key table and
# its index (about 3.5 GB) fit in memory, as Redis keeps all its data in
# memory; 1GB with --small; max_connections = 50) and measures, with 16
# pgbench clients (-M prepared, -j 2) over TCP:
#
#   1. growth: get and set tps with random keys over the whole key space, first
#      at the small size, then after the SAME table authstore.kv has grown to
#      the big size (INSERT ... SELECT generate_series as superuser, then
#      VACUUM ANALYZE).  SELECT 1 runs in every round as a floor, to show how
#      the machine's speed moved.  Target: tps drops by <= 20 %.
#   2. sweep under load: while 16 clients run auth_kv_get on live keys, 1M rows
#      (inserted beforehand) expire within one second; it measures how long
#      the sweeper takes to delete them and the clients' p99 latency during
#      the sweep against the seconds before.  Target: <= 2x.  Twice: with
#      statistics that know the rows (ANALYZE after the insert) and with stale
#      ones (no ANALYZE; autovacuum off on the table meanwhile, standing for
#      an autoanalyze that has not come round yet).
#   3. size per key: heap and each index of authstore.kv per row at both
#      sizes, against Redis used_memory per key for the same small key space
#      (throwaway redis-server on 127.0.0.1:6400, no persistence, stopped
#      right after).
#
# Keys are 'sess:<n>' with the ~200-byte JSON session values and the 1-day TTL
# of bench/run.sh.  It prints a markdown report and writes it and the raw
# numbers to bench/results/growth-<UTC timestamp>.{md,csv}.  Everything it
# started is stopped, and its work directory deleted, on exit.  It uses the
# INSTALLED authstore library (make install is not run here).
#
# Options:
#   --small        the smoke-test mode above (options below still apply)
#   --secs S       measured seconds per run, an integer >= 2 (full: 10, small:
#                  3); the sweep runs also measure S seconds before the sweep
#   --ramp R       seconds added to every run and dropped, on top of 1 s (0.5 s
#                  in small mode): 16 fresh backends take seconds to reach full
#                  speed on a big table (full: 8, small: 3); the report flags
#                  runs that were still speeding up
#   --rounds N     rounds at each size (full: 3, small: 1)
#   --shared-buffers SIZE  PostgreSQL's shared_buffers (full: 6GB, small: 1GB)
#   --huge-pages   reserve huge pages (vm.nr_hugepages, restored on exit) and
#                  run PostgreSQL with huge_pages = on; see bench/hugepages.sh
#   --sweep-only   skip the growth runs (item 1): load the keys, then the
#                  sweep runs and the sizes only
#   --keep         keep the work directory (pgbench logs, server logs)
#   --no-apt       never run apt-get (everything must be installed)
# Environment: AUTHSTORE_GROWTH_PG_PORT (5478), AUTHSTORE_GROWTH_REDIS_PORT (6400).
set -euo pipefail
export TZ=UTC LC_ALL=C

BENCH=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=bench/common.sh
. "$BENCH/common.sh"
REPO=$(cd "$BENCH/.." && pwd)
PGBIN=/usr/lib/postgresql/15/bin
PGPORT=${AUTHSTORE_GROWTH_PG_PORT:-5478}
RPORT=${AUTHSTORE_GROWTH_REDIS_PORT:-6400}
PY=/usr/bin/python3   # Debian's, not a shim on PATH
DB=growth
CLIENTS=16
THREADS=2

MODE=full
KEYS_SMALL=100000
KEYS_BIG=10000000
SWEEP_ROWS=1000000
SECS=10
ROUNDS=3
WARM=1          # seconds dropped at the start of every run, plus RAMP
RAMP=8          # seconds added to every run and dropped
PREWARM=10      # a discarded get run at each size before the rounds (caches)
SWEEP_MAX=30    # how long the sweep runs go on after the rows expire
DISK_NEED_GB=8
SHARED_BUFFERS=6GB
HUGE=0
SWEEP_ONLY=0
APT=1
KEEP=0
CMDLINE="bench/growth.sh${*:+ $*}"
T_BEGIN=$(date +%s)

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }
die() { printf 'bench/growth.sh: %s\n' "$*" >&2; exit 1; }
say() { printf '==> [%3ss] %s\n' "$(($(date +%s) - T_BEGIN))" "$*" >&2; }

# --small first, so that explicit options override what it sets
for a in "$@"; do
	if [ "$a" = --small ]; then
		MODE=small KEYS_SMALL=10000 KEYS_BIG=200000 SWEEP_ROWS=100000 SECS=3 ROUNDS=1
		WARM=0.5 RAMP=3 PREWARM=0 SWEEP_MAX=10 DISK_NEED_GB=1 SHARED_BUFFERS=1GB
	fi
done
while [ $# -gt 0 ]; do
	case $1 in
		--small) ;;
		--secs) SECS=${2:-}; shift ;;
		--ramp) RAMP=${2:-}; shift ;;
		--rounds) ROUNDS=${2:-}; shift ;;
		--shared-buffers) SHARED_BUFFERS=${2:-}; shift ;;
		--huge-pages) HUGE=1 ;;
		--sweep-only) SWEEP_ONLY=1 ;;
		--keep) KEEP=1 ;;
		--no-apt) APT=0 ;;
		-h | --help) usage; exit 0 ;;
		*) die "unknown option $1 (see --help)" ;;
	esac
	shift
done
case $SECS in '' | *[!0-9]* | 0 | 1) die "--secs must be an integer >= 2 (pgbench -T)" ;; esac
case $RAMP in '' | *[!0-9]*) die "--ramp must be an integer >= 0" ;; esac
case $ROUNDS in '' | *[!0-9]* | 0) die "--rounds must be a positive integer" ;; esac
[ "$(id -u)" -eq 0 ] || die "run me as root (I may install packages, and I run servers as the postgres user)"

# ---------------------------------------------------------------------------
# Packages (apt-get only when one is missing)
# ---------------------------------------------------------------------------
bench_packages postgresql-15 postgresql-client-15 redis-server redis-tools python3 mawk

for p in "$PGPORT" "$RPORT"; do
	if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
		die "port $p on 127.0.0.1 is already in use (a leftover run? stop it first)"
	fi
done

# 10M keys take ~4 GB (heap + indexes), plus the sweep rows, the set runs'
# dead rows and generate_series' temporary file: ask for about twice that.
DISK_FREE_KB=$(df -Pk /tmp | awk 'NR == 2 { print $4 }')
DISK_LINE="$(awk -v k="$DISK_FREE_KB" 'BEGIN { printf "%.1f", k / 1048576 }') GiB free in /tmp (needs about $DISK_NEED_GB GiB)"
[ "$DISK_FREE_KB" -ge $((DISK_NEED_GB * 1048576)) ] ||
	die "not enough disk space: $DISK_LINE"
say "disk: $DISK_LINE"

# ---------------------------------------------------------------------------
# Work directory, cleanup
# ---------------------------------------------------------------------------
WORK=$(mktemp -d /tmp/authstore-growth.XXXXXX)
chmod 0755 "$WORK"
PGDATA=$WORK/pgdata
REDIS_PID=
PGB_PID=
POLL_PID=
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
RESULTS=$BENCH/results
CSV=$RESULTS/growth-$STAMP.csv
MD=$RESULTS/growth-$STAMP.md

cleanup() {
	local rc=$?
	set +e
	trap - EXIT INT TERM
	for p in "$PGB_PID" "$POLL_PID"; do
		[ -n "$p" ] && kill "$p" 2>/dev/null && wait "$p" 2>/dev/null
	done
	bench_teardown
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

sql1() { psql_su -d "$DB" -At -F' ' -c "$1"; }   # one statement, unaligned output
now_s() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now_s)" 'BEGIN { printf "%.1f", b - a }'; }
sleep_until() { sleep "$(awk -v t="$1" -v n="$(now_s)" 'BEGIN { d = t - n; printf "%.3f", (d > 0 ? d : 0) }')"; }

mkdir -p "$RESULTS"
echo "time,section,round,keys,item,metric,value" >"$CSV"
csv() { # section round keys item metric value
	printf '%(%Y-%m-%dT%H:%M:%SZ)T,%s,%s,%s,%s,%s,%s\n' -1 "$@" >>"$CSV"
}

# ---------------------------------------------------------------------------
# The number crunching (pgbench logs -> windows; CSV -> report)
# ---------------------------------------------------------------------------
# growth.py reads pgbench logs with analyze.py's reader, found through this
export AUTHSTORE_BENCH_DIR=$BENCH
cat >"$WORK/growth.py" <<'PY'
"""growth.sh's helper.
  growth.py windows LOGDIR DROP NAME:FROM:TO ...
                                        one line per window: stats of the
                                        transactions of a pgbench --log run
                                        that complete in [FROM, TO) (epoch
                                        seconds; TO may be 'end'), but not in
                                        the run's first DROP seconds
  growth.py halves LOGDIR DROP          tps in the 1st and 2nd half of what
                                        follows the first DROP seconds
  growth.py report CSV META             the markdown report
  growth.py series LOGDIR T0            per second of completion, relative to
                                        T0 (epoch seconds): second tps p50_ms
                                        p99_ms, for the plot of a sweep run
Latency of a transaction = time since the same client's previous completion,
as in bench/analyze.py (pgbench 15 logs 0 us for many fast transactions); the
run starts at its earliest transaction start."""
import csv, math, os, statistics, sys

sys.path.insert(0, os.environ["AUTHSTORE_BENCH_DIR"])
from analyze import nearest_rank, read_pglog as load  # noqa: E402


def window(recs, t_from, t_to, drop):
    if not recs:
        return "n=0"
    first = min(e - l for e, l in recs) / 1e6
    last = recs[-1][0] / 1e6
    a = max(float(t_from), first + float(drop))
    b = last if t_to == "end" else min(float(t_to), last)
    sel = [(e, l) for e, l in recs if a * 1e6 <= e < b * 1e6]
    lats = sorted(l for _, l in sel)
    secs = b - a
    n = len(lats)
    worst = float("nan")   # the worst p99 of the window's whole seconds
    buckets = {}
    for e, l in sel:
        buckets.setdefault(int((e / 1e6 - a) // 1), []).append(l)
    full = [sorted(v) for k, v in buckets.items() if a + k + 1 <= b]
    if full:
        worst = max(nearest_rank(v, 0.99) for v in full)
    return ("n=%d secs=%.3f tps=%.1f p50_ms=%.3f p99_ms=%.3f max_ms=%.3f "
            "worst1s_p99_ms=%.3f from=%.6f" % (
                n, secs, n / secs if secs > 0 else 0, nearest_rank(lats, .5) / 1000,
                nearest_rank(lats, .99) / 1000, (lats[-1] / 1000) if lats else float("nan"),
                worst / 1000, a))


def halves(logdir, drop):
    recs = load(logdir)
    if not recs:
        return "tps1=nan tps2=nan"
    a = min(e - l for e, l in recs) + float(drop) * 1e6
    b = recs[-1][0]
    m = (a + b) / 2
    n1 = sum(1 for e, _ in recs if a <= e < m)
    n2 = sum(1 for e, _ in recs if m <= e <= b)
    h = (b - a) / 2e6
    return "tps1=%.1f tps2=%.1f" % (n1 / h, n2 / h) if h > 0 else "tps1=nan tps2=nan"


def num(v):
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def nan(v):
    return v is None or math.isnan(v)


def f_tps(v):
    return "-" if nan(v) else "%.0f" % v


def f_ms(v):
    if nan(v):
        return "-"
    return "%.3f" % v if v < 1 else "%.2f" % v if v < 10 else "%.1f" % v


def f_int(v):
    return "-" if nan(v) else "{:,}".format(int(round(v)))


def f_keys(v):
    return "{:,}".format(int(v))


def table(hdr, rows, left=1):
    w = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(hdr)]

    def line(cells):
        return "| " + " | ".join(c.ljust(w[i]) if i < left else c.rjust(w[i])
                                 for i, c in enumerate(cells)) + " |"
    out = [line(hdr), "|" + "|".join("-" * (x + 1) + ("-" if i < left else ":")
                                     for i, x in enumerate(w)) + "|"]
    return out + [line(r) for r in rows]


def report(path, meta):
    g = {}      # growth: (keys, item) -> metric -> [values, by round]
    one = {}    # everything else: (section, round, keys, item, metric) -> value
    with open(path) as f:
        for r in csv.DictReader(f):
            if r["section"] == "growth":
                if r["round"] != "0":
                    g.setdefault((int(r["keys"]), r["item"]), {}).setdefault(
                        r["metric"], []).append((r["round"], r["value"]))
            else:
                one[(r["section"], r["round"], r["keys"], r["item"], r["metric"])] = r["value"]

    def vals(keys, item, metric):
        return [x for x in (num(v) for _, v in g.get((keys, item), {}).get(metric, []))
                if not nan(x)]

    def med(keys, item, metric):
        v = vals(keys, item, metric)
        return statistics.median(v) if v else None

    def o(section, rnd, keys, item, metric):
        return one.get((section, rnd, str(keys), item, metric))

    m = dict(l[1:].split("=", 1) for l in meta if l.startswith("@"))
    small, big, nround = int(m["keys_small"]), int(m["keys_big"]), int(m["rounds"])
    S, B = f_keys(small), f_keys(big)
    out = ["# authstore: growth, sweep under load, size per key (bench/growth.sh)", ""]
    out += [l for l in meta if not l.startswith("@")]
    out.append("")

    # 1 -------------------------------------------------------------------
    out.append("## 1. Throughput as the key space grows: %s -> %s keys" % (S, B))
    out.append("")
    out.append("%s clients, pgbench -M prepared -j %s, random keys over the whole key space, one "
               "table grown in place. Median of %d round(s) per cell; each run lasted %s s, of which "
               "the first %s s were dropped. p50/p99 in ms. hit = shared-buffer hit rate of "
               "authstore.kv's heap / indexes over the whole run. drop = 1 - tps(%s) / tps(%s); "
               "vs floor: the same with each tps divided by SELECT 1's tps at that size. "
               "Target: drop <= 20 %%."
               % (m["clients"], m["threads"], nround, m["run_secs"], m["drop"], B, S))
    out.append("")
    labels = [("floor", "floor: SELECT 1"), ("get", "get, live key"),
              ("set", "set, TTL 1 day (update)")]
    rows = []
    fl_s, fl_b = med(small, "floor", "tps"), med(big, "floor", "tps")
    for item, label in labels:
        ts, tb = med(small, item, "tps"), med(big, item, "tps")
        if ts is None and tb is None:
            continue
        drop = (1 - tb / ts) * 100 if ts and tb is not None else None
        dropf = None
        if item != "floor" and ts and tb is not None and fl_s and fl_b:
            dropf = (1 - (tb / fl_b) / (ts / fl_s)) * 100

        def hit(k):
            if item == "floor":
                return "-"
            h, i = med(k, item, "heap_hit_pct"), med(k, item, "idx_hit_pct")
            return "%s / %s" % ("-" if nan(h) else "%.0f" % h, "-" if nan(i) else "%.0f" % i)
        ok = "-" if item == "floor" or drop is None else ("yes" if drop <= 20 else "NO")
        rows.append([label, f_tps(ts), f_ms(med(small, item, "p50_ms")), f_ms(med(small, item, "p99_ms")),
                     hit(small), f_tps(tb), f_ms(med(big, item, "p50_ms")), f_ms(med(big, item, "p99_ms")),
                     hit(big), "-" if drop is None else "%.1f %%" % drop,
                     "-" if dropf is None else "%.1f %%" % dropf, ok])
    out += table(["workload", "tps " + S, "p50", "p99", "hit heap/idx", "tps " + B, "p50", "p99",
                  "hit heap/idx", "drop", "drop vs floor", "<= 20 %"], rows)
    out.append("")
    if nround > 1:
        per = []
        for item, _ in labels:
            for k in (small, big):
                v = g.get((k, item), {}).get("tps", [])
                if v:
                    per.append("%s @ %s: %s" % (item, f_keys(k), " ".join(f_tps(num(x)) for _, x in v)))
        out.append("tps by round: " + "; ".join(per) + ".")
        out.append("")
    ramping = []
    for item, _ in labels:
        for k in (small, big):
            t1 = dict(g.get((k, item), {}).get("tps_1st_half", []))
            t2 = dict(g.get((k, item), {}).get("tps_2nd_half", []))
            for rnd in sorted(t1):
                a, b = num(t1[rnd]), num(t2.get(rnd))
                if not nan(a) and not nan(b) and b > 0 and a / b < 0.9:
                    ramping.append("%s @ %s round %s (%.2f)" % (item, f_keys(k), rnd, a / b))
    if ramping:
        out.append("**Still speeding up** in the measured part (tps of its first half < 0.9x its "
                   "second half): " + ", ".join(ramping) + ". Their tps reads low; rerun with a "
                   "longer --ramp.")
    else:
        out.append("Ramp check: in every measured run, the first half ran at >= 0.9x the tps of the "
                   "second half.")
    out.append("")
    avs = sum(sum(vals(small, i, "autovacuums")) for i in ("floor", "get", "set"))
    avb = sum(sum(vals(big, i, "autovacuums")) for i in ("floor", "get", "set"))
    out.append("Growth: %s rows inserted in %s s, VACUUM ANALYZE %s s. Autovacuums of authstore.kv "
               "during the measured runs: %d at %s keys, %d at %s keys."
               % (f_int(num(o("load", "", big, "grow", "rows"))), o("load", "", big, "grow", "insert_s"),
                  o("load", "", big, "grow", "vacuum_s"), avs, S, avb, B))
    out.append("")

    # 2 -------------------------------------------------------------------
    sk = m["sweep_keys"]
    n = num(o("sweep", "fresh", sk, "sweep", "rows"))
    out.append("## 2. Sweep under load: %s rows expire at once" % f_int(n))
    out.append("")
    out.append("%s clients run auth_kv_get on random live keys among %s. The rows were inserted "
               "beforehand (then VACUUM), with expiry times spread over one second, %s s into the "
               "measured part of the run. 'current' statistics: ANALYZE after the insert, as an "
               "autoanalyze would have done for rows that live a few minutes. 'stale': no ANALYZE, "
               "and autovacuum off on the table meanwhile, as when the rows expire before an "
               "autoanalyze comes round; a sweep whose plan depends on the statistics shows it "
               "there. 'current, unpaced': as 'current', with the sweeper's pacing off "
               "(authstore.sweep_cost_delay = 0), for comparison. Sweeper settings otherwise: "
               "authstore.sweep_interval = %s, authstore.sweep_batch_size = %s, %s (%s). 'gone after' = from the first expiry until "
               "no expired row is left (polled every 0.2 s), including the wait for the next sweep "
               "cycle. A sweep run stops %s s after the expiry (the current-statistics one is "
               "then followed without load). Target: p99 during <= 2x p99 before."
               % (m["clients"], f_keys(int(sk)), m["secs"], m["sweep_interval"], m["sweep_batch"],
                  m.get("sweep_pacing", "?"), m["sweep_defaults"], m["sweep_max"]))
    out.append("")
    rows, wrows, notes = [], [], []
    for v, label in (("fresh", "current"), ("stale", "stale"), ("unpaced", "current, unpaced")):
        q = lambda item, metric: num(o("sweep", v, sk, item, metric))
        if q("sweep", "rows") is None:
            continue
        done = q("sweep", "done") == 1
        gone, rate, left = q("sweep", "gone_after_s"), q("sweep", "rows_per_s"), q("sweep", "rows_left")
        pb, pd = q("before", "p99_ms"), q("during", "p99_ms")
        ratio = pd / pb if pb and not nan(pd) else None
        rows.append([label, f_int(q("sweep", "rows")),
                     ("%.2f s" % gone) if done else "not done: %s left after %.0f s" % (f_int(left), gone),
                     f_int(rate), f_ms(pb), f_ms(pd),
                     "-" if ratio is None else "%.2fx" % ratio,
                     "-" if ratio is None else ("yes" if ratio <= 2 else "NO")])
        for w, wl in (("before", "before"), ("during", "during the sweep"), ("after", "after, to the end")):
            if not q(w, "n"):
                continue
            wrows.append([label, wl, "%.1f" % q(w, "secs"), f_int(q(w, "n")), f_tps(q(w, "tps")),
                          f_ms(q(w, "p50_ms")), f_ms(q(w, "p99_ms")), f_ms(q(w, "worst1s_p99_ms")),
                          f_ms(q(w, "max_ms"))])
        nn = []
        fa = q("sweep", "first_active_s")
        if fa is not None and fa >= 0:
            nn.append("sweeper first seen active %.1f s after the expiry" % fa)
        if q("sweep", "under_load") == 0:
            nn.append("the sweep outlasted the clients' run, so its end was measured without load")
        nn.append("autovacuum seen on authstore.kv in %s of %s polls, %s autovacuum(s) of it finished "
                  "during the run" % (f_int(q("sweep", "autovacuum_polls")), f_int(q("sweep", "polls")),
                                      f_int(q("sweep", "autovacuums_run"))))
        late = q("sweep", "late_s")
        if late and late > 0:
            nn.append("the run started %.1f s late, so 'before' is shorter" % late)
        notes.append("- %s statistics: %s." % (label, "; ".join(nn)))
    out += table(["statistics", "rows", "gone after", "rows/s", "p99 before", "p99 during",
                  "during/before", "<= 2x"], rows)
    out.append("")
    out += table(["statistics", "window", "secs", "transactions", "tps", "p50", "p99",
                  "worst 1-s p99", "max"], wrows)
    out.append("")
    out += notes
    out.append("")

    # 3 -------------------------------------------------------------------
    out.append("## 3. Size per key")
    out.append("")
    out.append("authstore: pg_relation_size of authstore.kv's heap and of each of its indexes, right "
               "after loading and VACUUM ANALYZE, divided by count(*); total = "
               "pg_total_relation_size. Redis: used_memory after loading the same %s keys (same "
               "values, EX 86400) minus used_memory of the empty server, divided by the keys. "
               "Bytes per key." % S)
    out.append("")
    idx = sorted({k[4] for k in one if k[0] == "size" and k[4].startswith("index:")})
    rows = []
    for k in (small, big):
        sz = lambda metric: num(o("size", "", k, "authstore", metric))
        r = sz("rows")
        if not r:
            continue
        rest = sz("total") - sz("heap") - sum(sz(i) or 0 for i in idx)
        rows.append(["authstore", f_keys(k), "%.0f" % (sz("heap") / r)] +
                    ["-" if sz(i) is None else "%.0f" % (sz(i) / r) for i in idx] +
                    ["%.0f" % (rest / r), "%.0f" % (sz("total") / r), "%.0f MB" % (sz("total") / 1e6)])
    rm = num(o("size", "", small, "redis", "used_memory_delta"))
    rk = num(o("size", "", small, "redis", "keys"))
    if rm and rk:
        rows.append(["Redis used_memory", f_keys(rk), "-"] + ["-" for _ in idx] +
                    ["-", "%.0f" % (rm / rk), "%.0f MB" % (rm / 1e6)])
    out += table(["store", "keys", "heap"] + [i[len("index:"):] for i in idx] +
                 ["fsm+vm+toast", "total", "total size"], rows)
    out.append("")
    if rm and rk:
        parts = []
        for k in (small, big):
            t, r = num(o("size", "", k, "authstore", "total")), num(o("size", "", k, "authstore", "rows"))
            if t and r:
                parts.append("%.2fx at %s keys" % (t / r / (rm / rk), f_keys(k)))
        out.append("authstore total / Redis, per key: " + ", ".join(parts) +
                   " (Redis measured at %s keys)." % S)
    kb = num(o("size", "", small, "authstore", "avg_key_bytes"))
    vb = num(o("size", "", small, "authstore", "avg_value_bytes"))
    if kb and vb:
        out.append("Payload: keys average %.1f bytes, values %.1f bytes." % (kb, vb))
    return "\n".join(out)


if __name__ == "__main__":
    a = sys.argv
    if len(a) >= 5 and a[1] == "windows":
        recs = load(a[2])
        for w in a[4:]:
            name, t_from, t_to = w.split(":")
            print("window=%s %s" % (name, window(recs, t_from, t_to, a[3])))
    elif len(a) == 4 and a[1] == "halves":
        print(halves(a[2], a[3]))
    elif len(a) == 4 and a[1] == "report":
        with open(a[3]) as f:
            print(report(a[2], f.read().splitlines()))
    elif len(a) == 4 and a[1] == "series":
        t0 = float(a[3])
        buckets = {}
        for e, l in load(a[2]):
            buckets.setdefault(math.floor(e / 1e6 - t0), []).append(l)
        # the first and last seconds are partial: left out
        for k in sorted(buckets)[1:-1]:
            v = sorted(buckets[k])
            print("%d %d %.3f %.3f" % (k, len(v), nearest_rank(v, .5) / 1000,
                                       nearest_rank(v, .99) / 1000))
    else:
        sys.stderr.write(__doc__)
        sys.exit(2)
PY

# ---------------------------------------------------------------------------
# PostgreSQL
# ---------------------------------------------------------------------------
DROP=$(awk -v w="$WARM" -v r="$RAMP" 'BEGIN { print w + r }')
say "mode $MODE: keys $KEYS_SMALL -> $KEYS_BIG, sweeps of $SWEEP_ROWS rows, rounds=$ROUNDS, runs of $SECS+$RAMP s with $DROP s dropped"
# Defaults except memory and connections; the sweep settings stay at their
# defaults (authstore.sweep_interval = 1s, authstore.sweep_batch_size = 10000).
if [ "$HUGE" = 1 ]; then
	case $SHARED_BUFFERS in
		*GB) sb_mb=$((${SHARED_BUFFERS%GB} * 1024)) ;;
		*MB) sb_mb=${SHARED_BUFFERS%MB} ;;
		*) die "--huge-pages needs --shared-buffers in MB or GB" ;;
	esac
	hugepages_reserve "$sb_mb" || die "--huge-pages: no huge pages"
fi
bench_start_postgres bench/growth.sh "$DB" "shared_buffers = $SHARED_BUFFERS
max_connections = 50
huge_pages = $([ "$HUGE" = 1 ] && echo on || echo try)"

psql_su -d postgres <<SQL
CREATE ROLE bench LOGIN;
CREATE DATABASE $DB OWNER bench;
SQL
psql_su -d "$DB" <<'SQL'
SET client_min_messages = warning;
CREATE EXTENSION authstore;
GRANT authstore_user TO bench;
SQL
# The launcher looks for a missing database again only every 10 s: a restart
# starts the sweeper at once.
as_postgres "$PGBIN/pg_ctl" -D "$PGDATA" -l "$WORK/postgresql.log" -w -t 60 -m fast restart >/dev/null ||
	{ tail -n 20 "$WORK/postgresql.log" >&2; die "could not restart PostgreSQL"; }
SWEEPER_Q="SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'authstore sweeper' AND datname = current_database()"
for _ in $(seq 1 150); do
	[ "$(sql1 "$SWEEPER_Q")" = 1 ] && break
	sleep 0.1
done
[ "$(sql1 "$SWEEPER_Q")" = 1 ] || die "no authstore sweeper for database $DB (see $WORK/postgresql.log)"
SWEEP_INTERVAL=$(sql1 'SHOW authstore.sweep_interval')
SWEEP_BATCH=$(sql1 'SHOW authstore.sweep_batch_size')
SWEEP_PACING="cost delay $(sql1 'SHOW authstore.sweep_cost_delay'), cost limit $(sql1 'SHOW authstore.sweep_cost_limit')"
SWEEP_DEFAULTS=$(sql1 "SELECT CASE WHEN bool_and(source = 'default') THEN 'the defaults' ELSE 'NOT the defaults' END FROM pg_settings WHERE name IN ('authstore.sweep_interval', 'authstore.sweep_batch_size', 'authstore.sweep_cost_delay', 'authstore.sweep_cost_limit')")

# ---------------------------------------------------------------------------
# The key space: 'sess:<i>' -> ~200-byte JSON, TTL 1 day (as in bench/run.sh)
# ---------------------------------------------------------------------------
# the value the set workload writes (204 bytes, bench/run.sh's)
VAL=$BENCH_VAL
VALUE_SQL=$BENCH_VALUE_SQL

# Keys FROM..TO, straight into the table as superuser (much faster than 10M
# auth_kv_set calls).  Distinct expiry times, 1 day + i us from now, as
# auth_kv_set(..., 86400) in a loop would give; then VACUUM ANALYZE.
load_keys() { # from to
	local t
	t=$(now_s)
	psql_su -d "$DB" -c "INSERT INTO authstore.kv (key, value, expires_at)
		SELECT 'sess:' || i, $VALUE_SQL, now() + interval '1 day' + i * interval '1 microsecond'
		FROM generate_series($1, $2) AS i"
	LOAD_S=$(elapsed "$t")
	t=$(now_s)
	psql_su -d "$DB" -c 'VACUUM ANALYZE authstore.kv'
	VACUUM_S=$(elapsed "$t")
	LOAD_RATE=$(awk -v n="$(($2 - $1 + 1))" -v s="$LOAD_S" 'BEGIN { printf "%.0f", n / (s > 0.1 ? s : 0.1) }')
	say "  inserted $(($2 - $1 + 1)) rows in $LOAD_S s, VACUUM ANALYZE $VACUUM_S s"
}

# heap, each index (whichever the installed schema has), total
measure_size() { # keys
	local rows heap total name size idx=''
	read -r rows heap total <<<"$(sql1 "SELECT count(*), pg_relation_size('authstore.kv'),
		pg_total_relation_size('authstore.kv') FROM authstore.kv")"
	[ "$rows" = "$1" ] || die "expected $1 rows in authstore.kv, found $rows"
	csv size "" "$1" authstore rows "$rows"
	csv size "" "$1" authstore heap "$heap"
	csv size "" "$1" authstore total "$total"
	while read -r name size; do
		csv size "" "$1" authstore "index:$name" "$size"
		idx="$idx, $name $size"
	done < <(sql1 "SELECT c.relname, pg_relation_size(c.oid) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
		WHERE i.indrelid = 'authstore.kv'::regclass ORDER BY c.relname")
	say "  size at $1 keys: heap $heap$idx, total $total bytes ($((total / rows)) B/key)"
}

say "loading $KEYS_SMALL keys"
load_keys 1 "$KEYS_SMALL"
measure_size "$KEYS_SMALL"
read -r akb avb <<<"$(sql1 "SELECT avg(octet_length(key)), avg(octet_length(value)) FROM authstore.kv")"
csv size "" "$KEYS_SMALL" authstore avg_key_bytes "$akb"
csv size "" "$KEYS_SMALL" authstore avg_value_bytes "$avb"

# ---------------------------------------------------------------------------
# 3. (measured first) Redis: the same keys, values and TTL; used_memory
# ---------------------------------------------------------------------------
say "starting Redis on 127.0.0.1:$RPORT for the size comparison"
mkdir -p "$WORK/redis"
redis-server --bind 127.0.0.1 --port "$RPORT" --save '' --appendonly no \
	--dir "$WORK/redis" --logfile "$WORK/redis.log" --daemonize no &
REDIS_PID=$!
for _ in $(seq 1 100); do
	[ "$(rcli ping 2>/dev/null)" = PONG ] && break
	sleep 0.05
done
[ "$(rcli ping 2>/dev/null)" = PONG ] || die "Redis did not start (see $WORK/redis.log)"
redis_mem() { rcli INFO memory | tr -d '\r' | sed -n 's/^used_memory://p'; }
MEM0=$(redis_mem)
# RESP: SET sess:<i> <the same JSON as in PostgreSQL> EX 86400
awk -v n="$KEYS_SMALL" 'BEGIN {
	for (i = 1; i <= n; i++) {
		k = "sess:" i
		v = sprintf("{\"session\":{\"id\":\"s_%012d\",\"userId\":\"u_%d\",\"expiresAt\":\"2026-12-31T23:59:59.000Z\",\"ipAddress\":\"203.0.113.7\",\"userAgent\":\"Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\"}}", i, i)
		printf "*5\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n$2\r\nEX\r\n$5\r\n86400\r\n", length(k), k, length(v), v
	}
}' | rcli --pipe >"$WORK/redis-load.out" 2>&1 || { cat "$WORK/redis-load.out" >&2; die "loading Redis failed"; }
grep -q 'errors: 0,' "$WORK/redis-load.out" || { cat "$WORK/redis-load.out" >&2; die "loading Redis failed"; }
RKEYS=$(rcli DBSIZE)
[ "$RKEYS" = "$KEYS_SMALL" ] || die "Redis has $RKEYS keys, expected $KEYS_SMALL"
probe=$((KEYS_SMALL / 2 + 7))
[ "$(rcli GET "sess:$probe")" = "$(sql1 "SELECT value FROM authstore.kv WHERE key = 'sess:$probe'")" ] ||
	die "Redis and PostgreSQL hold different values for sess:$probe"
MEM1=$(redis_mem)
csv size "" "$KEYS_SMALL" redis keys "$RKEYS"
csv size "" "$KEYS_SMALL" redis used_memory_empty "$MEM0"
csv size "" "$KEYS_SMALL" redis used_memory "$MEM1"
csv size "" "$KEYS_SMALL" redis used_memory_delta "$((MEM1 - MEM0))"
csv size "" "$KEYS_SMALL" redis expires "$(rcli INFO keyspace | tr -d '\r' | sed -n 's/.*expires=\([0-9]*\).*/\1/p')"
say "  Redis: used_memory $MEM0 -> $MEM1 ($(((MEM1 - MEM0) / RKEYS)) B/key); stopping it"
rcli SHUTDOWN NOSAVE >/dev/null 2>&1 || true
wait "$REDIS_PID" 2>/dev/null || true
REDIS_PID=

# ---------------------------------------------------------------------------
# pgbench runs
# ---------------------------------------------------------------------------
mkdir -p "$WORK/sql" "$WORK/log"
echo 'SELECT 1;' >"$WORK/sql/floor.sql"
printf '%s\n' '\set k random(1, :nkeys)' "SELECT auth_kv_get('sess:' || :k);" >"$WORK/sql/get.sql"
printf '%s\n' '\set k random(1, :nkeys)' "SELECT auth_kv_set('sess:' || :k, :val, 86400);" >"$WORK/sql/set.sql"

pgbench_cmd() { # secs keys workload logdir
	"$PGBIN/pgbench" -h 127.0.0.1 -p "$PGPORT" -U bench -n -M prepared -T "$1" \
		-c "$CLIENTS" -j "$THREADS" -f "$WORK/sql/$3.sql" -D "nkeys=$2" -D "val=$VAL" \
		-l --log-prefix="$4/tx" "$DB"
}

# reads of authstore.kv's heap and indexes outside / inside shared buffers,
# and its autovacuum count (backends report their statistics when they exit)
kvstat() {
	sql1 "SELECT s.heap_blks_read, s.heap_blks_hit, coalesce(s.idx_blks_read, 0), coalesce(s.idx_blks_hit, 0),
		t.autovacuum_count FROM pg_statio_user_tables s JOIN pg_stat_user_tables t USING (relid)
		WHERE relid = 'authstore.kv'::regclass"
}

declare -A ST=()
parse_stats() {
	local kv
	ST=()
	for kv in $1; do ST[${kv%%=*}]=${kv#*=}; done
}

run_pg() { # round keys workload   (round 0: the discarded warm-up run)
	local round=$1 keys=$2 wl=$3 dir out secs b a load1 _ note='' hh ih h1 h2
	dir=$WORK/log/$wl-$keys-$round
	out=$WORK/log/pgbench.out
	secs=$((SECS + RAMP))
	[ "$round" != 0 ] || secs=$PREWARM
	rm -rf "$dir"
	mkdir -p "$dir"
	b=$(kvstat)
	if ! pgbench_cmd "$secs" "$keys" "$wl" "$dir" >"$out" 2>&1; then
		cat "$out" >&2
		die "pgbench failed: $wl at $keys keys"
	fi
	grep -q '^number of failed transactions: 0 ' "$out" ||
		{ cat "$out" >&2; die "failed transactions: $wl at $keys keys"; }
	parse_stats "$("$PY" "$WORK/growth.py" halves "$dir" "$DROP")"
	h1=${ST[tps1]} h2=${ST[tps2]}
	parse_stats "$("$PY" "$BENCH/analyze.py" pglog "$DROP" "$dir")"
	rm -rf "$dir"
	a=$(kvstat)
	read -r load1 _ </proc/loadavg
	# shellcheck disable=SC2086  # word lists
	set -- $b $a
	hh=$(awk -v r="$(($6 - $1))" -v h="$(($7 - $2))" 'BEGIN { if (r + h > 0) printf "%.1f", 100 * h / (r + h); else print "nan" }')
	ih=$(awk -v r="$(($8 - $3))" -v h="$(($9 - $4))" 'BEGIN { if (r + h > 0) printf "%.1f", 100 * h / (r + h); else print "nan" }')
	note=$(awk -v m="${ST[secs]}" -v s="$SECS" 'BEGIN { if (m < 0.5 * s) printf "short:%.2fs", m }')
	for k in tps p50_ms p99_ms avg_ms n secs; do csv growth "$round" "$keys" "$wl" "$k" "${ST[$k]}"; done
	csv growth "$round" "$keys" "$wl" tps_1st_half "$h1"
	csv growth "$round" "$keys" "$wl" tps_2nd_half "$h2"
	csv growth "$round" "$keys" "$wl" heap_hit_pct "$hh"
	csv growth "$round" "$keys" "$wl" idx_hit_pct "$ih"
	csv growth "$round" "$keys" "$wl" autovacuums "$((${10} - $5))"
	csv growth "$round" "$keys" "$wl" load1 "$load1"
	[ -z "$note" ] || csv growth "$round" "$keys" "$wl" note "$note"
	printf '    %-5s keys=%-9s round=%s %8s tps (halves %s, %s)  p50 %6s ms  p99 %6s ms  hit heap/idx %s/%s %%  %s\n' \
		"$wl" "$keys" "$round" "${ST[tps]}" "$h1" "$h2" "${ST[p50_ms]}" "${ST[p99_ms]}" "$hh" "$ih" \
		"$([ "$round" = 0 ] && echo '(warm-up, not counted)')$note" >&2
}

run_size() { # keys
	if [ "$PREWARM" -gt 0 ]; then
		say "runs at $1 keys: a $PREWARM s warm-up get (not counted), then $ROUNDS round(s) of floor, get, set"
		run_pg 0 "$1" get
	else
		say "runs at $1 keys: $ROUNDS round(s) of floor, get, set"
	fi
	for r in $(seq 1 "$ROUNDS"); do
		for wl in floor get set; do run_pg "$r" "$1" "$wl"; done
	done
}

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)

# ---------------------------------------------------------------------------
# 1. Growth
# ---------------------------------------------------------------------------
[ "$SWEEP_ONLY" = 1 ] || run_size "$KEYS_SMALL"
say "growing authstore.kv to $KEYS_BIG keys"
load_keys $((KEYS_SMALL + 1)) "$KEYS_BIG"
csv load "" "$KEYS_BIG" grow rows $((KEYS_BIG - KEYS_SMALL))
csv load "" "$KEYS_BIG" grow insert_s "$LOAD_S"
csv load "" "$KEYS_BIG" grow vacuum_s "$VACUUM_S"
measure_size "$KEYS_BIG"
[ "$SWEEP_ONLY" = 1 ] || run_size "$KEYS_BIG"

# ---------------------------------------------------------------------------
# 2. Sweep under load
# ---------------------------------------------------------------------------
# One long-lived psql answers the polls: one short transaction each, and no
# process start per poll on the machine being measured.
# Is any of the test rows left (found through the primary key: the schema
# may have no index on expires_at)?  Is the sweeper active?  Is an autovacuum
# working on authstore.kv?  @PREFIX@ is replaced per run.
POLL_TEMPLATE="SELECT extract(epoch FROM clock_timestamp()), EXISTS (SELECT 1 FROM authstore.kv WHERE key >= '@PREFIX@:' AND key < '@PREFIX@;'), coalesce((SELECT state || ' ' || extract(epoch FROM state_change) FROM pg_stat_activity WHERE backend_type = 'authstore sweeper' AND datname = current_database() LIMIT 1), '- 0'), (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'autovacuum worker' AND query LIKE '%authstore.kv%');"
coproc POLLQ { "$PGBIN/psql" -X -q -At -F' ' -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PGPORT" -U postgres -d "$DB" 2>&1; }
# shellcheck disable=SC2153  # POLLQ_PID is set by coproc
POLL_PID=$POLLQ_PID
poll() {
	printf '%s\n' "${POLL_TEMPLATE//@PREFIX@/$1}" >&"${POLLQ[1]}"
	IFS= read -r -t 30 POLL_OUT <&"${POLLQ[0]}" || die "the polling psql stopped answering"
}

# seconds of load before the rows expire: dropped start, 1 s to connect, SECS
BEFORE=$(awk -v d="$DROP" -v s="$SECS" 'BEGIN { print d + 1 + s }')

sweep_test() { # fresh | stale | unpaced (fresh, with authstore.sweep_cost_delay = 0)
	local v=$1 n=$SWEEP_ROWS prefix="exp_$1" dir=$WORK/log/sweep-$1 t margin T late pgb_secs
	local prev t_end='' first_active=-1 polls=0 av_polls=0 is_done=0 under_load=1 deadline
	local ts ex st sc av left gone rate sav0 sav1 name w nwin
	say "sweep with $v statistics: VACUUM authstore.kv, then $n rows that expire together"
	psql_su -d "$DB" -c 'VACUUM authstore.kv'
	# stale: stands for an autoanalyze that has not come round yet
	[ "$v" != stale ] || psql_su -d "$DB" -c 'ALTER TABLE authstore.kv SET (autovacuum_enabled = off)'
	# They expire at T (+ i us), far enough ahead for the insert, VACUUM
	# (ANALYZE) and the measured start of the run (the insert rate is known
	# from the growth step; if that was not enough, 'before' is shorter and
	# the report says so).
	margin=$(awk -v n="$n" -v r="$LOAD_RATE" -v b="$BEFORE" 'BEGIN { printf "%.0f", 3 * n / r + 8 + b }')
	t=$(now_s)
	T=$(psql_su -d "$DB" -At <<SQL
BEGIN;
SELECT extract(epoch FROM now() + interval '$margin seconds');
INSERT INTO authstore.kv (key, value, expires_at)
	SELECT '$prefix:' || i, $VALUE_SQL, now() + interval '$margin seconds' + i * interval '1 microsecond'
	FROM generate_series(1, $n) AS i;
COMMIT;
SQL
	)
	csv sweep "$v" "$KEYS_BIG" sweep insert_s "$(elapsed "$t")"
	t=$(now_s)
	if [ "$v" != stale ]; then
		psql_su -d "$DB" -c 'VACUUM ANALYZE authstore.kv'
	else
		psql_su -d "$DB" -c 'VACUUM authstore.kv'   # no ANALYZE: the statistics stay as they were
	fi
	csv sweep "$v" "$KEYS_BIG" sweep vacuum_s "$(elapsed "$t")"
	late=$(awk -v T="$T" -v b="$BEFORE" -v n="$(now_s)" 'BEGIN { printf "%.3f", n - (T - b) }')
	csv sweep "$v" "$KEYS_BIG" sweep late_s "$late"
	sleep_until "$(awk -v T="$T" -v b="$BEFORE" 'BEGIN { printf "%.6f", T - b }')"
	pgb_secs=$(awk -v T="$T" -v m="$SWEEP_MAX" -v n="$(now_s)" 'BEGIN { print int(T - n + m + 0.999) }')
	say "  $CLIENTS clients run get over $KEYS_BIG keys for $pgb_secs s; the rows expire after $(awk -v T="$T" -v n="$(now_s)" 'BEGIN { printf "%.1f", T - n }') s"
	sav0=$(kvstat | cut -d' ' -f5)
	mkdir -p "$dir"
	pgbench_cmd "$pgb_secs" "$KEYS_BIG" get "$dir" >"$dir.out" 2>&1 &
	PGB_PID=$!
	sleep_until "$T"
	# Poll every 0.2 s until no expired row is left; a stale sweep is given
	# up when the run ends, a fresh one followed for SWEEP_MAX s more.
	prev=$T
	deadline=$(awk -v T="$T" -v m="$SWEEP_MAX" -v v="$v" 'BEGIN { printf "%.6f", T + (v != "stale" ? 2 * m : m) }')
	while :; do
		poll "$prefix"
		read -r ts ex st sc av <<<"$POLL_OUT"
		polls=$((polls + 1))
		[ "$av" = 0 ] || av_polls=$((av_polls + 1))
		if [ "$st" = active ] && [ "$first_active" = -1 ]; then
			first_active=$(awk -v a="$ts" -v T="$T" 'BEGIN { printf "%.2f", a - T }')
		fi
		if [ "$ex" = f ]; then
			# the sweeper's idle report after its last batch, if it falls
			# between this poll and the previous one
			t_end=$(awk -v p="$prev" -v ts="$ts" -v sc="$sc" -v st="$st" \
				'BEGIN { printf "%.6f", ((st == "idle" && sc > p && sc <= ts) ? sc : ts) }')
			is_done=1
			kill -0 "$PGB_PID" 2>/dev/null || under_load=0
			break
		fi
		if ! kill -0 "$PGB_PID" 2>/dev/null; then
			under_load=0
			[ "$v" != stale ] || { t_end=$ts; break; }
		fi
		if awk -v ts="$ts" -v d="$deadline" 'BEGIN { exit !(ts > d) }'; then
			t_end=$ts
			break
		fi
		prev=$ts
		sleep 0.2
	done
	gone=$(awk -v a="$t_end" -v T="$T" 'BEGIN { printf "%.3f", a - T }')
	wait "$PGB_PID" || { cat "$dir.out" >&2; die "pgbench failed during the sweep test"; }
	PGB_PID=
	grep -q '^number of failed transactions: 0 ' "$dir.out" ||
		{ cat "$dir.out" >&2; die "failed transactions during the sweep test"; }
	sav1=$(kvstat | cut -d' ' -f5)
	left=$(sql1 "SELECT count(*) FROM authstore.kv WHERE key >= '$prefix:' AND key < '$prefix;'")
	[ "$is_done" = 0 ] || [ "$left" = 0 ] || die "the sweep looked done but $left '$prefix:' rows are left"
	rate=$(awk -v n="$n" -v l="$left" -v g="$gone" 'BEGIN { printf "%.0f", (n - l) / g }')
	if [ "$is_done" = 1 ]; then
		say "  all $n rows gone $gone s after they expired ($rate rows/s)"
	else
		say "  NOT done: $left of $n rows left after $gone s ($rate rows/s)"
	fi
	[ "$v" != stale ] || psql_su -d "$DB" -c 'ALTER TABLE authstore.kv RESET (autovacuum_enabled)'
	csv sweep "$v" "$KEYS_BIG" sweep rows "$n"
	csv sweep "$v" "$KEYS_BIG" sweep "done" "$is_done"
	csv sweep "$v" "$KEYS_BIG" sweep gone_after_s "$gone"
	csv sweep "$v" "$KEYS_BIG" sweep rows_per_s "$rate"
	csv sweep "$v" "$KEYS_BIG" sweep rows_left "$left"
	csv sweep "$v" "$KEYS_BIG" sweep first_active_s "$first_active"
	csv sweep "$v" "$KEYS_BIG" sweep under_load "$under_load"
	csv sweep "$v" "$KEYS_BIG" sweep polls "$polls"
	csv sweep "$v" "$KEYS_BIG" sweep autovacuum_polls "$av_polls"
	csv sweep "$v" "$KEYS_BIG" sweep autovacuums_run "$((sav1 - sav0))"
	csv sweep "$v" "$KEYS_BIG" sweep t_expire "$T"
	csv sweep "$v" "$KEYS_BIG" sweep t_gone "$t_end"
	nwin=0
	while read -r w; do
		parse_stats "$w"
		name=${ST[window]}
		nwin=$((nwin + 1))
		for k in n secs tps p50_ms p99_ms max_ms worst1s_p99_ms; do
			csv sweep "$v" "$KEYS_BIG" "$name" "$k" "${ST[$k]:-}"
		done
		printf '    %-6s %7s s %8s tps  p50 %6s ms  p99 %6s ms  worst 1-s p99 %6s ms  max %6s ms\n' "$name" \
			"${ST[secs]:-}" "${ST[tps]:-}" "${ST[p50_ms]:-}" "${ST[p99_ms]:-}" "${ST[worst1s_p99_ms]:-}" "${ST[max_ms]:-}" >&2
	done < <("$PY" "$WORK/growth.py" windows "$dir" "$DROP" \
		"before:$(awk -v T="$T" -v s="$SECS" 'BEGIN { printf "%.6f", T - s }'):$T" \
		"during:$T:$t_end" "after:$t_end:end")
	[ "$nwin" = 3 ] || die "could not analyse the pgbench log of the sweep run"
	# per-second p50/p99 around the expiry, for the picture (plot_results)
	"$PY" "$WORK/growth.py" series "$dir" "$T" >"$WORK/sweep-$v.dat"
	echo "$(awk -v a="$t_end" -v T="$T" 'BEGIN { printf "%.3f", a - T }')" >"$WORK/sweep-$v.gone"
	[ "$KEEP" = 1 ] || rm -rf "$dir"
}

sweep_test fresh
sweep_test stale
# the same as fresh without the sweeper's pacing, for comparison
psql_su -d postgres -c "ALTER SYSTEM SET authstore.sweep_cost_delay = 0" -c 'SELECT pg_reload_conf()' >/dev/null
sweep_test unpaced
psql_su -d postgres -c "ALTER SYSTEM RESET authstore.sweep_cost_delay" -c 'SELECT pg_reload_conf()' >/dev/null
eval "exec ${POLLQ[1]}>&-"
wait "$POLL_PID" 2>/dev/null || true
POLL_PID=
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

# ---------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------
T_END_ALL=$(date +%s)
# the installed library may have been built from a tree with local changes
DIRTY=
[ -z "$(git -C "$REPO" status --porcelain -- src sql Makefile authstore.control 2>/dev/null)" ] ||
	DIRTY="; the work tree has uncommitted changes in src/ or sql/"
INDEXES=$(sql1 "SELECT string_agg(indexrelid::regclass::text, ', ' ORDER BY indexrelid::regclass::text) FROM pg_index WHERE indrelid = 'authstore.kv'::regclass")
META=$WORK/meta.txt
{
	echo "Command: $CMDLINE   (mode $MODE: keys $KEYS_SMALL -> $KEYS_BIG, rounds=$ROUNDS, runs of $((SECS + RAMP)) s with $DROP s dropped, sweeps of $SWEEP_ROWS rows)"
	echo "Date: $(date -u '+%Y-%m-%d %H:%M UTC'); wall time $((T_END_ALL - T_BEGIN)) s"
	echo "Machine: $(nproc) cores, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -n 1), $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), kernel $(uname -r); $DISK_LINE"
	echo "Versions: $("$PGBIN/postgres" --version), $(redis-server --version | cut -d' ' -f1-3), authstore $(sed -n "s/^default_version = '\(.*\)'/\1/p" "$REPO/authstore.control") (installed $(stat -c %y "$("$PGBIN/pg_config" --pkglibdir)/authstore.so" | cut -d. -f1), repo commit $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?')$DIRTY)"
	echo "Schema: indexes of authstore.kv: $INDEXES"
	echo "Server: shared_buffers = $(sql1 'SHOW shared_buffers'), huge_pages = $(sql1 'SHOW huge_pages') (in use: $(sql1 "SELECT CASE WHEN $HUGE = 1 THEN 'yes' ELSE 'unknown (try)' END")), max_connections = $(sql1 'SHOW max_connections'), authstore.sweep_interval = $SWEEP_INTERVAL, authstore.sweep_batch_size = $SWEEP_BATCH, $SWEEP_PACING ($SWEEP_DEFAULTS)"
	echo "Load average (1/5/15 min): before $LOAD_BEFORE, after $LOAD_AFTER"
	# parameters for the report, not printed
	echo "@keys_small=$KEYS_SMALL"
	echo "@keys_big=$KEYS_BIG"
	echo "@sweep_keys=$KEYS_BIG"
	echo "@rounds=$ROUNDS"
	echo "@secs=$SECS"
	echo "@run_secs=$((SECS + RAMP))"
	echo "@drop=$DROP"
	echo "@clients=$CLIENTS"
	echo "@threads=$THREADS"
	echo "@sweep_max=$SWEEP_MAX"
	echo "@sweep_interval=$SWEEP_INTERVAL"
	echo "@sweep_batch=$SWEEP_BATCH"
	echo "@sweep_pacing=$SWEEP_PACING"
	echo "@sweep_defaults=$SWEEP_DEFAULTS"
} >"$META"
"$PY" "$WORK/growth.py" report "$CSV" "$META" | tee "$MD"

# ---------------------------------------------------------------------------
# Pictures (gnuplot, Debian's gnuplot-nox): tps against key count, and the
# clients' p99 second by second across each mass expiry.  PNGs next to the
# report, and copies in bench/img/ (the ones bench/README.md shows).
# ---------------------------------------------------------------------------
plot_results() {
	local tpsdat=$WORK/tps.dat png_tps=$RESULTS/growth-$STAMP-tps.png png_sweep=$RESULTS/growth-$STAMP-sweep.png
	local plots='' v gone
	command -v gnuplot >/dev/null || { [ "$APT" = 1 ] && apt-get install -y -q gnuplot-nox >/dev/null; } ||
		{ say "gnuplot not installed (apt-get install gnuplot-nox): no pictures"; return 0; }
	# median tps of each workload at each key count, from the CSV
	"$PY" - "$CSV" >"$tpsdat" <<'PYPLOT'
import csv, statistics, sys
t = {}
for r in csv.DictReader(open(sys.argv[1])):
    if r["section"] == "growth" and r["metric"] == "tps" and r["round"] != "0":
        t.setdefault(int(r["keys"]), {}).setdefault(r["item"], []).append(float(r["value"]))
for k in sorted(t):
    print(k, *(statistics.median(t[k].get(w, [float("nan")])) for w in ("get", "set", "floor")))
PYPLOT
	if [ -s "$tpsdat" ]; then
		gnuplot <<GP
set terminal pngcairo size 800,500 noenhanced
set output '$png_tps'
set title "authstore: tps against key count\\n($CLIENTS clients, median of $ROUNDS round(s), $MODE mode)"
set offsets graph 0.1, graph 0.1, 0, 0
set xlabel 'keys in authstore.kv'
set ylabel 'transactions per second'
set logscale x
set format x '%.0s%c'
set yrange [0:*]
set key bottom left
set grid
plot '$tpsdat' using 1:2 with linespoints title 'auth_kv_get', \
     '' using 1:3 with linespoints title 'auth_kv_set', \
     '' using 1:4 with linespoints dashtype 2 title 'SELECT 1 (floor)'
GP
		cp "$png_tps" "$BENCH/img/growth-tps.png"
	fi
	for v in fresh stale unpaced; do
		[ -s "$WORK/sweep-$v.dat" ] || continue
		cp "$WORK/sweep-$v.dat" "$RESULTS/growth-$STAMP-sweep-$v.dat"
		gone=$(cat "$WORK/sweep-$v.gone")
		case $v in
			fresh) label='current statistics' ;;
			stale) label='stale statistics' ;;
			unpaced) label='current statistics, sweeper not paced' ;;
		esac
		plots="$plots${plots:+, }'$WORK/sweep-$v.dat' using 1:4 with linespoints title '$label: all swept after $gone s'"
	done
	if [ -n "$plots" ]; then
		gnuplot <<GP
set terminal pngcairo size 800,500 noenhanced
set output '$png_sweep'
set title "auth_kv_get p99 per second across a mass expiry\\n($SWEEP_ROWS rows expire at 0 s; $CLIENTS clients over $KEYS_BIG keys; $MODE mode)"
set xlabel 'seconds since the rows expired'
set ylabel 'p99 latency per second (ms)'
set yrange [0:*]
set arrow from 0, graph 0 to 0, graph 1 nohead dashtype 2
set key top right
set grid
plot $plots
GP
		cp "$png_sweep" "$BENCH/img/growth-sweep.png"
	fi
	say "pictures: $png_tps, $png_sweep (copied to bench/img/)"
}
mkdir -p "$BENCH/img"
plot_results
echo
echo "raw results: $CSV"
