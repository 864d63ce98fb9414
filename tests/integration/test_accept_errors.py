"""When accept() fails for want of file descriptors, a worker logs it once,
backs off instead of spinning, and serves again once descriptors free up.

The worker's own descriptor limit is lowered by a post_worker_init hook (a
real config file), so the failures are the kernel's EMFILE, as in
production when a worker runs out.
"""

from __future__ import annotations

import os
import socket
import time

import pytest
from support.server import GladeServer, wait_until

APP = "core_app:app"
OUT_OF_RESOURCES = "accept out of resources"

CONFIG = """
import os
import resource

SLACK = {slack}


def post_worker_init(worker):
    # New descriptors get the lowest free number, and the limit bounds that
    # number: past the lowest free one plus SLACK, accept() fails.
    lowest_free = os.dup(0)
    os.close(lowest_free)
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (lowest_free + SLACK, hard))
"""


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def worker_cpu_over(pid: int, seconds: float) -> float:
    before = cpu_seconds(pid)
    time.sleep(seconds)
    return cpu_seconds(pid) - before


def start(tmp_path, worker_class: str, slack: int) -> GladeServer:
    config = tmp_path / "fds.conf.py"
    config.write_text(CONFIG.format(slack=slack))
    # The silent clients keep their descriptors until the test closes them:
    # no first-byte timeout frees one (and makes accept work again) meanwhile.
    args = ("-k", worker_class, "-w", "1", "-c", str(config), "--keep-alive", "30")
    args += ("--first-byte-timeout", "0")
    return GladeServer(APP, *args)


def test_gevent_worker_out_of_descriptors_logs_once_backs_off_and_recovers(tmp_path):
    with start(tmp_path, "gevent", slack=16) as server:
        assert server.get("/") == (200, b"Hello, World!")
        worker = server.worker_pids()[0]
        silent = [server.connect() for _ in range(40)]  # more than the worker can hold
        try:
            server.wait_for_output(OUT_OF_RESOURCES, timeout=10)
            assert worker_cpu_over(worker, 2.0) < 0.5  # waiting, not spinning
            assert server.output().count(OUT_OF_RESOURCES) == 1
        finally:
            for sock in silent:
                sock.close()
        # Their descriptors free up: the clients left in the queue are served.
        assert wait_until(lambda: "accept works again" in server.output(), 10)
        assert server.get("/") == (200, b"Hello, World!")
        assert server.tracebacks() == 0


def test_sync_worker_out_of_descriptors_logs_once_and_does_not_spin(tmp_path):
    with start(tmp_path, "sync", slack=0) as server:
        worker = server.worker_pids()[0]
        with socket.create_connection((server.host, server.port), timeout=5) as client:
            client.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            server.wait_for_output(OUT_OF_RESOURCES, timeout=10)
            assert worker_cpu_over(worker, 2.0) < 0.5
            assert server.output().count(OUT_OF_RESOURCES) == 1
            assert worker in server.worker_pids()  # still beating: not taken for stuck
        assert server.stop() == 0
        assert server.tracebacks() == 0


@pytest.mark.parametrize("worker_class", ["gevent", "sync"])
def test_no_accept_error_without_a_cause(tmp_path, worker_class):
    """The hook alone, with room to spare, changes nothing."""
    with start(tmp_path, worker_class, slack=64) as server:
        for _ in range(20):
            assert server.get("/") == (200, b"Hello, World!")
        output = server.output()
        assert "accept" not in output
        assert "hook failed" not in output
