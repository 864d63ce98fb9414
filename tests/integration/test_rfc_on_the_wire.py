"""RFC 9110/9112 details, answered on the wire the way the RFCs say, and
the same answer however TCP splits the request.

The unit tests (tests/unit/http/test_http_parser.py) feed the parser every
split; these send real requests in two writes, split at every position,
each on a connection of its own, against a real server.
"""

from __future__ import annotations

import socket
import time

import pytest
from support.server import GladeServer, read_until_close, split_responses

# Small limits, so that requests at their edges are short enough to split at
# every position.
SERVER_ARGS = (
    "--limit-request-field-size",
    "64",
    "--limit-request-head",
    "256",
    "--keep-alive",
    "1",
    "--header-timeout",
    "2",
)


def head(*lines: str, version: str = "1.1", request: str = "GET /") -> bytes:
    text = f"{request} HTTP/{version}\r\n" + "".join(line + "\r\n" for line in lines) + "\r\n"
    return text.encode("latin-1")


@pytest.fixture(scope="module")
def server():
    with GladeServer("validated:app", "-k", "gevent", *SERVER_ARGS) as server:
        yield server


def exchange(server, pieces: list[bytes]) -> bytes:
    """Send the pieces in separate writes (a pause between them, so they
    arrive in separate reads), then read until the server closes."""
    with server.connect(timeout=5) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for index, piece in enumerate(pieces):
            if index:
                time.sleep(0.003)
            try:
                sock.sendall(piece)
            except (BrokenPipeError, ConnectionResetError):
                break  # refused and closed before the rest: the answer is in
        return read_until_close(sock, timeout=5)


def statuses(answer: bytes) -> list[int]:
    return [response.status for response in split_responses(answer)]


CLOSE = "Connection: close"


def test_http_1_2_is_served_as_http_1_1(server):
    answer = exchange(server, [head("Host: x", version="1.2") + head("Host: x", CLOSE)])
    responses = split_responses(answer)
    assert [r.status for r in responses] == [200, 200]  # kept alive, as 1.1
    assert answer.startswith(b"HTTP/1.1 200 OK\r\n")


def test_whitespace_before_a_chunk_extension_is_accepted(server):
    body = b"5 ;a=b\r\nhello\r\n6\t;c\r\n world\r\n0\r\n\r\n"
    request = head("Host: x", "Transfer-Encoding: chunked", CLOSE, request="POST /echo") + body
    (response,) = split_responses(exchange(server, [request]))
    assert (response.status, response.body) == (200, b"hello world")


def test_options_asterisk_reaches_the_app(server):
    (response,) = split_responses(exchange(server, [head("Host: x", CLOSE, request="OPTIONS *")]))
    assert (response.status, response.body) == (404, b"not found")  # the app's own answer


def test_connect_without_a_body_reaches_the_app_and_closes(server):
    (response,) = split_responses(exchange(server, [head("Host: x:1", request="CONNECT x:1")]))
    assert (response.status, response.body) == (404, b"not found")  # the app's; no tunnel
    assert response.header("Connection") == "close"


def padded_field(size: int) -> str:
    """A field of `size` by --limit-request-field-size's measure
    (len(name) + len(value) + 2), with 20 spaces after its colon."""
    return "X:" + " " * 20 + "v" * (size - 3)


def padded_head(size: int) -> bytes:
    """A head of `size` bytes by --limit-request-head's measure (without
    the spaces between the request line's words and after the colons),
    with 6 spaces in each of those places."""
    lines = ["Host:      x", CLOSE.replace(": ", ":      ")]
    room = size - len("GET/HTTP/1.1\r\n") - len("Host:x\r\n") - len("Connection:close\r\n") - 2
    index = 0
    while room > 0:
        take = 40 if room >= 48 else room
        name = f"X{index}:"
        lines.append(name + " " * 6 + "v" * (take - len(name) - 2))
        room -= take
        index += 1
    return head(*lines, request="GET      /")


SPLIT_CASES = {
    "field-at-the-limit-with-padding": (head("Host: x", CLOSE, padded_field(64)), 200),
    "field-over-the-limit-with-padding": (head("Host: x", CLOSE, padded_field(65)), 431),
    "head-at-the-limit-with-padding": (padded_head(256), 200),
    "head-over-the-limit-with-padding": (padded_head(257), 431),
    "chunk-extension-with-whitespace": (
        head("Host: x", "Transfer-Encoding: chunked", CLOSE, request="POST /echo")
        + b"5 ;a=b\r\nhello\r\n0\r\n\r\n",
        200,
    ),
    "http-1.2": (head("Host: x", CLOSE, version="1.2"), 200),
    "invalid-host": (head("Host: exa mple.com"), 400),
    "asterisk-get": (head("Host: x", request="GET *"), 400),
}


@pytest.mark.parametrize(("request_bytes", "status"), SPLIT_CASES.values(), ids=SPLIT_CASES.keys())
def test_the_answer_does_not_depend_on_where_tcp_split_the_request(server, request_bytes, status):
    assert statuses(exchange(server, [request_bytes])) == [status]
    different = {}
    for position in range(1, len(request_bytes)):
        pieces = [request_bytes[:position], request_bytes[position:]]
        got = statuses(exchange(server, pieces))
        if got != [status]:
            different[position] = got
    assert not different, f"answers that differ from {status}, by split position: {different}"
    assert server.tracebacks() == 0
