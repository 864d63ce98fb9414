"""Stopping: Ctrl+C (once and twice), SIGTERM, the graceful timeout, SIGQUIT.

Each test reads like an operator's session: start glade, put requests in
flight, send the signal the way a terminal or an orchestrator would, and
check what clients and the log show.
"""

from __future__ import annotations

import signal
import socket
import sys
import time

import pytest
from support.load import Load, hold_requests, join_all, open_idle_connections
from support.server import APPS_DIR, TRACEBACK, free_port
from support.terminal import Terminal

APP = "lifecycle_app:app"


def start_in_terminal(*args: str) -> tuple[Terminal, int]:
    port = free_port()
    command = [sys.executable, "-m", "glade", "-b", f"127.0.0.1:{port}", *args, APP]
    terminal = Terminal(command, cwd=str(APPS_DIR))
    if not terminal.wait_for_text("master: BOOTING -> SERVING", 20):
        terminal.close()
        pytest.fail(f"glade did not start:\n{terminal.output()}")
    return terminal, port


def wait_for_beats() -> None:
    """Workers report their busy count to the master once a second."""
    time.sleep(1.3)


def test_ctrl_c_once_drains_every_in_flight_request():
    terminal, port = start_in_terminal("-w", "2")
    try:
        results, threads = hold_requests("127.0.0.1", port, "/sleep?3", 20)
        wait_for_beats()
        terminal.press_ctrl_c()
        join_all(threads, 15)
        terminal.proc.wait(timeout=10)
        exited_at = time.monotonic()
        output = terminal.output()
        assert [r[0] for r in results] == [200] * 20, results
        assert terminal.proc.returncode == 0
        last_response = max(r[3] for r in results)
        assert exited_at - last_response < 1.0
        assert "Shutting down: draining 20 requests (Ctrl+C again to force)" in output
        assert output.count("Shutting down: draining") == 1
        assert output.count(TRACEBACK) == 0, output
    finally:
        terminal.close()


def test_ctrl_c_on_an_idle_server_exits_at_once():
    terminal, _ = start_in_terminal("-w", "2")
    try:
        pressed = time.monotonic()
        terminal.press_ctrl_c()
        terminal.proc.wait(timeout=10)
        assert time.monotonic() - pressed < 1.0
        assert terminal.proc.returncode == 0
        assert "Shutting down: draining 0 requests (Ctrl+C again to force)" in terminal.output()
        assert terminal.output().count(TRACEBACK) == 0
    finally:
        terminal.close()


def test_ctrl_c_twice_forces_a_stop_and_counts_what_was_cut():
    terminal, port = start_in_terminal("-w", "2", "--graceful-timeout", "30")
    try:
        results, threads = hold_requests("127.0.0.1", port, "/sleep?30", 6)
        wait_for_beats()
        terminal.press_ctrl_c()
        assert terminal.wait_for_text("Ctrl+C again to force", 5)
        time.sleep(0.2)
        second = time.monotonic()
        terminal.press_ctrl_c()
        terminal.proc.wait(timeout=10)
        assert time.monotonic() - second < 1.0
        join_all(threads, 5)
        output = terminal.output()
        assert terminal.proc.returncode == 0
        assert all(r[0] == "error" for r in results), results
        cut = sum(
            int(line.split("cut ")[1].split()[0])
            for line in output.splitlines()
            if "forced stop; cut" in line
        )
        assert cut == 6, output
        assert output.count(TRACEBACK) == 0, output
    finally:
        terminal.close()


@pytest.mark.parametrize("worker_class", ["gevent", "sync"])
def test_sigterm_completes_in_flight_requests_with_connection_close(glade_server, worker_class):
    count = 50 if worker_class == "gevent" else 2
    workers = "2"
    server = glade_server(APP, "-k", worker_class, "-w", workers)
    results, threads = hold_requests(server.host, server.port, "/sleep?2", count)
    time.sleep(0.7)
    server.signal(signal.SIGTERM)
    join_all(threads, 20)
    assert server.wait(timeout=10) == 0
    if worker_class == "gevent":
        assert [(r[0], r[2]) for r in results] == [(200, "close")] * count, results
    else:
        # One request per sync worker is in flight; the rest wait in the
        # backlog, which a stopping server refuses or answers.
        assert sum(1 for r in results if r[0] == 200) >= 2, results
    assert server.tracebacks() == 0


def test_sigterm_closes_idle_keep_alive_connections_at_once(glade_server):
    server = glade_server(APP, "-w", "2", "--keep-alive", "30")
    idle = open_idle_connections(server.host, server.port, 20)
    try:
        sent = time.monotonic()
        server.signal(signal.SIGTERM)
        assert server.wait(timeout=10) == 0
        assert time.monotonic() - sent < 1.0
        for sock in idle:
            sock.settimeout(2)
            assert sock.recv(1) == b""  # closed by the server, not left hanging
    finally:
        for sock in idle:
            sock.close()
    closed = [
        int(line.split(" waiting for a request")[0].rsplit(" ", 1)[1])
        for line in server.output().splitlines()
        if " waiting for a request" in line
    ]
    assert sum(closed) == 20, server.output()  # every one counted, across both workers
    assert server.tracebacks() == 0


