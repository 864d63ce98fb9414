"""StatsD: a UDP listener on 127.0.0.1 receives gunicorn's metric names from a
real `glade`, under the prefix and with the DogStatsD tags, one line per
metric, as a StatsD server would."""

from __future__ import annotations

import os
import re
import signal
import socket
import time
from collections import Counter

import pytest
from support.server import GladeServer, free_port, http_get, wait_until

TAGS = "|#env:test"
# Every line a StatsD server would accept: name, value, type, then the tags.
LINE = re.compile(r"^web\.gunicorn\.[a-z0-9.]+:[0-9.]+\|(c|ms|g)\|#env:test$")
DURATION = re.compile(r"^web\.gunicorn\.request\.duration:(\d+\.\d{3})\|ms\|#env:test$")


class StatsDListener:
    """What a StatsD server receives: each datagram split into its lines."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.address = f"127.0.0.1:{self.sock.getsockname()[1]}"
        self.lines: list[str] = []

    def receive(self, seconds: float) -> None:
        """Read what arrives for `seconds`."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            self.sock.settimeout(left)
            try:
                datagram = self.sock.recv(65536)
            except TimeoutError:
                return
            self.lines += datagram.decode().split("\n")

    def wait_for(self, line: str, count: int = 1, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while self.count(line) < count:
            if time.monotonic() >= deadline:
                raise AssertionError(f"{line!r} x{count} not received in {timeout} s: {self.lines}")
            self.receive(0.1)

    def count(self, line: str) -> int:
        return self.lines.count(line)

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def statsd():
    listener = StatsDListener()
    yield listener
    listener.close()


def start(statsd: StatsDListener, *args: str) -> GladeServer:
    return GladeServer(
        "validated:app",
        "--statsd-host",
        statsd.address,
        "--statsd-prefix",
        "web",
        "--dogstatsd-tags",
        "env:test",
        *args,
    )


@pytest.mark.parametrize(
    "worker_args",
    [("-k", "gevent"), ("-k", "sync"), ("-k", "gevent", "--preload")],
    ids=["gevent", "sync", "gevent-preload"],
)
def test_requests_statuses_durations_workers_and_errors(statsd, worker_args):
    paths = {"/": 200, "/no-such-page": 404, "/status?204": 204, "/error": 500}
    requests = ["/", "/", "/no-such-page", "/no-such-page", "/no-such-page", "/status?204"]
    with start(statsd, *worker_args, "-w", "2") as server:
        statsd.wait_for(f"web.gunicorn.workers:2|g{TAGS}")
        for path in [*requests, "/error"]:
            assert http_get(server.host, server.port, path)[0] == paths[path]
        answered = len(requests) + 1
        statsd.wait_for(f"web.gunicorn.requests:1|c{TAGS}", answered)
        statsd.wait_for(f"web.gunicorn.log.exception:1|c{TAGS}")
        statsd.receive(1.5)  # a worker's next flush: nothing is sent twice
        assert server.tracebacks() == 1  # the app's error, logged once

    lines = [line for line in statsd.lines if "gunicorn.workers" not in line]
    assert [line for line in lines if not LINE.match(line)] == []
    assert statsd.count(f"web.gunicorn.requests:1|c{TAGS}") == answered
    by_status = Counter(
        int(line.split(":")[0].rsplit(".", 1)[1]) for line in lines if ".request.status." in line
    )
    assert by_status == {200: 2, 404: 3, 204: 1, 500: 1}
    durations = [float(match[1]) for line in lines if (match := DURATION.match(line))]
    assert len(durations) == answered
    assert all(0 <= milliseconds < 5000 for milliseconds in durations)
    assert statsd.count(f"web.gunicorn.log.exception:1|c{TAGS}") == 1


def test_the_masters_errors_are_counted_and_a_crashed_worker_is_replaced(statsd):
    with start(statsd, "-w", "2") as server:
        statsd.wait_for(f"web.gunicorn.workers:2|g{TAGS}")
        crashed = server.worker_pids()[0]
        os.kill(crashed, signal.SIGKILL)  # the master: "Worker N died unexpectedly"
        statsd.wait_for(f"web.gunicorn.log.error:1|c{TAGS}")
        assert wait_until(lambda: len(set(server.worker_pids()) - {crashed}) == 2, 10)
        assert f"Worker {crashed} died unexpectedly" in server.output()


def test_the_workers_gauge_follows_scaling_and_a_reload_keeps_sending(statsd):
    with start(statsd, "-w", "2") as server:
        statsd.wait_for(f"web.gunicorn.workers:2|g{TAGS}")
        server.signal(signal.SIGTTIN)
        statsd.wait_for(f"web.gunicorn.workers:3|g{TAGS}")
        old_workers = set(server.worker_pids())
        server.signal(signal.SIGHUP)
        assert wait_until(lambda: "Reload complete" in server.output(), 15)
        assert wait_until(lambda: not old_workers & set(server.worker_pids()), 15)
        before = statsd.count(f"web.gunicorn.requests:1|c{TAGS}")
        assert server.get("/")[0] == 200
        statsd.wait_for(f"web.gunicorn.requests:1|c{TAGS}", before + 1)
        # A reload reads the config again: back to its two workers, as in gunicorn.
        two = f"web.gunicorn.workers:2|g{TAGS}"
        statsd.wait_for(two, statsd.count(two) + 1)


def test_statsd_and_prometheus_metrics_together(statsd):
    pytest.importorskip("prometheus_client")
    metrics_port = free_port()
    with start(statsd, "--metrics-bind", f"127.0.0.1:{metrics_port}") as server:
        for _ in range(5):
            assert server.get("/")[0] == 200
        statsd.wait_for(f"web.gunicorn.requests:1|c{TAGS}", 5)

        def counted() -> bool:
            _, body = http_get("127.0.0.1", metrics_port, "/metrics")
            return 'glade_requests_total{code="200",method="GET"} 5.0' in body.decode()

        assert wait_until(counted, 10)
