"""HTTPConnection: one server connection, fed bytes, answered through the real
ResponseWriter, and checked against h11 as the client's parser."""

from __future__ import annotations

import gc

import h11
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from glade.http.connection import (
    CLOSED,
    END_OF_MESSAGE,
    NEED_DATA,
    PAUSED,
    TRANSITIONS,
    Body,
    HTTPConnection,
    Phase,
    Request,
)
from glade.http.errors import HTTPError
from glade.http.parser import Limits
from glade.workers.options import ServingState
from glade.wsgi.response import ResponseWriter

GET = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"


def answer(http: HTTPConnection, body: bytes = b"ok", headers=None, server=None) -> bytes:
    """Answer the request being served with `return [body]`; the bytes sent."""
    sent: list[bytes] = []
    writer = ResponseWriter(http, sent.append, None, server or ServingState(lambda: None))
    writer.start_response("200 OK", list(headers or []))
    writer.finish([body])
    return b"".join(sent)


# -- the state table -------------------------------------------------------------


def test_every_phase_has_a_row_and_closing_is_final():
    assert set(TRANSITIONS) == set(Phase)
    assert TRANSITIONS[Phase.CLOSING] == frozenset()


def test_a_keep_alive_request_goes_idle_after_its_response():
    http = HTTPConnection()
    assert http.phase is Phase.IDLE
    http.receive_data(GET[:10])
    assert http.next_event() is NEED_DATA
    assert http.phase is Phase.RECEIVING
    http.receive_data(GET[10:])
    request = http.next_event()
    assert type(request) is Request
    assert http.phase is Phase.RESPONDING
    assert http.next_event() is PAUSED  # no body: nothing more until it is answered
    answer(http)
    assert http.phase is Phase.IDLE
    assert http.keep_alive
    assert http.between_requests
    assert http.next_event() is NEED_DATA


