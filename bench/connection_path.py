"""Glade's own work per request, without the network: the serving loop on a fake socket.

Runs workers/connection.py's Connection (and everything under it: the sans-IO parser
and connection, the environ, the proxy-header middleware, the response writer) over
a socket object that hands out prepared requests and swallows the responses, so no
system call, no greenlet switch and no other process is measured. Three shapes: the
bench's A and B (keep-alive requests on one connection, and one connection per
`Connection: close` request, each with one header), and A's with the ten headers a
browser sends ("browser"). Usage, from the repository root:

    .venv/bin/python bench/connection_path.py              # microseconds per request
    GLADE_NO_EXTENSIONS=1 .venv/bin/python bench/connection_path.py   # the pure build

Instructions per request, which do not depend on what else the machine does: run
`--shape A --rounds 1 --requests N` (or another shape) under `valgrind --tool=callgrind`
for two values of N and divide the difference of the totals by the difference of the
N (docs/benchmarks.md has the figures).
"""

import argparse
import os
import socket
import time

from app import app as bench_app

from glade import extensions
from glade.config.loader import Config
from glade.workers import connection
from glade.workers.connection import Connection
from glade.workers.gevent import GeventWorker

KEEP_ALIVE = b"GET /plaintext HTTP/1.1\r\nHost: 127.0.0.1:8000\r\n\r\n"
CLOSE = b"GET /plaintext HTTP/1.1\r\nHost: 127.0.0.1:8000\r\nConnection: close\r\n\r\n"
BROWSER = (
    b"GET /plaintext HTTP/1.1\r\n"
    b"Host: 127.0.0.1:8000\r\n"
    b"User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    b"Chrome/120.0 Safari/537.36\r\n"
    b"Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n"
    b"Accept-Language: en-US,en;q=0.9\r\n"
    b"Accept-Encoding: gzip, deflate, br\r\n"
    b"Connection: keep-alive\r\n"
    b"Upgrade-Insecure-Requests: 1\r\n"
    b"Sec-Fetch-Dest: document\r\n"
    b"Sec-Fetch-Mode: navigate\r\n"
    b"Cookie: session=abc123; theme=dark\r\n"
    b"\r\n"
)
PEER = ("127.0.0.1", 50000)
ROUNDS = 7


class FakeSocket:
    """recv() hands out the prepared pieces, then end of file; send() takes everything."""

    __slots__ = ("_next", "_pieces", "sent")

    def __init__(self, pieces: list) -> None:
        self._pieces = pieces
        self._next = 0
        self.sent = 0

    def recv(self, size: int) -> bytes:
        if self._next < len(self._pieces):
            self._next += 1
            return self._pieces[self._next - 1]
        return b""

    def send(self, data) -> int:
        self.sent += len(data)
        return len(data)

    def close(self) -> None:
        pass


def _fake_recv(sock: FakeSocket, size: int) -> bytes:
    return sock.recv(size)


def _fake_send(sock: FakeSocket, data, start: int) -> int:
    return sock.send(memoryview(data)[start:] if start else data)


# The serving loop's socket calls, which the compiled build makes in C on the
# descriptor of a real gevent socket (workers/gevent_io.pyx), go to the fake.
connection._sock_recv = _fake_recv
connection._sock_send = _fake_send


def serving_setup():
    """What a gevent worker with the default settings gives each connection,
    built by the worker's own code, on a listener of its own."""
    worker = GeventWorker(Config(), [], age=1, status_fd=-1, master_pid=os.getpid())
    options = worker.serving_options(bench_app)
    with socket.create_server(("127.0.0.1", 0)) as listener:
        template = worker.environ_template_for(listener)
    return options, worker.state, template


def keep_alive(requests: int, setup, request: bytes = KEEP_ALIVE) -> float:
    """Seconds per request, all on one connection."""
    options, state, template = setup
    sock = FakeSocket([request] * requests)
    started = time.perf_counter()
    Connection(sock, PEER, options, state, template).serve(time.monotonic())
    elapsed = time.perf_counter() - started
    assert sock.sent > 100 * requests, "the requests were not answered"
    return elapsed / requests


def one_per_connection(requests: int, setup) -> float:
    """Seconds per request, each on a connection of its own."""
    options, state, template = setup
    started = time.perf_counter()
    for _ in range(requests):
        sock = FakeSocket([CLOSE])
        Connection(sock, PEER, options, state, template).serve(time.monotonic())
    elapsed = time.perf_counter() - started
    assert sock.sent > 100, "the request was not answered"
    return elapsed / requests


def browser(requests: int, setup) -> float:
    """Seconds per request, all on one connection, each with a browser's headers."""
    return keep_alive(requests, setup, BROWSER)


SHAPES = {"A": keep_alive, "B": one_per_connection, "browser": browser}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shape", choices=sorted(SHAPES), help="only this shape")
    parser.add_argument("--requests", type=int, default=20_000, help="per round")
    parser.add_argument("--rounds", type=int, default=ROUNDS, help="the best one counts")
    args = parser.parse_args()
    setup = serving_setup()
    print(extensions.summary()[1])
    for shape in [args.shape] if args.shape else sorted(SHAPES):
        best = min(SHAPES[shape](args.requests, setup) for _ in range(args.rounds))
        print(f"{shape}: {best * 1e6:.2f} µs per request")


if __name__ == "__main__":
    main()
