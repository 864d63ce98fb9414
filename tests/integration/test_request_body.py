"""Request bodies: 100-continue, chunked with trailers, truncation, big uploads."""

from __future__ import annotations

import json
import threading
import time

import pytest
import requests
from support.server import (
    read_response,
    read_until_close,
    split_responses,
    vm_rss,
)

SERVER_ARGS = ("--keep-alive", "1", "--graceful-timeout", "3")
MiB = 1024 * 1024
gevent_only = pytest.mark.parametrize("worker_class", ["gevent"], indirect=True)


def assert_serving(server) -> None:
    response = requests.get(server.url + "/", timeout=5)
    assert response.status_code == 200
    assert response.content == b"Hello, World!"


# -- Expect: 100-continue ------------------------------------------------------


def test_100_continue_sent_when_the_app_reads_the_body(server, worker_class):
    with server.connect(timeout=5) as sock:
        sock.sendall(
            b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\nExpect: 100-continue\r\n\r\n"
        )
        interim = b""
        while not interim.endswith(b"\r\n\r\n"):
            data = sock.recv(4096)
            assert data, f"closed before 100 Continue: {interim!r}"
            interim += data
        assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(b"hello world")
        response, body = read_response(sock, timeout=5)
        assert response.status == 200
        assert body == b"hello world"
        if worker_class == "gevent":  # the connection is still good for more
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            response, body = read_response(sock, timeout=5)
            assert body == b"Hello, World!"


def test_no_100_continue_when_the_app_ignores_the_body(server):
    with server.connect(timeout=5) as sock:
        sock.sendall(
            b"POST /ignore-body HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n"
            b"Expect: 100-continue\r\n\r\n"
        )
        started = time.monotonic()
        data = read_until_close(sock, timeout=5)
        assert time.monotonic() - started < 0.9, "closed by a timeout, not by the server"
    assert b"100 Continue" not in data
    (response,) = split_responses(data)
    assert response.status == 200
    assert response.body == b"ignored"
    # The body was never sent, so the connection cannot be reused; say so.
    assert response.header("Connection") == "close"


def test_body_sent_without_waiting_for_100_is_read(server):
    """Clients may send the body anyway; then no 100 is needed."""
    with server.connect(timeout=5) as sock:
        sock.sendall(
            b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
            b"Expect: 100-continue\r\nConnection: close\r\n\r\nhello"
        )
        data = read_until_close(sock, timeout=5)
    (response,) = split_responses(data)
    assert response.status == 200
    assert response.body == b"hello"


