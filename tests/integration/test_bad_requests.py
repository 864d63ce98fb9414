"""Bad input over raw sockets: every one gets the right 4xx/5xx with
`Connection: close`, one log line for the operator, and the worker keeps
serving the next client."""

from __future__ import annotations

import select
import time

import pytest
from support.server import TRACEBACK, read_until_close, split_responses

LIMIT_ARGS = (
    "--limit-request-line",
    "1024",
    "--limit-request-fields",
    "20",
    "--limit-request-field-size",
    "1024",
    "--limit-request-body",
    "4096",
)
SERVER_ARGS = (
    "--keep-alive",
    "1",
    "--graceful-timeout",
    "3",
    "--header-timeout",
    "1",
    "--body-timeout",
    "1",
    *LIMIT_ARGS,
)


def head(*lines: str, version: str = "1.1", request: str = "GET /") -> bytes:
    text = f"{request} HTTP/{version}\r\n" + "".join(line + "\r\n" for line in lines) + "\r\n"
    return text.encode("latin-1")


def chunked(body: bytes, size: int = 1000) -> bytes:
    pieces = [body[i : i + size] for i in range(0, len(body), size)]
    return b"".join(b"%x\r\n%b\r\n" % (len(piece), piece) for piece in pieces) + b"0\r\n\r\n"


