"""Clients that hold connections without using them cannot starve a worker.

A connection that stays silent is closed after --first-byte-timeout; a
head that trickles in or stops is cut with a 408 after a few seconds
(--header-min-rate); a worker at worker_connections closes the connections
that have kept it waiting longest to make room for new clients, and says so
once; the memory unfinished heads hold is bounded by --limit-request-head,
and given back when they are gone.
"""

from __future__ import annotations

import resource
import socket
import threading
import time

import pytest
from support.load import Load
from support.server import GladeServer, http_get, read_until_close, split_responses, vm_rss

APP = "core_app:app"
MIB = 1024 * 1024


def raise_descriptor_limit(wanted: int) -> None:
    """Room for `wanted` sockets here, and in the server, which inherits it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= wanted:
        return
    if hard != resource.RLIM_INFINITY and hard < wanted:
        pytest.skip(f"needs {wanted} descriptors; the hard limit is {hard}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


def test_a_silent_connection_is_closed_after_the_first_byte_timeout():
    with GladeServer(APP, "--first-byte-timeout", "1") as server:
        silent = server.connect()
        talking = server.connect()
        try:
            time.sleep(0.5)
            talking.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            assert talking.recv(65536).startswith(b"HTTP/1.1 200 OK")
            started = time.monotonic()
            silent.settimeout(10)
            assert silent.recv(1) == b""  # closed without a response
            assert time.monotonic() - started < 2.0  # not the 30 s header timeout
        finally:
            silent.close()
            talking.close()
        assert server.tracebacks() == 0


def open_connections(
    host: str,
    port: int,
    count: int,
    sockets: list,
    stop: threading.Event,
    first: bytes = b"",
    per_second: float = 0.0,
) -> None:
    """Open `count` connections (sending `first` on each), keeping them open;
    at most `per_second` of them a second, if given."""
    started = time.monotonic()
    for index in range(count):
        if stop.is_set():
            return
        if per_second:
            ahead = started + index / per_second - time.monotonic()
            if ahead > 0:
                time.sleep(ahead)
        try:
            sock = socket.create_connection((host, port), timeout=5)
        except OSError:
            continue
        sockets.append(sock)
        if first:
            try:
                sock.sendall(first)
            except OSError:
                pass


class Prober:
    """A normal client asking every 0.1 s while the test runs; the slowest answer."""

    def __init__(self, server: GladeServer) -> None:
        self.server = server
        self.slowest = 0.0
        self.answered = 0
        self.failures: list[str] = []

    def probe_for(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            started = time.monotonic()
            try:
                answer = http_get(self.server.host, self.server.port, "/", timeout=5)
            except OSError as error:
                self.failures.append(repr(error))
            else:
                if answer != (200, b"Hello, World!"):
                    self.failures.append(repr(answer))
                self.answered += 1
            self.slowest = max(self.slowest, time.monotonic() - started)
            time.sleep(0.1)


@pytest.mark.parametrize(
    ("count", "args"),
    [(5000, ()), (10000, ("--worker-connections", "1000"))],
    ids=["5000-defaults", "10000"],
)
def test_silent_connections_cannot_starve_a_full_worker(count, args):
    """Thousands of connections that never send a byte, opened at 2,000 a
    second, against one worker (worker_connections 1000): a normal client is
    answered within a second throughout.

    (Faster, a flood fills the kernel's accept queue itself at moments: a SYN
    that arrives then is dropped, and its client retries only a second later,
    whatever the server does. That is the network's to absorb: SYN cookies,
    a load balancer, rate limits; see docs/security.md.)"""
    raise_descriptor_limit(count + 1024)
    with GladeServer(APP, "-w", "1", *args) as server:
        sockets: list[socket.socket] = []
        stop = threading.Event()
        opener = threading.Thread(
            target=open_connections,
            args=(server.host, server.port, count, sockets, stop),
            kwargs={"per_second": 2000},
            daemon=True,
        )
        opener.start()
        prober = Prober(server)
        try:
            prober.probe_for(6)
            opener.join(timeout=60)
            assert len(sockets) > count * 0.9  # they all got in, the worker really was full
            assert prober.failures == []
            assert prober.slowest < 1.0, prober.slowest
            assert prober.answered >= 25
            assert "is full (worker_connections 1000): closed" in server.output()
        finally:
            stop.set()
            opener.join(timeout=60)
            for sock in sockets:
                sock.close()
        assert server.tracebacks() == 0


def send_paced(sock: socket.socket, data: bytes, piece: int, every: float) -> None:
    """Send `data` `piece` bytes at a time, one piece every `every` seconds,
    until it is all sent or the server closes."""
    for start in range(0, len(data), piece):
        try:
            sock.sendall(data[start : start + piece])
        except OSError:
            return
        time.sleep(every)


def paced_exchange(server, data: bytes, piece: int, every: float, pause_at: int = 0) -> dict:
    """Send `data` at a pace (pausing 6 s after `pause_at` bytes, if given)
    and read the answer: its statuses and when it came."""
    outcome: dict = {}
    sock = server.connect(timeout=30)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    started = time.monotonic()

    def send() -> None:
        if pause_at:
            send_paced(sock, data[:pause_at], piece, every)
            time.sleep(6)
            send_paced(sock, data[pause_at:], piece, every)
        else:
            send_paced(sock, data, piece, every)

    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    try:
        answer = read_until_close(sock, timeout=30)
        outcome["seconds"] = time.monotonic() - started
        outcome["statuses"] = [response.status for response in split_responses(answer)]
    finally:
        sock.close()
        sender.join(timeout=30)
    return outcome


def test_slow_heads_are_cut_and_steady_ones_are_not():
    """With the defaults: a head trickled at 1 byte/s is gone within 10 s
    with a 408; one that stops for 6 s gets a 408; a head arriving steadily
    at 1 KiB/s for 8 s (past the 5 s grace) is served."""
    trickle = b"GET / HTTP/1.1\r\nHost: x\r\n" + b"X-Slow: " + b"s" * 60 + b"\r\n\r\n"
    steady = (
        b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
        + b"".join(b"X-Steady-%d: %s\r\n" % (i, b"v" * 1000) for i in range(8))
        + b"\r\n"
    )
    paused = b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Paused: 1\r\n\r\n"
    with GladeServer(APP, "-w", "1") as server:
        outcomes: dict = {}
        cases = {
            "trickle": lambda: paced_exchange(server, trickle, 1, 1.0),
            "steady": lambda: paced_exchange(server, steady, 128, 0.125),
            "paused": lambda: paced_exchange(server, paused, 1000, 0.0, pause_at=30),
        }
        threads = [
            threading.Thread(target=lambda n=name, f=run: outcomes.update({n: f()}), daemon=True)
            for name, run in cases.items()
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert outcomes["trickle"]["statuses"] == [408]
        assert outcomes["trickle"]["seconds"] < 10
        assert outcomes["paused"]["statuses"] == [408]
        assert 4.5 < outcomes["paused"]["seconds"] < 6.5
        assert outcomes["steady"]["statuses"] == [200]
        assert outcomes["steady"]["seconds"] > 7  # it really took past the grace
        output = server.output()
        assert output.count("408 request head arriving too slowly") == 2, output
        assert server.tracebacks() == 0


def test_a_full_worker_does_not_close_the_keep_alive_clients_it_is_serving():
    """A worker at its worker_connections with busy keep-alive clients, and
    one client more: a connection between two requests of a busy client is
    not idle (its next request is a moment away), so none is closed to make
    room, and no request fails or has to be retried. The newcomer waits in
    the backlog and is answered once a client leaves. Three rounds."""
    clients = 10
    args = ("-w", "1", "--worker-connections", str(clients), "--keep-alive", "5")
    with GladeServer("validated:app", *args) as server:
        for _ in range(3):
            load = Load(
                server.host, server.port, clients=clients, path="/sleep?0.02", max_seconds=3
            )
            with load:
                load.wait_for(ok=clients)  # every slot taken by a busy client
                newcomer = http_get(server.host, server.port, "/", timeout=10)
            counts = load.counts
            assert counts["failed"] == 0 and counts["retried"] == 0, (counts, load.errors)
            assert counts["ok"] > 20 * clients, counts
            assert newcomer == (200, b"Hello, World!")
        assert server.tracebacks() == 0


def test_unfinished_heads_hold_bounded_memory_and_give_it_back():
    """1,000 connections each holding an unfinished head as large as the
    defaults allow (--limit-request-head 32 KiB): the worker's RSS grows by
    under 100 MiB, a normal client is still answered, and once they are gone
    the RSS returns to near its baseline."""
    raise_descriptor_limit(2048 + 1024)
    head = (
        b"GET / HTTP/1.1\r\nHost: x\r\n"
        + b"".join(b"X-Big-%d: %s\r\n" % (i, b"v" * 8000) for i in range(3))
        + b"X-Unfinished: "
        + b"v" * 7700
    )
    assert 31 * 1024 < len(head) < 32 * 1024
    with GladeServer(APP, "-w", "1") as server:
        (worker,) = server.worker_pids()
        for _ in range(20):
            http_get(server.host, server.port, "/")
        time.sleep(1)
        baseline = vm_rss(worker)
        sockets: list[socket.socket] = []
        stop = threading.Event()
        prober = Prober(server)
        try:
            open_connections(server.host, server.port, 1000, sockets, stop, first=head)
            time.sleep(1)
            held = vm_rss(worker)
            prober.probe_for(2)
        finally:
            for sock in sockets:
                sock.close()
        assert len(sockets) == 1000
        grown = held - baseline
        assert 20 * MIB < grown < 100 * MIB, f"{grown / MIB:.1f} MiB for 1,000 heads"
        assert prober.failures == []
        assert prober.slowest < 1.0, prober.slowest
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and vm_rss(worker) > baseline + 10 * MIB:
            time.sleep(0.25)
        after = vm_rss(worker)
        assert after < baseline + 10 * MIB, (
            f"baseline {baseline / MIB:.1f} MiB, held {held / MIB:.1f}, after {after / MIB:.1f}"
        )
        assert server.tracebacks() == 0
