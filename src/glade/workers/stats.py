"""What a worker counts for the master's /metrics: requests, their durations, cuts.

The counts are cumulative since the worker started. With each heartbeat
the worker sends a snapshot (`stats <json>` on its status pipe); the master
adds up the latest snapshots of the live workers and the last ones of the
workers that are gone (supervisor/metrics.py). So the server's metrics need
no shared files, and a worker's exit loses at most its last second.

Counting costs a dict update and a bisect per request, and nothing at all
when metrics are off (the worker has no RequestStats then).
"""

from __future__ import annotations

import json
from bisect import bisect_left

# Upper bounds of the duration histogram's buckets, in seconds (Prometheus's
# default buckets); one more bucket holds what is slower than the last.
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)

# Methods counted by name; any other is counted as "other", so that a client
# inventing methods cannot grow the master's series without bound.
METHODS = frozenset(
    ("GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE")
)


class RequestStats:
    __slots__ = ("_buckets", "_duration_sum", "_requests", "cut")

    def __init__(self) -> None:
        self._requests: dict[str, int] = {}  # "METHOD STATUS" -> count
        self._buckets = [0] * (len(DURATION_BUCKETS) + 1)
        self._duration_sum = 0.0
        self.cut = 0  # requests ended early: drains cut short, stalled readers, timeouts

    def record(self, method: str, status: int, seconds: float) -> None:
        """One request answered (or failed) with `status`, in `seconds`."""
        key = f"{method if method in METHODS else 'other'} {status}"
        requests = self._requests
        requests[key] = requests.get(key, 0) + 1
        self._buckets[bisect_left(DURATION_BUCKETS, seconds)] += 1
        self._duration_sum += seconds

    def count_cut(self, count: int = 1) -> None:
        self.cut += count

    def snapshot(self, connections: int, in_flight: int) -> str:
        """The counts, and the two gauges given, as one line of JSON."""
        return json.dumps(
            {
                "requests": self._requests,
                "buckets": self._buckets,
                "duration_sum": round(self._duration_sum, 6),
                "cut": self.cut,
                "connections": connections,
                "in_flight": in_flight,
            },
            separators=(",", ":"),
        )
