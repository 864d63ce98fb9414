"""Summaries, the printed table and the JSON file, all from the raw measurements.

Medians over rounds, not means: one noisy round on a shared 2-core machine should not
move the reported number. Ratios are taken between medians of the same workload and
worker count, which is the number the project tracks.
"""

import json
import statistics

from .servers import BASELINE, SERVERS, SYNC_BASELINE


def _median(values):
    """Median of the values that exist, or None."""
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def _ratio(value, base):
    """value/base rounded for reading, or None when either side is missing."""
    if value is None or not base:
        return None
    return round(value / base, 3)


def summarize_group(rows):
    """One summary row from all rounds of one (workers, workload, server)."""
    ok = [r for r in rows if r.get("requests_per_sec") is not None]
    rps = [r["requests_per_sec"] for r in ok]
    rss = [kib for r in ok for kib in r.get("worker_rss_kib", [])]
    uss = [kib for r in ok for kib in r.get("worker_uss_kib", [])]
    failures = [r["error"] for r in rows if r.get("error")]
    return {
        "workers": rows[0]["workers"],
        "workload": rows[0]["workload"],
        "server": rows[0]["server"],
        "rounds_ok": len(ok),
        "rounds_failed": len(rows) - len(ok),
        "median_rps": _median(rps),
        "min_rps": min(rps) if rps else None,
        "max_rps": max(rps) if rps else None,
        "p50_ms": _median(r.get("p50_ms") for r in ok),
        "p99_ms": _median(r.get("p99_ms") for r in ok),
        "errors": sum(r.get("errors", 0) for r in ok),
        "socket_errors": sum(sum(r["socket_errors"].values()) for r in ok),
        "non_2xx": sum(r.get("non_2xx", 0) for r in ok),
        "worker_rss_kib_max": max(rss) if rss else None,
        "worker_rss_kib_median": _median(rss),
        "worker_uss_kib_max": max(uss) if uss else None,
        "server_pss_kib_median": _median(r.get("server_pss_kib") for r in ok),
        "last_failure": failures[-1] if failures else None,
    }


def summarize(measurements):
    """Summary rows in run order, each with its ratios to the gunicorn baselines."""
    groups = {}
    for row in measurements:
        groups.setdefault((row["workers"], row["workload"], row["server"]), []).append(row)
    summary = [summarize_group(rows) for rows in groups.values()]
    medians = {(s["workers"], s["workload"], s["server"]): s["median_rps"] for s in summary}
    for s in summary:
        key = (s["workers"], s["workload"])
        s["ratio_vs_gunicorn_gevent"] = _ratio(s["median_rps"], medians.get((*key, BASELINE)))
        s["ratio_vs_gunicorn_sync"] = None
        if SERVERS[s["server"]].sync:
            base = medians.get((*key, SYNC_BASELINE))
            s["ratio_vs_gunicorn_sync"] = _ratio(s["median_rps"], base)
    return summary


def _num(value, fmt):
    """Format a number, or '-' when it is missing."""
    return "-" if value is None else format(value, fmt)


def _ratio_text(value):
    return "-" if value is None else f"{value:.2f}x"


COLUMNS = (
    ("server", 24, "<"),
    ("req/s", 9, ">"),
    ("min-max", 15, ">"),
    ("p50", 8, ">"),
    ("p99", 8, ">"),
    ("errors", 7, ">"),
    ("RSS/wkr", 9, ">"),
    ("USS/wkr", 9, ">"),
    ("PSS/srv", 9, ">"),
    ("vs gu-gev", 9, ">"),
    ("vs gu-sync", 10, ">"),
)


def _line(cells):
    return "  ".join(
        format(str(c), f"{align}{width}")
        for c, (_, width, align) in zip(cells, COLUMNS, strict=True)
    )


def _cells(s):
    """The printed cells of one summary row."""
    low, high = s["min_rps"], s["max_rps"]
    span = "-" if low is None else f"{low:,.0f}-{high:,.0f}"
    rss = s["worker_rss_kib_max"]
    uss = s.get("worker_uss_kib_max")
    pss = s.get("server_pss_kib_median")
    name = s["server"] + (" (FAILED)" if s["rounds_failed"] and not s["rounds_ok"] else "")
    return (
        name,
        _num(s["median_rps"], ",.0f"),
        span,
        "-" if s["p50_ms"] is None else f"{s['p50_ms']:.2f}ms",
        "-" if s["p99_ms"] is None else f"{s['p99_ms']:.2f}ms",
        s["errors"],
        "-" if rss is None else f"{rss / 1024:.1f}M",
        "-" if uss is None else f"{uss / 1024:.1f}M",
        "-" if pss is None else f"{pss / 1024:.1f}M",
        _ratio_text(s["ratio_vs_gunicorn_gevent"]),
        _ratio_text(s["ratio_vs_gunicorn_sync"]),
    )


def table(summary, workloads):
    """Readable text table: one block per worker count and workload."""
    out = []
    for workers in sorted({s["workers"] for s in summary}):
        for key, workload in workloads.items():
            rows = [s for s in summary if s["workers"] == workers and s["workload"] == key]
            if not rows:
                continue
            out.append(f"\n[workers={workers}] {key}: {workload.description}")
            out.append(_line([name for name, _, _ in COLUMNS]))
            out.extend(_line(_cells(s)) for s in rows)
            out.extend(
                f"  ! {s['server']}: {s['rounds_failed']} round(s) failed: {s['last_failure']}"
                for s in rows
                if s["rounds_failed"]
            )
    return "\n".join(out)


def write_json(path, document):
    """Write the results document (settings, versions, raw rows, summary)."""
    path.write_text(json.dumps(document, indent=2, default=str) + "\n")