def test_connection_close_from_the_client_ends_the_connection_after_the_response():
    http = HTTPConnection()
    http.receive_data(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    http.next_event()
    sent = answer(http)
    assert b"Connection: close\r\n" in sent
    assert http.phase is Phase.CLOSING
    assert http.next_event() is CLOSED
    assert not http.client_may_send_more  # it said close: it sends nothing more


def test_a_server_that_keeps_nothing_alive_closes_after_each_response():
    http = HTTPConnection(keep_alive=False)
    http.receive_data(GET)
    http.next_event()
    assert b"Connection: close\r\n" in answer(http)
    assert http.next_event() is CLOSED
    # Nothing more of the client's is known: whether a close must linger is
    # then the kernel's to say (bytes received but not read).
    assert not http.client_may_send_more


def test_eof_between_requests_closes_quietly():
    http = HTTPConnection()
    http.receive_eof()
    assert http.next_event() is CLOSED
    assert not http.client_may_send_more


def test_eof_in_the_middle_of_a_head_is_an_error():
    http = HTTPConnection()
    http.receive_data(GET[:5])
    http.receive_eof()
    with pytest.raises(HTTPError) as raised:
        http.next_event()
    assert raised.value.status == 400
    assert http.phase is Phase.CLOSING
    refusal = http.refuse(raised.value)
    assert refusal.startswith(b"HTTP/1.1 400 ")
    assert b"Connection: close" in refusal


def test_an_error_in_the_rest_of_an_answered_body_gets_no_second_answer():
    """The app answered without reading a chunked body, whose rest is broken:
    a 400 now would be read by the client as the answer to its next request."""
    http = HTTPConnection()
    http.receive_data(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
    http.next_event()
    answer(http)
    http.receive_data(b"zz\r\n")  # not a chunk size
    with pytest.raises(HTTPError) as raised:
        http.next_event()
    assert http.refuse(raised.value) == b""
    assert http.next_event() is CLOSED


def test_a_broken_body_read_after_a_closing_response_is_an_http_error():
    """The app answered with `Connection: close` without reading a chunked
    body, then read it from its result's close(): its broken rest is the
    client's fault (HTTPError), not a broken state machine (the fuzzer's
    late-read-after-close)."""
    http = HTTPConnection()
    http.receive_data(
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    )
    http.next_event()
    http.whole_response(200, [b"HTTP/1.1 200 OK\r\n"], b"", content_length=None)
    assert http.phase is Phase.CLOSING
    http.receive_data(b"zz\r\n")  # not a chunk size
    with pytest.raises(HTTPError):
        http.body_event()
    assert http.phase is Phase.CLOSING
    assert http.next_event() is CLOSED


def test_the_body_read_after_the_response_is_the_apps_not_the_next_request():
    """A result's close() or a post_request hook may read the body late."""
    http = HTTPConnection()
    http.receive_data(post(b"late body") + GET)
    http.next_event()
    answer(http)
    pieces = []
    while (event := http.body_event()) is not END_OF_MESSAGE:
        pieces.append(event.data)
    assert b"".join(pieces) == b"late body"
    assert type(http.next_event()) is Request  # the next request is still there


def test_a_client_gone_before_the_head_leaves_no_status():
    http = HTTPConnection()
    http.receive_data(GET)
    http.next_event()
    http.abandon()
    assert http.status_code == 0 and not http.head_sent
    assert http.next_event() is CLOSED


def test_a_response_head_without_a_request_is_a_bug():
    http = HTTPConnection()
    with pytest.raises(RuntimeError):
        http.response_head(200, [b"HTTP/1.1 200 OK\r\n"], content_length=0)


# -- pipelining --------------------------------------------------------------------


def test_a_pipelined_request_waits_for_the_response_before_it():
    http = HTTPConnection()
    http.receive_data(GET + b"GET /second HTTP/1.1\r\nHost: x\r\n\r\n")
    first = http.next_event()
    assert first.target == b"/"
    assert http.next_event() is PAUSED
    assert http.client_may_send_more  # closing now would reset the connection
    answer(http)
    second = http.next_event()
    assert second.target == b"/second"


def test_a_request_pipelined_behind_connection_close_is_never_served():
    http = HTTPConnection()
    http.receive_data(
        b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" + GET + GET  # ignored
    )
    http.next_event()
    answer(http)
    assert http.next_event() is CLOSED
    assert http.client_may_send_more  # their bytes are unread: the close must linger


# -- start_closing -------------------------------------------------------------


def test_start_closing_before_the_head_makes_the_response_say_close():
    http = HTTPConnection()
    http.receive_data(GET)
    http.next_event()
    http.start_closing()
    sent = answer(http)
    assert b"Connection: close\r\n" in sent
    assert http.next_event() is CLOSED


def test_start_closing_between_requests_serves_no_further_request():
    http = HTTPConnection()
    http.receive_data(GET)
    http.next_event()
    answer(http)
    http.start_closing()
    assert not http.keep_alive


# -- request bodies the app left unread ------------------------------------------------


def post(body: bytes, *extra: bytes) -> bytes:
    head = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n" % len(body)
    return head + b"".join(line + b"\r\n" for line in extra) + b"\r\n" + body


def test_a_small_unread_body_is_dropped_and_the_connection_reused():
    http = HTTPConnection()
    http.receive_data(post(b"x" * 100) + GET)
    http.next_event()
    sent = answer(http)
    assert b"Connection: close" not in sent
    request = http.next_event()
    assert type(request) is Request and request.method == "GET"


def test_a_large_unread_body_closes_the_connection():
    http = HTTPConnection()
    http.receive_data(post(b"x" * 10)[:-10].replace(b"10", b"%d" % (10 * 1024 * 1024)))
    http.next_event()
    sent = answer(http)
    assert b"Connection: close\r\n" in sent
    assert http.next_event() is CLOSED
    assert http.client_may_send_more


def test_a_held_back_body_is_not_invited_after_the_response():
    """`Expect: 100-continue` and the app never read the body: the client
    would wait for a 100 that never comes, so the connection closes."""
    http = HTTPConnection()
    http.receive_data(post(b"abc", b"Expect: 100-continue")[:-3])
    http.next_event()
    sent = answer(http)
    assert b"Connection: close\r\n" in sent
    assert http.continue_response() == b""


def test_continue_is_sent_once_when_the_app_reads_the_body():
    http = HTTPConnection()
    http.receive_data(post(b"abc", b"Expect: 100-continue")[:-3])
    http.next_event()
    assert http.next_event() is NEED_DATA
    assert http.continue_response() == b"HTTP/1.1 100 Continue\r\n\r\n"
    assert http.continue_response() == b""
    http.receive_data(b"abc")
    assert http.next_event().data == b"abc"
    assert http.next_event() is END_OF_MESSAGE
    assert b"Connection: close" not in answer(http)


def test_a_body_shorter_than_its_content_length_closes_after_the_response():
    http = HTTPConnection()
    http.receive_data(GET)
    http.next_event()
    sent = answer(http, headers=[("Content-Length", "10")])  # the body is 2 bytes
    assert b"Connection: close" not in sent  # the head went out before anyone knew
    assert http.next_event() is CLOSED


def test_a_failure_after_the_head_sends_nothing_more_and_closes():
    http = HTTPConnection()
    http.receive_data(GET)
    http.next_event()
    http.response_head(200, [b"HTTP/1.1 200 OK\r\n"], content_length=None)
    assert http.fail_response(500) == b""
    assert http.next_event() is CLOSED


def test_a_failure_before_the_head_is_an_error_response():
    http = HTTPConnection()
    http.receive_data(GET)
    http.next_event()
    data = http.fail_response(413, "request body too large")
    assert data.startswith(b"HTTP/1.1 413 ")
    assert http.status_code == 413
    assert http.next_event() is CLOSED


def test_an_error_response_to_head_has_no_content():
    """RFC 9110 9.3.2: a HEAD response has none, an error's neither (the
    fuzzer's error-body-on-head): its Content-Length still says how long the
    body would have been."""
    http = HTTPConnection()
    http.receive_data(b"HEAD / HTTP/1.1\r\nHost: a\r\nContent-Length: 94\r\n\r\n")
    http.next_event()
    data = http.fail_response(408)
    assert data.startswith(b"HTTP/1.1 408 ")
    assert data.endswith(b"\r\n\r\n")
    assert b"Content-Length: 20\r\n" in data  # "408 Request Timeout\n"
    assert http.next_event() is CLOSED


# -- property: any split of valid requests gives the same events ---------------------

TOKEN = st.text(alphabet="abcdefghijklmnopqrstuvwxyz-", min_size=1, max_size=8).filter(
    lambda name: name.strip("-") and "_" not in name
)


@st.composite
def requests_(draw) -> tuple[bytes, tuple]:
    """One valid request: its bytes, and what the server must see of it."""
    method = draw(st.sampled_from(["GET", "POST", "PUT", "DELETE"]))
    path = "/" + draw(st.text(alphabet="abcxyz0123456789/", max_size=12))
    headers = draw(st.lists(st.tuples(TOKEN, st.text(alphabet="abc 123", max_size=10)), max_size=4))
    headers = [(name, value.strip()) for name, value in headers]
    headers = [
        (name, value)
        for name, value in headers
        if name.lower() not in ("host", "content-length", "transfer-encoding", "connection")
        and name.lower() != "expect"
    ]
    body = b""
    framing = "none"
    if method in ("POST", "PUT"):
        body = draw(st.binary(max_size=300))
        framing = draw(st.sampled_from(["length", "chunked"]))
    lines = [f"{method} {path} HTTP/1.1", "Host: example"]
    lines += [f"{name}: {value}" for name, value in headers]
    if framing == "length":
        lines.append(f"Content-Length: {len(body)}")
    elif framing == "chunked":
        lines.append("Transfer-Encoding: chunked")
    data = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    if framing == "length":
        data += body
    elif framing == "chunked":
        sizes = draw(st.lists(st.integers(1, 64), max_size=6))
        pieces, rest = [], body
        for size in sizes:
            if rest:
                pieces.append(rest[:size])
                rest = rest[size:]
        if rest:
            pieces.append(rest)
        data += b"".join(b"%x\r\n%b\r\n" % (len(piece), piece) for piece in pieces) + b"0\r\n\r\n"
    return data, (method, path.encode(), body)


def serve_all(http: HTTPConnection, pieces: list[bytes]) -> list[tuple]:
    """Feed the pieces as a serving loop would, answering each request
    after reading its whole body; return what was seen."""
    seen = []
    pieces = list(pieces)
    current = None
    while True:
        event = http.next_event()
        if type(event) is Request:
            current = [event.method, event.target, b""]
            continue
        if type(event) is Body:
            current[2] += event.data
            continue
        if event is END_OF_MESSAGE or event is PAUSED:
            if current is not None:
                seen.append(tuple(current))
                current = None
                answer(http)
            continue
        if event is CLOSED:
            return seen
        assert event is NEED_DATA
        if not pieces:
            http.receive_eof()
            continue
        http.receive_data(pieces.pop(0))


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({cut % (len(data) + 1) for cut in cuts})
    pieces, start = [], 0
    for point in [*points, len(data)]:
        pieces.append(data[start:point])
        start = point
    return [piece for piece in pieces if piece]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(requests_(), min_size=1, max_size=4), st.lists(st.integers(0, 10_000)))
def test_any_split_of_pipelined_requests_gives_the_same_requests(requests, cuts):
    data = b"".join(raw for raw, _ in requests)
    expected = [meaning for _, meaning in requests]
    assert serve_all(HTTPConnection(), [data]) == expected
    assert serve_all(HTTPConnection(), split(data, cuts)) == expected


@pytest.mark.parametrize("size", [1, 2, 3, 7])
def test_every_byte_boundary_of_two_pipelined_requests(size):
    data = post(b"hello world") + b"GET /x?y HTTP/1.1\r\nHost: a\r\n\r\n"
    expected = [("POST", b"/", b"hello world"), ("GET", b"/x?y", b"")]
    for cut in range(len(data) + 1):
        pieces = [data[:cut]] + [data[i : i + size] for i in range(cut, len(data), size)]
        assert serve_all(HTTPConnection(), [p for p in pieces if p]) == expected, cut


# -- property: every framed response parses back to what the app produced ------------


@st.composite
def responses(draw):
    status = draw(st.sampled_from([200, 201, 204, 301, 304, 404, 500]))
    pieces = draw(st.lists(st.binary(max_size=200), max_size=5))
    shape = draw(st.sampled_from(["list", "generator", "write", "length"]))
    method = draw(st.sampled_from(["GET", "HEAD"]))
    version = draw(st.sampled_from(["1.1", "1.0"]))
    client_close = draw(st.booleans())
    drain_at = draw(st.one_of(st.none(), st.integers(0, 6)))
    return status, pieces, shape, method, version, client_close, drain_at


def run_app(http, status, pieces, shape, drain_at) -> tuple[bytes, ResponseWriter]:
    server = ServingState(lambda: None)
    sent: list[bytes] = []
    writer = ResponseWriter(http, sent.append, None, server)
    step = 0

    def maybe_drain():
        nonlocal step
        if drain_at is not None and step == drain_at:
            server.draining = True  # a drain begins at this point of the response
        step += 1

    headers = [("Content-Type", "application/octet-stream")]
    body = b"".join(pieces)
    if shape == "length":
        headers.append(("Content-Length", str(len(body))))
    maybe_drain()
    write = writer.start_response(f"{status} Reason", headers)
    maybe_drain()
    if shape == "write":
        for piece in pieces:
            write(piece)
            maybe_drain()
        writer.finish([])
    elif shape in ("generator", "length"):

        def generate():
            for piece in pieces:
                maybe_drain()
                yield piece

        writer.finish(generate())
    else:
        writer.finish(list(pieces))
    maybe_drain()
    return b"".join(sent), writer


@settings(max_examples=400, deadline=None)
@given(responses())
def test_every_framed_response_parses_back_to_what_the_app_produced(case):
    status, pieces, shape, method, version, client_close, drain_at = case
    request_head = f"{method} / HTTP/{version}\r\nHost: x\r\n"
    if client_close:
        request_head += "Connection: close\r\n"
    elif version == "1.0":
        request_head += "Connection: keep-alive\r\n"
    http = HTTPConnection()
    http.receive_data((request_head + "\r\n").encode())
    http.next_event()
    data, _ = run_app(http, status, pieces, shape, drain_at)

    client = h11.Connection(h11.CLIENT)
    request_headers = [("Host", "x")] + ([("Connection", "close")] if client_close else [])
    client.send(h11.Request(method=method, target="/", headers=request_headers))
    client.send(h11.EndOfMessage())
    if version == "1.0":
        client.their_http_version = b"1.0"
    client.receive_data(data)
    response = client.next_event()
    assert isinstance(response, h11.Response), data
    assert response.status_code == status
    body = b""
    while True:
        event = client.next_event()
        if isinstance(event, h11.Data):
            body += event.data
        elif isinstance(event, h11.EndOfMessage):
            break
        elif event is h11.NEED_DATA:
            client.receive_data(b"")  # close-delimited: our close ends it
        else:  # pragma: no cover - a framing error
            raise AssertionError(event)
    expected = b"" if method == "HEAD" or status in (204, 304) else b"".join(pieces)
    assert body == expected
    assert client.next_event() in (h11.NEED_DATA, h11.PAUSED, h11.ConnectionClosed())
    said_close = any(
        name == b"connection" and b"close" in value.lower() for name, value in response.headers
    )
    # The connection's decision is on the wire, and the phase follows it.
    assert said_close == (not http.keep_alive)
    assert http.phase is (Phase.IDLE if http.keep_alive else Phase.CLOSING)
    if client_close:
        assert not http.keep_alive
    if http.keep_alive and expected:
        # Kept alive only with a body whose end the client can find.
        assert any(
            name in (b"content-length", b"transfer-encoding") for name, _ in response.headers
        )


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 8), st.lists(st.binary(min_size=1, max_size=50), max_size=5))
def test_start_closing_at_any_point_never_gives_a_half_response(at, pieces):
    """A drain that begins anywhere in a response leaves it whole, and the
    connection serves nothing after it unless its head already promised."""
    http = HTTPConnection()
    http.receive_data(GET + GET)
    http.next_event()
    data, _ = run_app(http, 200, pieces, "generator", at)
    client = h11.Connection(h11.CLIENT)
    client.send(h11.Request(method="GET", target="/", headers=[("Host", "x")]))
    client.send(h11.EndOfMessage())
    client.receive_data(data)
    events = []
    while True:
        event = client.next_event()
        events.append(event)
        if isinstance(event, h11.EndOfMessage):
            break
        assert event is not h11.NEED_DATA, data
    assert b"".join(e.data for e in events if isinstance(e, h11.Data)) == b"".join(pieces)
    response = events[0]
    said_close = (b"connection", b"close") in [(n, v.lower()) for n, v in response.headers]
    if said_close:
        assert http.next_event() is CLOSED
    else:
        # Keep-alive was promised: the drain ends the connection between
        # requests instead, after serving what already arrived.
        assert type(http.next_event()) is Request