BAD_REQUESTS = {
    "malformed-request-line": (b"GET / HTTP/1.1 extra\r\nHost: x\r\n\r\n", 400),
    "not-http": (b"HELLO THERE\r\n\r\n", 400),
    "lowercase-method": (head("Host: x", request="get /"), 400),
    "http-2.0-version": (head("Host: x", version="2.0"), 505),
    "cl-and-te": (
        head("Host: x", "Content-Length: 5", "Transfer-Encoding: chunked", request="POST /echo")
        + b"0\r\n\r\n",
        400,
    ),
    "duplicate-cl": (
        head("Host: x", "Content-Length: 5", "Content-Length: 5", request="POST /echo") + b"hello",
        400,
    ),
    "non-numeric-cl": (
        head("Host: x", "Content-Length: 5x", request="POST /echo") + b"hello",
        400,
    ),
    "negative-cl": (head("Host: x", "Content-Length: -5", request="POST /echo"), 400),
    # RFC 9112 6.3: chunked not the final coding of a request -> 400.
    "te-gzip": (
        head("Host: x", "Transfer-Encoding: gzip", request="POST /echo") + b"hello",
        400,
    ),
    "te-identity": (
        head("Host: x", "Transfer-Encoding: identity", request="POST /echo") + b"hello",
        400,
    ),
    "te-chunked-gzip": (
        head("Host: x", "Transfer-Encoding: chunked, gzip", request="POST /echo")
        + chunked(b"hello"),
        400,
    ),
    # RFC 9112 6.1: a coding the server does not know -> 501.
    "te-gzip-chunked": (
        head("Host: x", "Transfer-Encoding: gzip, chunked", request="POST /echo")
        + chunked(b"hello"),
        501,
    ),
    "http10-te-chunked": (
        head("Transfer-Encoding: chunked", version="1.0", request="POST /echo") + chunked(b"hello"),
        400,
    ),
    "obs-fold": (b"GET / HTTP/1.1\r\nHost: x\r\nX-Folded: a\r\n b\r\n\r\n", 400),
    "bare-lf": (b"GET / HTTP/1.1\nHost: x\n\n", 400),
    "nul-in-header": (b"GET / HTTP/1.1\r\nHost: x\r\nX-Nul: a\x00b\r\n\r\n", 400),
    "space-before-colon": (b"GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400),
    "invalid-chunk-size": (
        head("Host: x", "Transfer-Encoding: chunked", request="POST /echo")
        + b"zz\r\nhello\r\n0\r\n\r\n",
        400,
    ),
    "hex-prefixed-chunk-size": (
        head("Host: x", "Transfer-Encoding: chunked", request="POST /echo")
        + b"0x5\r\nhello\r\n0\r\n\r\n",
        400,
    ),
    "missing-host": (head(), 400),
    "duplicate-host": (head("Host: a", "Host: b"), 400),
    # RFC 9112 3.2: a Host that is not uri-host [":" port] -> 400.
    "invalid-host": (head("Host: exa mple.com"), 400),
    # RFC 9112 3.2.4: asterisk-form is for OPTIONS only.
    "asterisk-get": (head("Host: x", request="GET *"), 400),
    "asterisk-patch": (head("Host: x", "Content-Length: 0", request="PATCH *"), 400),
    "content-length-2-63": (head("Host: x", f"Content-Length: {2**63}", request="POST /echo"), 400),
    # RFC 9110 9.3.6: CONNECT has no content.
    "connect-with-body": (
        head("Host: x:1", "Content-Length: 5", request="CONNECT x:1") + b"hello",
        400,
    ),
    "http-3.0-version": (head("Host: x", version="3.0"), 505),
    "unsupported-expectation": (head("Host: x", "Expect: magic"), 417),
    "request-line-too-long": (head("Host: x", request="GET /" + "a" * 2000), 414),
    "too-many-headers": (head("Host: x", *(f"X-Header-{i}: {i}" for i in range(30))), 431),
    "header-too-large": (head("Host: x", "X-Big: " + "b" * 2000), 431),
    "endless-header": (head("Host: x", "X-Big: " + "b" * 200_000)[:-4], 431),
    "body-too-large-cl": (
        head("Host: x", "Content-Length: 5000", request="POST /echo") + b"x" * 5000,
        413,
    ),
    "body-too-large-expect-continue": (
        head("Host: x", "Content-Length: 5000", "Expect: 100-continue", request="POST /echo"),
        413,
    ),
    "body-too-large-chunked": (
        head("Host: x", "Transfer-Encoding: chunked", request="POST /echo") + chunked(b"x" * 5000),
        413,
    ),
}


def assert_serving(server) -> None:
    with server.connect(timeout=5) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        (response,) = split_responses(read_until_close(sock, timeout=5))
    assert (response.status, response.body) == (200, b"Hello, World!")


def send_and_read(server, data: bytes, timeout: float = 5.0) -> tuple[bytes, float]:
    """Send, then read until the server closes; also how long that took."""
    with server.connect(timeout=timeout) as sock:
        started = time.monotonic()
        try:
            sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered and closed before taking all of it
        return read_until_close(sock, timeout), time.monotonic() - started


@pytest.mark.parametrize("name", list(BAD_REQUESTS))
def test_bad_request_gets_a_clear_answer(server, name):
    data, status = BAD_REQUESTS[name]
    mark = server.output_size()
    answer, elapsed = send_and_read(server, data)
    assert elapsed < 0.9, f"closed after {elapsed:.2f} s: by a timeout, not by the refusal"
    responses = split_responses(answer)
    assert [r.status for r in responses] == [status], answer
    assert responses[0].header("Connection") == "close"
    output = server.wait_for_output(f": {status} ", since=mark)
    lines = output.strip().splitlines()
    assert len(lines) == 1, output
    assert "refused request" in lines[0]
    assert TRACEBACK not in output
    assert_serving(server)


def test_smuggled_request_after_cl_and_te_is_never_answered(server):
    smuggling = (
        b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 44\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n"
        b"0\r\n\r\n"
        b"GET /environ?smuggled HTTP/1.1\r\nHost: x\r\n\r\n"
    )
    answer, _ = send_and_read(server, smuggling)
    assert [r.status for r in split_responses(answer)] == [400], answer
    assert b"smuggled" not in answer
    assert_serving(server)


@pytest.mark.parametrize("worker_class", ["gevent"], indirect=True)
def test_valid_request_before_a_bad_one_is_answered(server):
    answer, _ = send_and_read(
        server,
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
        + BAD_REQUESTS["cl-and-te"][0]
        + b"GET /environ?after HTTP/1.1\r\nHost: x\r\n\r\n",
    )
    responses = split_responses(answer)
    assert [r.status for r in responses] == [200, 400], answer
    assert responses[0].body == b"Hello, World!"


def test_slow_request_head_gets_408(server):
    mark = server.output_size()
    with server.connect(timeout=5) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")  # and never the end of the head
        started = time.monotonic()
        answer = read_until_close(sock, timeout=5)
        elapsed = time.monotonic() - started
    assert 0.7 < elapsed < 2.5, f"answered after {elapsed:.2f} s with --header-timeout 1"
    (response,) = split_responses(answer)
    assert response.status == 408
    assert response.header("Connection") == "close"
    output = server.wait_for_output(": 408 ", since=mark)
    assert len(output.strip().splitlines()) == 1, output
    assert_serving(server)


def test_trickled_request_head_gets_408(server):
    """The header timeout bounds the whole head, however steadily it trickles in."""
    answer = b""
    with server.connect(timeout=5) as sock:
        started = time.monotonic()
        sock.sendall(b"GET / HTTP/1.1\r\n")
        sock.settimeout(0.25)
        while time.monotonic() - started < 5:
            try:
                data = sock.recv(65536)
            except TimeoutError:
                sock.sendall(b"X-Slow: 1\r\n")  # one more header line, never the end
                continue
            except ConnectionResetError:
                break
            if not data:
                break
            answer += data
        elapsed = time.monotonic() - started
    assert elapsed < 2.5, f"a trickling client was kept {elapsed:.2f} s"
    assert [r.status for r in split_responses(answer)] == [408]


def test_a_client_still_sending_its_head_reads_the_408(server):
    """The head timed out while the client was still sending it, and it goes
    on sending a little after the 408 arrived: it reads the 408, not a reset
    (the close lingers, reading what comes). Five times in a row."""
    for _ in range(5):
        with server.connect(timeout=5) as sock:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
            started = time.monotonic()
            while time.monotonic() - started < 4:  # --header-timeout 1
                sock.sendall(b"X-Slow: 1\r\n")
                readable, _, _ = select.select([sock], [], [], 0.1)
                if readable:  # the 408 is here
                    break
            for _ in range(2):
                time.sleep(0.1)
                sock.sendall(b"X-Slow: 1\r\n")
            answer = read_until_close(sock, timeout=5)
        assert [r.status for r in split_responses(answer)] == [408], answer


@pytest.mark.parametrize("worker_class", ["gevent"], indirect=True)
def test_slow_second_request_on_a_kept_alive_connection_gets_408(server):
    with server.connect(timeout=5) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        first = b""
        while not first.endswith(b"Hello, World!"):
            data = sock.recv(65536)
            assert data, first
            first += data
        sock.sendall(b"GET / HTTP/1.1\r\nHost")
        started = time.monotonic()
        answer = read_until_close(sock, timeout=5)
        elapsed = time.monotonic() - started
    assert 0.7 < elapsed < 2.5, f"answered after {elapsed:.2f} s with --header-timeout 1"
    assert [r.status for r in split_responses(answer)] == [408]


def test_first_request_head_deadline_counts_from_the_accept(server):
    with server.connect(timeout=5) as sock:
        connected = time.monotonic()
        time.sleep(0.75)
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
        answer = read_until_close(sock, timeout=5)
        elapsed = time.monotonic() - connected
    assert [r.status for r in split_responses(answer)] == [408]
    assert elapsed < 1.4, f"408 came {elapsed:.2f} s after the connect, with --header-timeout 1"


@pytest.mark.parametrize("worker_class", ["gevent"], indirect=True)
def test_pipelined_head_is_timed_from_the_end_of_the_slow_request_before_it(server):
    """Part of a second head arrives with a request that takes longer than the
    header timeout: the second head's clock starts when its turn comes."""
    with server.connect(timeout=5) as sock:
        sock.sendall(b"GET /sleep?1.3 HTTP/1.1\r\n")
        time.sleep(0.1)  # the first head comes in two pieces, the second with part of the next
        sock.sendall(b"Host: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n")
        first = b""
        while not first.endswith(b"slept"):
            data = sock.recv(65536)
            assert data, first
            first += data
        sock.sendall(b"Connection: close\r\n\r\n")
        rest = read_until_close(sock, timeout=5)
    responses = split_responses(first + rest)
    assert [r.status for r in responses] == [200, 200], first + rest
    assert responses[1].body == b"Hello, World!"


def test_a_client_resuming_its_stalled_body_reads_the_408(server):
    """The body stalled past --body-timeout, and the client sends more of it
    just after the 408 arrived: it reads the 408, not a reset. Five times."""
    for _ in range(5):
        with server.connect(timeout=5) as sock:
            sock.sendall(b"POST /count HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123")
            readable, _, _ = select.select([sock], [], [], 4)  # --body-timeout 1
            assert readable, "no answer to a stalled body"
            for _ in range(2):
                sock.sendall(b"456789")
                time.sleep(0.1)
            answer = read_until_close(sock, timeout=5)
        assert [r.status for r in split_responses(answer)] == [408], answer


def test_stalled_request_body_gets_408(server):
    mark = server.output_size()
    with server.connect(timeout=5) as sock:
        sock.sendall(b"POST /count HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789")
        started = time.monotonic()
        answer = read_until_close(sock, timeout=5)
        elapsed = time.monotonic() - started
    assert 0.7 < elapsed < 2.5, f"answered after {elapsed:.2f} s with --body-timeout 1"
    (response,) = split_responses(answer)
    assert response.status == 408
    assert response.header("Connection") == "close"
    output = server.wait_for_output(": 408 ", since=mark)
    assert len(output.strip().splitlines()) == 1, output
    assert_serving(server)


def test_silent_client_is_disconnected(server):
    with server.connect(timeout=5) as sock:
        started = time.monotonic()
        answer = read_until_close(sock, timeout=5)
        elapsed = time.monotonic() - started
    assert answer == b""
    assert elapsed < 2.5, f"a client that sent nothing was kept {elapsed:.2f} s"
    assert_serving(server)


def test_no_tracebacks(server):
    assert server.tracebacks() == 0, server.output()
