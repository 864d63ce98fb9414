"""Responses: chunked and close-delimited streams, bodiless statuses, files,
app errors before and after the head, result.close(), hop-by-hop headers."""

from __future__ import annotations

import http.client
import socket
import time
from urllib.parse import quote

import pytest
from support.server import (
    APPS_DIR,
    TRACEBACK,
    read_until_close,
    split_responses,
    wait_until,
)

SERVER_ARGS = ("--keep-alive", "1", "--graceful-timeout", "3")
STREAM_BODY = b"".join(f"part {i}\n".encode() for i in range(5))


def get(server, path: str, method: str = "GET"):
    connection = http.client.HTTPConnection(server.host, server.port, timeout=5)
    try:
        connection.request(method, path)
        response = connection.getresponse()
        return response, response.read()
    finally:
        connection.close()


def raw(server, request: bytes) -> bytes:
    with server.connect(timeout=5) as sock:
        sock.sendall(request)
        return read_until_close(sock, timeout=5)


def assert_serving(server) -> None:
    response, body = get(server, "/")
    assert (response.status, body) == (200, b"Hello, World!")


# -- framing -------------------------------------------------------------------


def test_streamed_response_is_chunked_for_http11(server):
    response, body = get(server, "/stream")
    assert response.status == 200
    assert response.getheader("Transfer-Encoding") == "chunked"
    assert response.getheader("Content-Length") is None
    assert body == STREAM_BODY


def test_streamed_response_is_close_delimited_for_http10(server):
    data = raw(server, b"GET /stream HTTP/1.0\r\n\r\n")
    body = data.partition(b"\r\n\r\n")[2]
    (response,) = split_responses(data)
    assert response.status == 200
    assert response.header("Transfer-Encoding") is None
    assert response.header("Content-Length") is None
    assert response.header("Connection") == "close"
    assert body == STREAM_BODY


def test_head_has_no_body_and_keeps_content_length(server):
    data = raw(server, b"HEAD / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert data.endswith(b"\r\n\r\n"), data
    (response,) = split_responses(data, head_request=True)
    assert response.status == 200
    assert response.header("Content-Length") == "13"


def test_head_of_a_streamed_response_has_no_body(server):
    data = raw(server, b"HEAD /stream HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert data.endswith(b"\r\n\r\n"), data
    assert data.count(b"\r\n\r\n") == 1


@pytest.mark.parametrize("status", [204, 304])
def test_bodiless_statuses_carry_no_body(server, status):
    data = raw(
        server, f"GET /status?{status} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode()
    )
    head, _, rest = data.partition(b"\r\n\r\n")
    assert head.startswith(f"HTTP/1.1 {status} ".encode())
    assert b"Transfer-Encoding" not in head
    assert rest == b""


@pytest.mark.parametrize("worker_class", ["gevent"], indirect=True)
@pytest.mark.parametrize("path", ["/status?204", "/status?304", "/"])
def test_bodiless_response_then_next_request_on_the_connection(server, path):
    method = "HEAD" if path == "/" else "GET"
    data = raw(
        server,
        f"{method} {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode()
        + b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    rest = data.partition(b"\r\n\r\n")[2]
    assert rest.startswith(b"HTTP/1.1 200 OK\r\n"), data
    (second,) = split_responses(rest)
    assert second.body == b"Hello, World!"


def test_file_wrapper_serves_the_file(server):
    response, body = get(server, "/file")
    expected = (APPS_DIR / "static.txt").read_bytes()
    assert response.status == 200
    assert response.getheader("Content-Length") == str(len(expected))
    assert body == expected


def test_write_callable_then_returned_body(server):
    response, body = get(server, "/write")
    assert response.status == 200
    assert body == b"written, then returned"


def test_body_shorter_than_its_content_length_closes_the_connection(server):
    with server.connect(timeout=5) as sock:
        sock.sendall(b"GET /short-body HTTP/1.1\r\nHost: x\r\n\r\n")
        started = time.monotonic()
        data = read_until_close(sock, timeout=5)
        elapsed = time.monotonic() - started
    assert data.startswith(b"HTTP/1.1 200 OK\r\n")
    assert data.endswith(b"\r\n\r\nonly ten..")
    assert elapsed < 0.9, "the client was left waiting for bytes that never come"
    logged = server.wait_for_output("bytes short of its Content-Length")
    assert "(GET /short-body) ended 90 bytes short of its Content-Length (10 of 100 sent)" in (
        logged
    )


# -- app errors ------------------------------------------------------------------


def test_exception_before_start_response_is_a_500(server):
    mark = server.output_size()
    data = raw(server, b"GET /error HTTP/1.1\r\nHost: x\r\n\r\n")
    (response,) = split_responses(data)
    assert response.status == 500
    assert response.header("Connection") == "close"
    assert len(response.body) < 100
    assert b"the app failed on purpose" not in response.body  # never shown to the client
    output = server.wait_for_output("the app failed on purpose", since=mark)
    assert output.count(TRACEBACK) == 1
    assert "GET /error" in output
    assert_serving(server)


def test_exception_after_the_head_closes_the_connection(server, tmp_path):
    marker = tmp_path / "closed"
    mark = server.output_size()
    target = f"/closing?fail_after=2&marker={quote(str(marker))}"
    data = raw(server, f"GET {target} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"Transfer-Encoding: chunked" in head
    # Two chunks went out, then the connection closed without the last chunk:
    # the client can tell the response is incomplete.
    assert body == b"10\r\n" + b"x" * 16 + b"\r\n" + b"10\r\n" + b"x" * 16 + b"\r\n"
    assert wait_until(marker.exists, timeout=3), "result.close() was not called"
    output = server.wait_for_output("in the middle of its response", since=mark)
    assert output.count(TRACEBACK) == 1
    assert_serving(server)


def test_result_close_is_called(server, tmp_path):
    marker = tmp_path / "closed"
    response, body = get(server, f"/closing?marker={quote(str(marker))}")
    assert response.status == 200
    assert body == b"x" * 48
    # close() runs once the last byte is out, so it may trail the client a little.
    assert wait_until(marker.exists, timeout=3), "result.close() was not called"
    assert marker.read_text() == "closed"


def test_result_close_is_called_when_the_client_disconnects(server, tmp_path):
    marker = tmp_path / "closed"
    # Undisturbed, this response would take 20 s.
    target = f"/closing?pieces=2000&size=65536&delay=0.01&marker={quote(str(marker))}"
    sock = server.connect(timeout=5)
    try:
        sock.sendall(f"GET {target} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        assert sock.recv(65536).startswith(b"HTTP/1.1 200 OK\r\n")
    finally:
        # Close with unread data: the kernel resets the connection.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        sock.close()
    assert wait_until(marker.exists, timeout=3), "result.close() was not called"
    assert marker.read_text() == "closed"
    assert_serving(server)


@pytest.mark.parametrize("header", ["Upgrade", "Transfer-Encoding", "Keep-Alive"])
def test_hop_by_hop_header_from_the_app_is_dropped(server, header):
    """As under gunicorn: the app's response goes out, framed by the server."""
    data = raw(
        server, f"GET /hop?{header} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode()
    )
    (response,) = split_responses(data)
    assert response.status == 200
    assert response.header(header) != "websocket"  # the app's value, dropped
    assert response.body == b"sent without it"


def test_tracebacks_only_from_the_failing_apps(server):
    time.sleep(0.05)
    assert server.tracebacks() == 2, server.output()