def test_limits_reach_the_parser():
    http = HTTPConnection(Limits(request_line=20))
    http.receive_data(b"GET /" + b"a" * 40 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    with pytest.raises(HTTPError) as raised:
        http.next_event()
    assert raised.value.status == 414


# -- RFC 9110/9112 details, as the connection answers them -----------------------


def refused(data: bytes) -> tuple[int, bytes, HTTPConnection]:
    """Feed `data`; the refusal's status and the bytes to send back."""
    http = HTTPConnection()
    http.receive_data(data)
    with pytest.raises(HTTPError) as error:
        http.next_event()
    sent = http.refuse(error.value)
    return error.value.status, sent, http


@pytest.mark.parametrize(
    ("data", "status"),
    [
        (b"GET * HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        (b"PATCH * HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: exa mple.com\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 9223372036854775808\r\n\r\n", 400),
        (b"CONNECT a:1 HTTP/1.1\r\nHost: a:1\r\nContent-Length: 5\r\n\r\nhello", 400),
        (b"GET / HTTP/3.0\r\nHost: x\r\n\r\n", 505),
        (b"GET / HTTP/1.1\r\nHost: x\r\n" + b"X: y\r\n" * 5000 + b"\r\n", 431),
    ],
    ids=[
        "get-asterisk",
        "patch-asterisk",
        "invalid-host",
        "cl-2-63",
        "connect-body",
        "http-3",
        "head",
    ],
)
def test_requests_the_rfcs_refuse_get_their_status_and_a_close(data, status):
    got, sent, http = refused(data)
    assert got == status
    assert sent.startswith(b"HTTP/1.1 %d " % status)
    assert b"Connection: close\r\n" in sent
    assert http.phase is Phase.CLOSING
    assert http.next_event() is CLOSED


def test_an_http_1_2_request_is_answered_as_http_1_1_and_kept_alive():
    http = HTTPConnection()
    http.receive_data(b"GET / HTTP/1.2\r\nHost: x\r\n\r\n" + GET)
    request = http.next_event()
    assert request.http_version == "1.1"
    sent = answer(http)
    assert sent.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"Connection:" not in sent
    assert http.phase is Phase.IDLE
    assert type(http.next_event()) is Request


def test_a_chunk_extension_after_whitespace_is_part_of_a_normal_body():
    http = HTTPConnection()
    http.receive_data(
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5 ;a=b\r\nhello\r\n0\r\n\r\n" + GET
    )
    assert type(http.next_event()) is Request
    assert http.next_event().data == b"hello"
    assert http.next_event() is END_OF_MESSAGE
    answer(http)
    assert type(http.next_event()) is Request


@pytest.mark.parametrize(
    ("data", "eof"),
    [
        (b"GET * HTTP/1.1\r\nHost: x\r\n\r\n", False),  # refused in a parser callback
        (b"GET / HTTP/1.1\nHost: x\r\n\r\n", False),  # refused by llhttp
        (b"GET / HTTP/1.1\r\nHost: x\r\n", True),  # the client closed mid-head
    ],
    ids=["callback", "llhttp", "eof"],
)
def test_a_refused_request_leaves_no_reference_cycle(data, eof):
    """The error's traceback must not hold the connection in a cycle: an idle
    worker runs no cycle collection, and a thousand refused connections
    would keep their heads' memory."""
    gc.collect()
    gc.disable()
    try:
        http = HTTPConnection()
        http.receive_data(data)
        if eof:
            http.receive_eof()
        try:
            http.next_event()
        except HTTPError as error:
            http.refuse(error)
        else:
            raise AssertionError("not refused")
        http.close()
        del http
        assert gc.collect() == 0
    finally:
        gc.enable()
