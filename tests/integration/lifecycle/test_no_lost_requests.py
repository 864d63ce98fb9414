"""Stopping, reloading, scaling and recycling lose no request from clients
that reuse connections and never retry, repeated until a race would show.

Each scenario runs under steady keep-alive load from several clients and is
repeated (RUNS times; GLADE_STRESS_RUNS raises it, `make soak`). A request
counts as lost when it was sent on a connection the server had accepted
and got no complete 200: an empty reply, a reset, a truncated body. The
clients do not retry, as `requests` does not, so a reused connection closed
under a request is a loss too ("retried" in support.load's words).
"""

from __future__ import annotations

import os
import signal

import pytest
from support.load import Load
from support.server import wait_until

APP = "core_app:app"
RUNS = int(os.environ.get("GLADE_STRESS_RUNS", "10"))


def assert_nothing_lost(load: Load) -> None:
    counts = load.counts
    assert counts["failed"] == 0 and counts["retried"] == 0, (counts, load.errors)
    assert counts["ok"] > 0


def booted(server) -> int:
    return server.output().count("Booted worker")


def test_sighup_under_keep_alive_load_loses_nothing(glade_server):
    server = glade_server(APP, "-w", "2")
    with Load(server.host, server.port, clients=6, max_seconds=120) as load:
        load.wait_for(200)
        for run in range(1, RUNS + 1):
            old = set(server.worker_pids())
            server.signal(signal.SIGHUP)
            assert wait_until(lambda run=run: server.output().count("Reload complete") == run, 15)
            assert wait_until(lambda old=old: not old & set(server.worker_pids()), 15)
            load.wait_for(load.counts["ok"] + 100)
    assert_nothing_lost(load)
    assert server.tracebacks() == 0


def test_sigttou_under_keep_alive_load_loses_nothing(glade_server):
    server = glade_server(APP, "-w", "2")
    with Load(server.host, server.port, clients=6, max_seconds=120) as load:
        load.wait_for(200)
        for run in range(1, RUNS + 1):
            server.signal(signal.SIGTTIN)
            assert wait_until(lambda run=run: booted(server) == 2 + run, 10)
            load.wait_for(load.counts["ok"] + 50)
            server.signal(signal.SIGTTOU)  # the oldest worker drains
            assert wait_until(lambda run=run: server.output().count("exited") >= run, 10)
            load.wait_for(load.counts["ok"] + 50)
    assert_nothing_lost(load)
    assert server.tracebacks() == 0


def test_max_requests_recycling_under_keep_alive_load_loses_nothing(glade_server):
    server = glade_server(APP, "-w", "2", "--max-requests", "300", "--max-requests-jitter", "100")
    with Load(server.host, server.port, clients=6, max_seconds=120) as load:
        assert wait_until(lambda: booted(server) >= 2 + RUNS, 90)
        load.wait_for(load.counts["ok"] + 100)
    assert_nothing_lost(load)
    assert server.tracebacks() == 0


@pytest.mark.parametrize("run", range(RUNS))
def test_sigterm_under_keep_alive_load_loses_nothing(glade_server, run):
    """Clients keep their connections until the server says close; then they
    reconnect, and find the listener closed (refused: the clean way)."""
    server = glade_server(APP, "-w", "2")
    with Load(server.host, server.port, clients=6, max_seconds=30) as load:
        load.wait_for(300)
        server.signal(signal.SIGTERM)
        assert server.wait(timeout=10) == 0
    assert_nothing_lost(load)
    assert server.tracebacks() == 0