@pytest.mark.parametrize("worker_class", ["gevent"], indirect=True)
def test_small_unread_body_is_skipped_and_the_connection_reused(server):
    with server.connect(timeout=5) as sock:
        sock.sendall(b"POST /ignore-body HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n")
        sock.sendall(b"x" * 1000 + b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        responses = split_responses(read_until_close(sock, timeout=5))
    assert [(r.status, r.body) for r in responses] == [(200, b"ignored"), (200, b"Hello, World!")]
    assert responses[0].header("Connection") is None


@pytest.mark.parametrize("worker_class", ["gevent"], indirect=True)
def test_big_unread_body_closes_the_connection_and_says_so(server):
    size = 4 * MiB
    with server.connect(timeout=5) as sock:
        sock.sendall(b"POST /ignore-body HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % size)
        sock.sendall(b"x" * 65536)  # and no more: the server answers without waiting
        (response,) = split_responses(read_until_close(sock, timeout=5))
    assert (response.status, response.body) == (200, b"ignored")
    assert response.header("Connection") == "close"


# -- chunked request bodies ------------------------------------------------------


def test_chunked_body_with_extensions_and_trailers(server, worker_class):
    with server.connect(timeout=5) as sock:
        sock.sendall(
            b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"7\r\nHello, \r\n"
            b"6;name=value\r\nWorld!\r\n"
            b"0\r\nX-Checksum: abc\r\nX-Other: 1\r\n\r\n"
        )
        response, body = read_response(sock, timeout=5)
        assert response.status == 200
        assert body == b"Hello, World!"
        if worker_class == "gevent":
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            response, body = read_response(sock, timeout=5)
            assert body == b"Hello, World!"


def test_chunked_body_sent_in_pieces_read_by_lines(server):
    with server.connect(timeout=5) as sock:
        sock.sendall(
            b"POST /lines HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
            b"Connection: close\r\n\r\n"
        )
        for piece in (b"4\r\non", b"e\n\r\n5\r\ntwo\nt\r\n", b"4\r\nhree\r\n", b"0\r\n\r\n"):
            sock.sendall(piece)
            time.sleep(0.02)
        (response,) = split_responses(read_until_close(sock, timeout=5))
    assert response.status == 200
    assert json.loads(response.body) == ["one\n", "two\n", "three"]


def test_truncated_chunked_body_leaves_the_worker_serving(server):
    with server.connect(timeout=5) as sock:
        sock.sendall(
            b"POST /count HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"10\r\n0123456789abcdef\r\n100\r\nonly part of the chunk"
        )
        time.sleep(0.1)
    assert_serving(server)
    assert server.tracebacks() == 0, server.output()


def test_truncated_content_length_body_leaves_the_worker_serving(server):
    with server.connect(timeout=5) as sock:
        sock.sendall(b"POST /count HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nshort")
        time.sleep(0.1)
    assert_serving(server)
    assert server.tracebacks() == 0, server.output()


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_upgrade_request_body_reaches_the_app(server, framing):
    """`curl --http2 -d ...` and Java's HttpClient ask for h2c with a body:
    Glade never upgrades, so the app must get the request whole."""
    body = b"name=value&other=1"
    if framing == "chunked":
        framed = b"Transfer-Encoding: chunked\r\n\r\n%x\r\n%b\r\n0\r\n\r\n" % (len(body), body)
    else:
        framed = b"Content-Length: %d\r\n\r\n%b" % (len(body), body)
    with server.connect(timeout=5) as sock:
        sock.sendall(
            b"POST /echo HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\n"
            b"Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n" + framed
        )
        response, received = read_response(sock, timeout=5)
    assert response.status == 200
    assert received == body


# -- big uploads stream through in constant memory -------------------------------


class ZeroBody:
    """`size` zero bytes, made on the fly; requests sends it with Content-Length."""

    def __init__(self, size: int, block: int = 256 * 1024) -> None:
        self.size = size
        self.block = block

    def __len__(self) -> int:
        return self.size

    def __iter__(self):
        block = bytes(self.block)
        left = self.size
        while left > 0:
            yield block[: min(left, self.block)]
            left -= self.block


def zero_chunks(size: int, block: int = 256 * 1024):
    """A generator body: requests sends it with Transfer-Encoding: chunked."""
    yield from ZeroBody(size, block)


class PeakRSS(threading.Thread):
    """Samples a process's VmRSS until stopped; `.peak` is the highest seen."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.peak = vm_rss(pid)
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.wait(0.005):
            self.peak = max(self.peak, vm_rss(self.pid))

    def stop(self) -> int:
        self._stop_event.set()
        self.join(timeout=5)
        return self.peak


@pytest.mark.parametrize("framing", ["chunked", "content-length"])
def test_50_mib_upload_streams_in_bounded_memory(server, framing):
    size = 50 * MiB
    session = requests.Session()
    warm = session.post(server.url + "/count", data=b"x" * MiB, timeout=10)
    assert warm.text == str(MiB)
    (worker,) = server.worker_pids()
    before = vm_rss(worker)
    sampler = PeakRSS(worker)
    sampler.start()
    body = zero_chunks(size) if framing == "chunked" else ZeroBody(size)
    try:
        response = session.post(server.url + "/count", data=body, timeout=30)
    finally:
        peak = sampler.stop()
    session.close()
    assert response.status_code == 200
    assert response.text == str(size)
    growth = peak - before
    assert growth < 20 * MiB, f"the worker grew by {growth / MiB:.1f} MiB during the upload"
    if framing == "chunked":
        assert response.request.headers["Transfer-Encoding"] == "chunked"
    else:
        assert response.request.headers["Content-Length"] == str(size)


def test_no_tracebacks(server):
    assert server.tracebacks() == 0, server.output()


def test_an_ignored_large_upload_still_gets_its_response(server):
    """The server answers before the body is all in; closing then with unread
    data would make the kernel send a reset that destroys the answer. Glade
    reads and drops the rest for a moment (a lingering close) instead."""
    import http.client

    connection = http.client.HTTPConnection(server.host, server.port, timeout=10)
    try:
        connection.request("POST", "/ignore-body", body=b"x" * (8 * MiB))
        response = connection.getresponse()
        assert (response.status, response.read()) == (200, b"ignored")
        assert response.getheader("Connection") == "close"
    finally:
        connection.close()
