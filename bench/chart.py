"""Bar chart of a results JSON: each server's req/s as a ratio to gunicorn -k gevent.

Standalone on purpose (json + matplotlib only): run.py calls it with whichever python
has matplotlib, the project venv or the anchors venv. Usage:

    python chart.py results-<timestamp>.json chart-<timestamp>.png

Without a gunicorn-gevent row (e.g. --servers ceiling) it plots median req/s instead.
"""

import json
import sys

import matplotlib

matplotlib.use("Agg")  # files only; never needs a display
import matplotlib.pyplot as plt

BASELINE = "gunicorn-gevent"


def _value(row, use_ratio):
    """Bar height: the ratio when there is a baseline, else the median req/s."""
    value = row["ratio_vs_gunicorn_gevent"] if use_ratio else row["median_rps"]
    return value or 0.0


def _panel(ax, rows, workers, use_ratio):
    """One subplot: workloads along x, one bar per server."""
    workloads = list(dict.fromkeys(r["workload"] for r in rows))
    servers = list(dict.fromkeys(r["server"] for r in rows))
    width = 0.8 / max(len(servers), 1)
    by_key = {(r["workload"], r["server"]): r for r in rows}
    for i, server in enumerate(servers):
        xs, heights = [], []
        for j, workload in enumerate(workloads):
            row = by_key.get((workload, server))
            if row is not None:
                xs.append(j + (i - (len(servers) - 1) / 2) * width)
                heights.append(_value(row, use_ratio))
        ax.bar(xs, heights, width, label=server)
    ax.set_xticks(range(len(workloads)), workloads)
    ax.set_title(f"{workers} worker(s)")
    if use_ratio:
        ax.axhline(1.0, color="black", linewidth=0.8)
        ax.set_ylabel("req/s ratio to gunicorn -k gevent")
    else:
        ax.set_ylabel("median req/s")


def render(document, out_path):
    """Draw one panel per worker count and save the PNG."""
    summary = document["summary"]
    use_ratio = any(r["server"] == BASELINE for r in summary)
    worker_counts = sorted({r["workers"] for r in summary})
    fig, axes = plt.subplots(
        len(worker_counts), 1, figsize=(10, 4 * len(worker_counts)), squeeze=False
    )
    for ax, workers in zip(axes[:, 0], worker_counts, strict=True):
        _panel(ax, [r for r in summary if r["workers"] == workers], workers, use_ratio)
    axes[0, 0].legend(fontsize="small", ncol=3)
    fig.suptitle(f"Glade bench {document.get('timestamp', '')} (median of rounds)")
    fig.tight_layout()
    fig.savefig(out_path, dpi=100)


def main(argv):
    if len(argv) != 2:
        sys.exit("usage: chart.py RESULTS.json OUT.png")
    with open(argv[0]) as f:
        render(json.load(f), argv[1])


if __name__ == "__main__":
    main(sys.argv[1:])
