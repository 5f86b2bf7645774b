#!/usr/bin/env python3
"""bench/analyze.py — the number crunching behind bench/run.sh.

  analyze.py pglog WARM DIR        stats of one pgbench run from its
                                   per-transaction logs (--log) in DIR
  analyze.py report CSV [META]     the summary table of a results CSV

pglog prints one line: tps=... n=... p50_ms=... p99_ms=... avg_ms=... secs=...
Percentiles are nearest-rank over the measured transactions.
"""
import csv
import glob
import math
import os
import statistics
import sys


def nearest_rank(sorted_vals, q):
    if not sorted_vals:
        return float("nan")
    rank = max(1, math.ceil(q * len(sorted_vals)))
    return sorted_vals[rank - 1]


def read_pglog(logdir):
    """(end_us, latency_us) of every transaction in pgbench --log files
    (lines: client_id tx_no latency_us script_no epoch_s epoch_us), sorted
    by completion.  See pglog() for why latency is taken this way."""
    recs = []
    for path in glob.glob(os.path.join(logdir, "tx*")):
        prev = {}
        with open(path) as f:
            for line in f:
                p = line.split()
                if len(p) < 6:
                    continue
                client = p[0]
                end_us = int(p[4]) * 1000000 + int(p[5])
                if client in prev:
                    lat = end_us - prev[client]
                else:
                    lat = int(p[2])
                prev[client] = end_us
                recs.append((end_us, lat))
    recs.sort()
    return recs


def pglog(warm, logdir):
    """Stats of one run from its pgbench --log files (read_pglog).

    pgbench 15 caches its clock reading across the clients of a thread, so
    with more than one client it logs a latency of 0 for most transactions
    whose round trip is shorter than ~0.1 ms (seen: 40-90 % zeros for
    SELECT 1), while the completion timestamps still add up to its tps.  So
    the latency of a transaction is taken as the time since the same client's
    previous completion (a closed-loop client starts its next transaction at
    once): that is the logged latency whenever pgbench logs a non-zero one.
    A client's first transaction keeps its logged latency.

    The run starts at the earliest transaction start; transactions that
    complete in the first WARM seconds are dropped, the rest are measured up
    to the last completion.
    """
    recs = read_pglog(logdir)
    ends = [e for e, _ in recs]
    lats = [l for _, l in recs]
    if not ends:
        return "tps=0 n=0 p50_ms=nan p99_ms=nan avg_ms=nan secs=0"
    start = min(e - l for e, l in zip(ends, lats))
    wstart = start + warm * 1e6
    last = max(ends)
    sel = sorted(l for e, l in zip(ends, lats) if e >= wstart)
    secs = (last - wstart) / 1e6
    n = len(sel)
    tps = n / secs if secs > 0 else 0.0
    return "tps=%.1f n=%d p50_ms=%.3f p99_ms=%.3f avg_ms=%.3f secs=%.3f" % (
        tps, n, nearest_rank(sel, 0.50) / 1000, nearest_rank(sel, 0.99) / 1000,
        (sum(sel) / n / 1000) if n else float("nan"), secs)


# Order and labels of the summary table.
WORKLOADS = [
    ("floor", "floor: SELECT 1 / Redis PING"),
    ("xact_floor", "write floor: pg_current_xact_id()"),
    ("get_hit", "get, live key"),
    ("get_miss", "get, missing key"),
    ("set_ttl", "set with TTL (update)"),
    ("set_nx", "set_if_not_exists, TTL 5s"),
    ("take", "set+take pair (2 calls)"),
    ("delete", "set+delete pair (2 calls)"),
    ("incr", "incr (Redis: plain INCR)"),
    ("rl_random", "rl_hit, random keys"),
    ("rl_hot", "rl_hit, one hot key"),
    ("token_issue", "token issue (Redis: SET EX)"),
    ("token_consume", "issue+consume pair (2 calls)"),
]

# Workloads that write, with the number of transactions (round trips) in one
# pgbench transaction, for the comparison with the write floor.
WRITES = {"set_ttl": 1, "set_nx": 1, "take": 2, "delete": 2, "incr": 1,
          "rl_random": 1, "rl_hot": 1, "token_issue": 1, "token_consume": 2}


def fmt_tps(v):
    if v is None:
        return "-"
    return "%.0f" % v


def fmt_ms(v):
    if v is None or math.isnan(v):
        return "-"
    return "%.3f" % v if v < 1 else "%.2f" % v if v < 10 else "%.1f" % v


def fmt_ratio(a, b):
    if a is None or b is None or b == 0:
        return "-"
    return "%.2f" % (a / b)


