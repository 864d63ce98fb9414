"""The server's metrics, in the master: workers' counts added up, and its own.

Each worker sends its cumulative counts with every heartbeat
(workers/stats.py). The master keeps the latest snapshot of each live
worker and, when a worker is gone, adds its last one to `retired`: a
counter never goes backwards when workers restart, and the server's own
metrics need no PROMETHEUS_MULTIPROC_DIR. The master counts what only it
sees: restarts by cause, boot failures, workers by state; and reads, at
each scrape, every worker's memory and the listen queue of each TCP
listener.

The text format comes from prometheus_client (the `metrics` extra), the
library Prometheus maintains for Python: a custom collector hands it the
families, in a registry of its own, so an app's prometheus_client metrics
(multiprocess mode included) never mix with the server's.
"""

from __future__ import annotations

import json
import os
import socket
import struct
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path

from glade.workers.stats import DURATION_BUCKETS

RESTART_CAUSES = ("crash", "timeout", "max_requests", "memory", "lifetime", "reload", "scale")

# struct tcp_info (linux/tcp.h): eight u8 fields, then u32 rto, ato, snd_mss,
# rcv_mss, unacked, sacked. On a listening socket, tcpi_unacked is the number
# of connections waiting in its accept queue, and tcpi_sacked the queue's size.
_TCP_INFO_QUEUE = struct.Struct("24xII")  # unacked, sacked
_TCP_INFO_SIZE = 104
_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


class MissingLibrary(Exception):
    """--metrics-bind without prometheus_client installed."""


def require_prometheus_client() -> None:
    try:
        import prometheus_client  # noqa: F401
    except ImportError:
        raise MissingLibrary(
            "--metrics-bind needs prometheus_client: pip install 'glade[metrics]'"
        ) from None


class Totals:
    """Counts added up from worker snapshots."""

    __slots__ = ("buckets", "cut", "duration_sum", "requests")

    def __init__(self) -> None:
        self.requests: Counter[str] = Counter()
        self.buckets = [0] * (len(DURATION_BUCKETS) + 1)
        self.duration_sum = 0.0
        self.cut = 0

    def add(self, snapshot: dict) -> None:
        self.requests.update(snapshot.get("requests", {}))
        for index, count in enumerate(snapshot.get("buckets", ())[: len(self.buckets)]):
            self.buckets[index] += count
        self.duration_sum += snapshot.get("duration_sum", 0.0)
        self.cut += snapshot.get("cut", 0)


class ServerMetrics:
    """What the master knows for /metrics."""

    def __init__(self) -> None:
        self.retired = Totals()  # the last counts of workers that are gone
        self.restarts: Counter[str] = Counter({cause: 0 for cause in RESTART_CAUSES})
        self.boot_failures = 0

    @staticmethod
    def parse_snapshot(text: str) -> dict | None:
        try:
            snapshot = json.loads(text)
        except ValueError:
            return None  # a line cut short by a full pipe: the next one will do
        return snapshot if isinstance(snapshot, dict) else None

    def worker_gone(self, snapshot: dict | None) -> None:
        if snapshot:
            self.retired.add(snapshot)

    def restart(self, cause: str) -> None:
        self.restarts[cause] += 1

    def exposition(self, workers: Iterable, listeners: Iterable[socket.socket]) -> bytes:
        """The Prometheus text format of everything, for one scrape."""
        from prometheus_client import CollectorRegistry, generate_latest

        registry = CollectorRegistry(auto_describe=False)
        registry.register(_Collector(self, list(workers), list(listeners)))
        return generate_latest(registry)