def test_sigterm_under_steady_load_fails_no_accepted_request(glade_server):
    """Every connection the kernel completed is answered, even with clients
    that reconnect in a tight loop as the server stops: before the master
    closes its copy of the listening socket, a socket filter stops new
    handshakes, and the workers keep accepting the ones already under way
    until their drain ends. New clients are refused, never reset."""
    server = glade_server(APP, "-w", "2")
    with (
        Load(server.host, server.port, clients=3, keep_alive=True) as steady,
        Load(server.host, server.port, clients=3, keep_alive=False) as fresh,
    ):
        steady.wait_for(200)
        fresh.wait_for(200)
        server.signal(signal.SIGTERM)
        assert server.wait(timeout=10) == 0
        time.sleep(0.3)  # clients keep trying against the stopped server
    for load in (steady, fresh):
        assert load.counts["failed"] == 0, (load.counts, load.errors)
        assert load.counts["retried"] == 0, (load.counts, load.errors)
        assert load.counts["ok"] > 0
    assert fresh.counts["refused"] > 0  # turned away cleanly, never reset
    assert server.tracebacks() == 0


def test_graceful_timeout_is_enforced_by_the_worker_itself(glade_server):
    server = glade_server(APP, "-w", "1", "--graceful-timeout", "3")
    results, threads = hold_requests(server.host, server.port, "/sleep?30", 1)
    time.sleep(0.5)
    sent = time.monotonic()
    server.signal(signal.SIGTERM)
    assert server.wait(timeout=10) == 0
    took = time.monotonic() - sent
    join_all(threads, 5)
    assert 2.5 < took < 3.6, took
    assert results[0][0] == "error"
    output = server.output()
    assert "graceful timeout; cut 1 in-flight requests" in output
    assert "SIGKILL" not in output and "missed its deadline" not in output
    assert server.tracebacks() == 0


def test_a_request_that_swallows_being_cut_does_not_crash_the_worker(glade_server):
    """Code that catches GreenletExit (a bare `except:`) and goes on waiting
    outlives the cut at the graceful timeout: the worker still exits
    cleanly a moment later, with one line that says where that code is."""
    server = glade_server(APP, "-w", "1", "--graceful-timeout", "1")
    results, threads = hold_requests(server.host, server.port, "/stubborn?30", 1)
    time.sleep(0.5)
    sent = time.monotonic()
    server.signal(signal.SIGTERM)
    assert server.wait(timeout=10) == 0
    assert time.monotonic() - sent < 4.0  # 1 s graceful timeout, 1 s to unwind
    join_all(threads, 5)
    assert results[0][0] == "error"
    output = server.output()
    assert "graceful timeout; cut 1 in-flight requests" in output
    assert "1 connections still running 1 s after being cut" in output
    assert 'lifecycle_app.py", line' in output and "in app" in output, output
    assert "crashed" not in output and "exit status 1" not in output, output
    assert server.tracebacks() == 0, output


@pytest.mark.parametrize("worker_class", ["gevent", "sync"])
def test_sigquit_stops_fast_without_tracebacks(glade_server, worker_class):
    server = glade_server(APP, "-k", worker_class, "-w", "2")
    results, threads = hold_requests(server.host, server.port, "/sleep?30", 2)
    time.sleep(0.5)
    sent = time.monotonic()
    server.signal(signal.SIGQUIT)
    assert server.wait(timeout=10) == 0
    assert time.monotonic() - sent < 1.0
    join_all(threads, 5)
    assert [r[0] for r in results] == ["error", "error"]  # cut, as QUIT asks
    assert server.tracebacks() == 0, server.output()


def test_sigterm_gives_silent_new_connections_the_drain_grace(glade_server):
    """A connection that has sent nothing is closed once it has been quiet
    for the drain's grace (0.5 s) since its accept; one that sends within
    it is served, with `Connection: close`."""
    server = glade_server(APP, "-w", "1", "--graceful-timeout", "20")
    silent = [server.connect() for _ in range(5)]
    try:
        time.sleep(0.6)  # accepted by the worker, and quiet for longer than the grace
        late = server.connect()
        silent.append(late)
        sent = time.monotonic()
        server.signal(signal.SIGTERM)
        time.sleep(0.1)
        late.sendall(b"GET / HTTP/1.1\r\nHost: test\r\n\r\n")  # within the grace: served
        reply = late.recv(65536)
        assert reply.startswith(b"HTTP/1.1 200 OK")
        assert b"Connection: close" in reply
        assert server.wait(timeout=10) == 0
        took = time.monotonic() - sent
        assert took < 1.5, took  # not the 20 s graceful timeout
        for sock in silent[:5]:
            sock.settimeout(2)
            assert sock.recv(1) == b""
    finally:
        for sock in silent:
            sock.close()
    assert server.tracebacks() == 0


def test_new_clients_are_refused_soon_while_a_long_drain_runs(glade_server):
    """New handshakes stop when the stop begins, and the listeners close a
    moment later: a new client is refused (and a load balancer moves on)
    instead of retrying its SYN until the last request of the drain ends."""
    server = glade_server(APP, "-w", "2", "--graceful-timeout", "20")
    results, threads = hold_requests(server.host, server.port, "/sleep?4", 2)
    time.sleep(0.5)
    server.signal(signal.SIGTERM)
    time.sleep(0.5)
    started = time.monotonic()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((server.host, server.port), timeout=3).close()
    assert time.monotonic() - started < 2.5  # at most one SYN retry, not the drain
    join_all(threads, 10)
    assert [r[0] for r in results] == [200, 200]  # the drain itself goes on
    assert server.wait(timeout=10) == 0
    assert server.tracebacks() == 0
