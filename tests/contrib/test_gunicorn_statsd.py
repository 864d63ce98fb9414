"""gunicorn's StatsD under Glade's worker class: gunicorn's own logger sends
the metrics, the same lines as with gunicorn's gevent worker, each once."""

from __future__ import annotations

import re
import socket
import time
from collections import Counter

import pytest

pytest.importorskip("gunicorn")
pytest.importorskip("gevent")

from gunicorn_support import WORKER, Gunicorn

REQUESTS = "web.gunicorn.requests:1|c|@1.0|#env:test"
EXCEPTION = "web.gunicorn.log.exception:1|c|@1.0|#env:test"


def statsd_lines(worker_class: str) -> Counter:
    """What a StatsD server receives from three requests, the last an app error."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    listener.bind(("127.0.0.1", 0))
    lines: list[str] = []
    server = Gunicorn(
        "--statsd-host",
        f"127.0.0.1:{listener.getsockname()[1]}",
        "--statsd-prefix",
        "web",
        "--dogstatsd-tags",
        "env:test",
        worker_class=worker_class,
    )
    try:
        for path, status in [("/", 200), ("/", 200), ("/error", 500)]:
            assert server.get(path)[0].status == status
        deadline = time.monotonic() + 10
        while lines.count(REQUESTS) < 3 or EXCEPTION not in lines:
            left = deadline - time.monotonic()
            assert left > 0, f"the request lines were not all received in 10 s: {lines}"
            listener.settimeout(left)
            try:
                lines += listener.recv(65536).decode().split("\n")
            except TimeoutError:
                pass
        # Anything sent twice would arrive by now.
        listener.settimeout(0.1)
        quiet_until = time.monotonic() + 1.5
        while time.monotonic() < quiet_until:
            try:
                lines += listener.recv(65536).decode().split("\n")
            except TimeoutError:
                pass
    finally:
        server.kill()
        listener.close()
    # Durations differ from run to run; the rest must not.
    return Counter(re.sub(r"duration:[0-9.]+\|", "duration:D|", line) for line in lines)


def test_the_same_statsd_lines_as_gunicorns_own_gevent_worker():
    glade_lines = statsd_lines(WORKER)
    assert glade_lines[REQUESTS] == 3  # with no access log too, each request once
    assert glade_lines["web.gunicorn.request.status.500:1|c|@1.0|#env:test"] == 1
    assert glade_lines[EXCEPTION] == 1  # Glade's log line, counted by gunicorn's logger
    assert glade_lines == statsd_lines("gevent")