class _Collector:
    def __init__(self, metrics: ServerMetrics, workers: list, listeners: list) -> None:
        self.metrics = metrics
        self.workers = workers
        self.listeners = listeners

    def collect(self) -> Iterator:
        from prometheus_client.core import (
            CounterMetricFamily,
            GaugeMetricFamily,
            HistogramMetricFamily,
        )

        metrics = self.metrics
        totals = Totals()
        totals.add(
            {
                "requests": metrics.retired.requests,
                "buckets": metrics.retired.buckets,
                "duration_sum": metrics.retired.duration_sum,
                "cut": metrics.retired.cut,
            }
        )
        connections = in_flight = 0
        for worker in self.workers:
            if worker.stats:
                totals.add(worker.stats)
                connections += worker.stats.get("connections", 0)
                in_flight += worker.stats.get("in_flight", 0)

        requests = CounterMetricFamily(
            "glade_requests",
            "Requests answered, by method and status code.",
            labels=["method", "code"],
        )
        for key, count in sorted(totals.requests.items()):
            method, _, code = key.partition(" ")
            requests.add_metric([method, code], count)
        yield requests

        cumulative = []
        running = 0
        for bound, count in zip((*DURATION_BUCKETS, float("inf")), totals.buckets, strict=True):
            running += count
            cumulative.append((_le(bound), running))
        yield HistogramMetricFamily(
            "glade_request_duration_seconds",
            "Time from a request's head to the end of its response.",
            buckets=cumulative,
            sum_value=totals.duration_sum,
        )
        yield GaugeMetricFamily(
            "glade_requests_in_flight", "Requests being answered now.", value=in_flight
        )
        yield GaugeMetricFamily(
            "glade_connections_open", "Client connections open in the workers.", value=connections
        )
        yield CounterMetricFamily(
            "glade_requests_cut",
            "Requests ended early: cut at a drain's deadline, by --request-timeout, "
            "or sent to a client that stopped reading.",
            value=totals.cut,
        )

        by_state = GaugeMetricFamily(
            "glade_workers", "Worker processes, by state.", labels=["state"]
        )
        states = Counter(worker.state.value for worker in self.workers)
        for state in ("booting", "ready", "retiring", "stopping", "aborting"):
            by_state.add_metric([state], states.get(state, 0))
        yield by_state

        restarts = CounterMetricFamily(
            "glade_worker_restarts",
            "Workers replaced or stopped, by cause.",
            labels=["cause"],
        )
        for cause, count in sorted(metrics.restarts.items()):
            restarts.add_metric([cause], count)
        yield restarts
        yield CounterMetricFamily(
            "glade_boot_failures", "Workers that could not boot.", value=metrics.boot_failures
        )

        memory = GaugeMetricFamily(
            "glade_worker_memory_bytes", "Resident memory (RSS) of each worker.", labels=["worker"]
        )
        for worker in self.workers:
            rss = resident_bytes(worker.pid)
            if rss is not None:
                memory.add_metric([str(worker.pid)], rss)
        yield memory

        queue = GaugeMetricFamily(
            "glade_listen_queue",
            "Connections waiting in a TCP listener's accept queue.",
            labels=["listener"],
        )
        for listener in self.listeners:
            waiting = listen_queue(listener)
            if waiting is not None:
                queue.add_metric([_address(listener)], waiting)
        yield queue


def resident_bytes(pid: int) -> int | None:
    """A process's resident memory (RSS), from /proc; None if it is gone."""
    try:
        fields = Path(f"/proc/{pid}/statm").read_text().split()
    except OSError:
        return None
    return int(fields[1]) * _PAGE_SIZE


def listen_queue(listener: socket.socket) -> int | None:
    """Connections waiting to be accepted on a TCP listener (Linux's
    TCP_INFO); None for other sockets."""
    if listener.family not in (socket.AF_INET, socket.AF_INET6):
        return None
    try:
        info = listener.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, _TCP_INFO_SIZE)
    except (OSError, AttributeError):
        return None
    if len(info) < 32:
        return None
    unacked, _size = _TCP_INFO_QUEUE.unpack_from(info)
    return unacked


def _address(listener: socket.socket) -> str:
    try:
        host, port = listener.getsockname()[:2]
    except (OSError, ValueError):
        return "?"
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _le(bound: float) -> str:
    return "+Inf" if bound == float("inf") else repr(bound)