def report(path, meta=None):
    runs = {}
    with open(path) as f:
        for r in csv.DictReader(f):
            key = (r["workload"], int(r["clients"]), r["system"])
            runs.setdefault(key, []).append(r)

    def med(key, field):
        rows = runs.get(key)
        if not rows:
            return None
        vals = [float(r[field]) for r in rows if r[field] not in ("", "nan")]
        return statistics.median(vals) if vals else None

    clients = sorted({k[1] for k in runs})
    rounds = max((len(v) for v in runs.values()), default=0)
    out = []
    if meta:
        out.append(meta.rstrip("\n"))
        out.append("")
    out.append("Median over %d round(s) per cell.  tps = transactions/s (a pair "
               "counts once); p50/p99 in ms." % rounds)
    out.append("x floor = tps / floor tps at the same client count (PostgreSQL: "
               "SELECT 1; Redis rows: PING).")
    out.append("as/peer, as/redis = authstore tps / peer tps, authstore tps / "
               "Redis tps (> 1: authstore is faster).")
    out.append("")
    hdr = ["workload", "clients",
           "authstore tps", "p50", "p99", "x floor",
           "peer tps", "p50", "p99", "x floor",
           "redis tps", "p50", "p99", "x floor",
           "as/peer", "as/redis"]
    rows = []
    for wl, label in WORKLOADS:
        for c in clients:
            a = (wl, c, "authstore")
            p = (wl, c, "peer")
            rd = (wl, c, "redis")
            if not any(k in runs for k in (a, p, rd)):
                continue
            fa = med(("floor", c, "authstore"), "tps")
            fr = med(("floor", c, "redis"), "tps")
            at, pt, rt = med(a, "tps"), med(p, "tps"), med(rd, "tps")
            ref = wl in ("floor", "xact_floor")
            rows.append([label, str(c),
                         fmt_tps(at), fmt_ms(med(a, "p50_ms")), fmt_ms(med(a, "p99_ms")),
                         "-" if wl == "floor" else fmt_ratio(at, fa),
                         fmt_tps(pt), fmt_ms(med(p, "p50_ms")), fmt_ms(med(p, "p99_ms")),
                         fmt_ratio(pt, fa),
                         fmt_tps(rt), fmt_ms(med(rd, "p50_ms")), fmt_ms(med(rd, "p99_ms")),
                         "-" if wl == "floor" else fmt_ratio(rt, fr),
                         "-" if ref else fmt_ratio(at, pt),
                         "-" if wl == "xact_floor" else fmt_ratio(at, rt)])
    # markdown table, aligned so that it also reads well in a terminal
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(hdr)]

    def line(cells):
        return "| " + " | ".join(
            c.ljust(widths[i]) if i == 0 else c.rjust(widths[i])
            for i, c in enumerate(cells)) + " |"

    out.append(line(hdr))
    out.append("|" + "|".join(("-" * (w + 1)) + (":" if i else "-")
                              for i, w in enumerate(widths)) + "|")
    for r in rows:
        out.append(line(r))

    # The writes against the write floor: what is left once the commit every
    # writing transaction pays is taken out of the comparison.
    wrows = []
    for wl, label in WORKLOADS:
        if wl not in WRITES:
            continue
        for c in clients:
            wf = med(("xact_floor", c, "authstore"), "tps")
            at = med((wl, c, "authstore"), "tps")
            pt = med((wl, c, "peer"), "tps")
            if wf is None or (at is None and pt is None):
                continue
            k = WRITES[wl]
            wrows.append([label, str(c), str(k),
                          fmt_ratio(at * k if at else None, wf),
                          fmt_ratio(pt * k if pt else None, wf)])
    if wrows:
        out.append("")
        out.append("Writes against the write floor (pg_current_xact_id(): take a "
                   "transaction ID and commit, nothing else): calls/s / write-floor "
                   "tps, where calls = tps x transactions per pgbench transaction. "
                   "A workload whose calls often write nothing (a live key for "
                   "set_if_not_exists, a denied hit) can exceed 1.")
        out.append("")
        wh = ["workload", "clients", "calls", "authstore x write floor",
              "peer x write floor"]
        ww = [max(len(h), *(len(r[i]) for r in wrows)) for i, h in enumerate(wh)]
        out.append("| " + " | ".join(h.ljust(ww[i]) if i == 0 else h.rjust(ww[i])
                                     for i, h in enumerate(wh)) + " |")
        out.append("|" + "|".join(("-" * (w + 1)) + (":" if i else "-")
                                  for i, w in enumerate(ww)) + "|")
        for r in wrows:
            out.append("| " + " | ".join(c.ljust(ww[i]) if i == 0 else c.rjust(ww[i])
                                         for i, c in enumerate(r)) + " |")
    return "\n".join(out)


def main(argv):
    if len(argv) >= 4 and argv[1] == "pglog":
        print(pglog(float(argv[2]), argv[3]))
    elif len(argv) >= 3 and argv[1] == "report":
        meta = None
        if len(argv) >= 4:
            with open(argv[3]) as f:
                meta = f.read()
        print(report(argv[2], meta))
    else:
        sys.stderr.write(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
