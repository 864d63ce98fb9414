"""A response the app produced reaches the client whole: slow but steady
readers get everything, a stalled reader is cut with a log line, and a
request pipelined behind `Connection: close` never turns the response
before it into a reset.

`make test` runs a short form; GLADE_FULL_SIZE=1 (`make soak`) the sizes of
the original report: 50 MiB read at 2 MB/s with --body-timeout 5.
"""

from __future__ import annotations

import os
import time

import pytest
from support.server import (
    GladeServer,
    read_slowly,
    read_until_close,
    small_receive_buffer,
    split_responses,
)

APP = "core_app:app"
FULL = os.environ.get("GLADE_FULL_SIZE") == "1"
# (size, reading rate in bytes/s, --body-timeout): the download takes about
# four times the timeout, so a deadline on the whole response would cut it.
SLOW_DOWNLOAD = (50 * 2**20, 2_000_000, 5) if FULL else (12 * 2**20, 4_000_000, 1)


@pytest.fixture(params=["gevent", "sync"])
def worker_class(request) -> str:
    return request.param


@pytest.mark.parametrize("path", ["/big", "/big-generator"])
def test_a_slow_but_steady_download_arrives_whole(worker_class, path):
    size, rate, body_timeout = SLOW_DOWNLOAD
    args = ("-k", worker_class, "--body-timeout", str(body_timeout))
    with GladeServer(APP, *args) as server:
        with small_receive_buffer() as sock:
            sock.connect((server.host, server.port))
            request = f"GET {path}?{size} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
            sock.sendall(request.encode())
            started = time.monotonic()
            data, ended = read_slowly(sock, rate, limit=size / rate * 3 + 10)
            took = time.monotonic() - started
        (response,) = split_responses(data)
        assert ended == "eof"
        assert response.status == 200
        assert len(response.body) == size
        assert took > 2 * body_timeout  # the test reads slowly enough to matter
        assert "cut the response" not in server.output()
        assert server.tracebacks() == 0


def test_a_reader_that_stops_is_cut_after_body_timeout_with_a_log_line(worker_class):
    size = 256 * 2**20  # more than any socket buffer holds
    with GladeServer(APP, "-k", worker_class, "--body-timeout", "1") as server:
        with small_receive_buffer() as sock:
            sock.connect((server.host, server.port))
            sock.sendall(f"GET /big?{size} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            sock.settimeout(5)
            assert sock.recv(1024).startswith(b"HTTP/1.1 200 OK")
            # Now read nothing: the server gives up after the timeout.
            line = server.wait_for_output("cut the response to", timeout=10)
            cut = [text for text in line.splitlines() if "cut the response to" in text][-1]
            assert "GET /big" in cut
            assert "it read nothing for 1 s (--body-timeout)" in cut
            sent = int(cut.rsplit(";", 1)[1].split()[0])
            assert 0 < sent < size
            rest = read_until_close(sock, timeout=10)
            assert len(rest) < size  # the connection was closed, not finished
        assert server.get("/") == (200, b"Hello, World!")  # the worker serves on
        assert server.tracebacks() == 0


@pytest.mark.parametrize("tries", [50])
def test_a_request_pipelined_behind_connection_close_never_resets_the_response(worker_class, tries):
    """The next request arrives while the app runs, so it sits unread in the
    kernel when the response that says close is done."""
    failures = []
    with GladeServer(APP, "-k", worker_class) as server:
        for attempt in range(tries):
            with server.connect(timeout=5) as sock:
                sock.sendall(b"GET /close?0.02 HTTP/1.1\r\nHost: x\r\n\r\n")
                time.sleep(0.005)
                sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" * 2)
                chunks = []
                try:
                    while data := sock.recv(65536):
                        chunks.append(data)
                except ConnectionResetError:
                    failures.append((attempt, "reset", len(b"".join(chunks))))
                    continue
            responses = split_responses(b"".join(chunks))
            if len(responses) != 1 or len(responses[0].body) != 32 * 1024:
                failures.append((attempt, "responses", [r.status for r in responses]))
                continue
            assert responses[0].header("Connection") == "close"
        assert failures == []
        assert server.tracebacks() == 0
