"""RequestParser: bytes in, events out.

Every case runs twice (the `parse` fixture): the input fed in one piece,
and fed one byte at a time. The outcome must not depend on how the bytes
were split into reads.
"""

from __future__ import annotations

import pytest

from glade.http import parser as parser_module
from glade.http.errors import HTTPError
from glade.http.parser import END_OF_MESSAGE, NEED_DATA, Body, Limits, Request, RequestParser

# -- helpers ------------------------------------------------------------------


def head(*lines: str, request: str = "GET /", version: str = "1.1") -> bytes:
    """A request head; `Host: x` is not added, so each test says what it sends."""
    text = f"{request} HTTP/{version}\r\n" + "".join(line + "\r\n" for line in lines) + "\r\n"
    return text.encode("latin-1")


def get(target: str = "/", *lines: str) -> bytes:
    return head("Host: x", *lines, request=f"GET {target}")


def post(body: bytes, *lines: str, target: str = "/") -> bytes:
    return head("Host: x", f"Content-Length: {len(body)}", *lines, request=f"POST {target}") + body


def post_chunked(chunks: bytes, *lines: str, target: str = "/") -> bytes:
    return head("Host: x", "Transfer-Encoding: chunked", *lines, request=f"POST {target}") + chunks


def chunked(*pieces: bytes) -> bytes:
    return b"".join(b"%x\r\n%b\r\n" % (len(piece), piece) for piece in pieces) + b"0\r\n\r\n"


def drain(parser: RequestParser, out: list) -> None:
    """Move the parser's events to `out`: Request, bytes (bodies merged), END, HTTPError."""
    while True:
        try:
            event = parser.next_event()
        except HTTPError as error:
            out.append(error)
            return
        if event is NEED_DATA:
            return
        if type(event) is Body:
            assert event.data, "an empty Body event"
            if out and type(out[-1]) is bytes:
                out[-1] += event.data
            else:
                out.append(event.data)
        else:
            out.append(event)


def run(pieces, limits: Limits | None = None, eof: bool = False) -> list:
    parser = RequestParser(limits)
    out: list = []
    for piece in pieces:
        parser.feed(piece)
        drain(parser, out)
    if eof:
        parser.feed_eof()
        drain(parser, out)
    errors = [i for i, event in enumerate(out) if type(event) is HTTPError]
    if errors:
        # An error is the last event, for good.
        assert errors == [len(out) - 1], out
        assert parser.dead
        parser.feed(get())
        parser.feed_eof()
        assert parser.next_event() is NEED_DATA
    return out


@pytest.fixture(params=["whole", "bytewise"])
def parse(request):
    """parse(data, limits=None, eof=False) -> events, fed whole or one byte at a time."""

    def parse(data: bytes, limits: Limits | None = None, eof: bool = False) -> list:
        if request.param == "bytewise":
            return run([data[i : i + 1] for i in range(len(data))], limits, eof)
        return run([data], limits, eof)

    return parse


def requests_of(events: list) -> list[Request]:
    return [event for event in events if type(event) is Request]


def refusal(events: list) -> int | None:
    """The status of the final HTTPError, or None when nothing was refused."""
    if events and type(events[-1]) is HTTPError:
        return events[-1].status
    return None


def summary(events: list) -> list:
    """Events as comparable values: ('GET', b'/'), body bytes, 'end', status."""
    out = []
    for event in events:
        if type(event) is Request:
            out.append((event.method, event.target))
        elif event is END_OF_MESSAGE:
            out.append("end")
        elif type(event) is HTTPError:
            out.append(event.status)
        else:
            out.append(event)
    return out


def every_field(events: list) -> list:
    """Like summary(), with every field of each Request."""
    return [
        (
            event.method,
            event.target,
            event.http_version,
            event.headers,
            event.keep_alive,
            event.expect_continue,
            event.content_length,
            event.chunked,
        )
        if type(event) is Request
        else summary([event])[0]
        for event in events
    ]


# -- a plain request ------------------------------------------------------------


def test_simple_get_gives_request_then_end(parse):
    events = parse(get("/path?q=1", "Accept: */*"))
    assert summary(events) == [("GET", b"/path?q=1"), "end"]
    request = events[0]
    assert request.http_version == "1.1"
    assert request.headers == [(b"Host", b"x"), (b"Accept", b"*/*")]
    assert request.content_length is None
    assert not request.chunked
    assert not request.has_body
    assert not request.expect_continue


def test_header_names_keep_their_case_and_values_lose_surrounding_whitespace(parse):
    (request, _) = parse(head("hOsT: x", "X-Thing:   a  b \t"))
    assert request.headers == [(b"hOsT", b"x"), (b"X-Thing", b"a  b")]


def test_headers_with_underscores_are_kept_in_the_request(parse):
    (request, _) = parse(get("/", "X_Forwarded_For: 1.2.3.4"))
    assert (b"X_Forwarded_For", b"1.2.3.4") in request.headers


@pytest.mark.parametrize(
    "value", [b"a\tb", b"caf\xe9", b"\x80\xff", b'"quoted", list; q=0.5'], ids=repr
)
def test_tab_and_obs_text_in_header_values_are_accepted(parse, value):
    (request, _) = parse(b"GET / HTTP/1.1\r\nHost: x\r\nX-V: " + value + b"\r\n\r\n")
    assert request.headers[-1] == (b"X-V", value)


def test_empty_lines_before_a_request_are_ignored(parse):
    assert summary(parse(b"\r\n\r\n" + get())) == [("GET", b"/"), "end"]


@pytest.mark.parametrize(
    "target",
    ["*", "http://example.com/a/b?c=d", "/%E2%82%AC?x=%20", "/a;b,c@d:e!$&'()*+="],
)
def test_request_target_is_passed_as_sent(parse, target):
    request = "OPTIONS" if target == "*" else "GET"
    (event, _) = parse(head("Host: x", request=f"{request} {target}"))
    assert event.target == target.encode()


@pytest.mark.parametrize(
    "method", ["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "PROPFIND", "PURGE"]
)
def test_known_methods_come_out_as_str(parse, method):
    (request, _) = parse(head("Host: x", request=f"{method} /"))
    assert request.method == method


# -- keep-alive -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("version", "lines", "keep_alive"),
    [
        ("1.1", [], True),
        ("1.1", ["Connection: keep-alive"], True),
        ("1.1", ["Connection: close"], False),
        ("1.1", ["Connection: Close"], False),
        ("1.1", ["Connection: TE, close"], False),
        ("1.0", [], False),
        ("1.0", ["Connection: keep-alive"], True),
        ("1.0", ["Connection: Keep-Alive"], True),
        ("1.0", ["Connection: close"], False),
    ],
)
def test_keep_alive_rules(parse, version, lines, keep_alive):
    (request, _) = parse(head("Host: x", *lines, version=version))
    assert request.keep_alive is keep_alive


def test_http10_request_needs_no_host(parse):
    (request, end) = parse(head(version="1.0"))
    assert request.http_version == "1.0"
    assert end is END_OF_MESSAGE


# -- pipelining -------------------------------------------------------------------


def test_pipelined_requests_come_out_in_order_with_their_bodies(parse):
    data = (
        post(b"first", target="/1")
        + get("/2")
        + post_chunked(chunked(b"thi", b"rd"), target="/3")
        + post(b"", target="/4")
        + get("/5")
    )
    assert summary(parse(data)) == [
        ("POST", b"/1"),
        b"first",
        "end",
        ("GET", b"/2"),
        "end",
        ("POST", b"/3"),
        b"third",
        "end",
        ("POST", b"/4"),
        "end",
        ("GET", b"/5"),
        "end",
    ]


def test_pipelined_http10_keep_alive_requests(parse):
    data = head("Connection: keep-alive", version="1.0") * 2
    assert summary(parse(data)) == [("GET", b"/"), "end"] * 2


@pytest.mark.parametrize(
    "garbage",
    [b"xyz\r\n\r\n", b"\x16\x03\x01\x02\x00", b"GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n"],
    ids=["junk", "tls", "bad-header"],
)
def test_garbage_after_a_valid_request_is_refused_after_it_and_nothing_follows(parse, garbage):
    events = parse(get("/first") + garbage + get("/never"))
    assert summary(events) == [("GET", b"/first"), "end", 400]


def test_requests_after_connection_close_are_never_parsed(parse):
    events = parse(get("/", "Connection: close") + get("/never"))
    assert summary(events)[:2] == [("GET", b"/"), "end"]
    assert b"/never" not in [r.target for r in requests_of(events)]


def test_nothing_comes_out_after_an_error_even_from_later_feeds():
    parser = RequestParser()
    parser.feed(b"BAD\x00 / HTTP/1.1\r\n\r\n")
    with pytest.raises(HTTPError):
        parser.next_event()
    parser.feed(get())
    assert parser.dead
    assert parser.next_event() is NEED_DATA


# -- request bodies ---------------------------------------------------------------


def test_content_length_body(parse):
    events = parse(post(b"hello\r\nworld\n"))
    assert summary(events) == [("POST", b"/"), b"hello\r\nworld\n", "end"]
    assert events[0].content_length == 13
    assert events[0].has_body


def test_content_length_zero_is_no_body(parse):
    (request, end) = parse(post(b""))
    assert request.content_length == 0
    assert not request.has_body
    assert end is END_OF_MESSAGE


def test_chunked_body_with_extensions(parse):
    chunks = b'5;name=value;flag\r\nhello\r\n1;q="a b"\r\n \r\n5\r\nworld\r\n0;last\r\n\r\n'
    events = parse(post_chunked(chunks))
    assert summary(events) == [("POST", b"/"), b"hello world", "end"]
    assert events[0].chunked
    assert events[0].has_body
    assert events[0].content_length is None


def test_chunked_trailers_are_accepted_and_ignored(parse):
    chunks = b"3\r\nabc\r\n0\r\nX-Checksum: 123\r\nX_Other: 4\r\n\r\n"
    events = parse(post_chunked(chunks) + get("/next"))
    assert summary(events) == [("POST", b"/"), b"abc", "end", ("GET", b"/next"), "end"]
    assert all(name != b"X-Checksum" for name, _ in events[0].headers)


@pytest.mark.parametrize("coding", ["chunked", "CHUNKED", "Chunked"])
def test_chunked_is_case_insensitive(parse, coding):
    events = parse(head("Host: x", f"Transfer-Encoding: {coding}") + chunked(b"ok"))
    assert events[0].chunked
    assert events[1] == b"ok"


def test_body_bytes_that_look_like_http_stay_body(parse):
    body = b"GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"
    events = parse(post(body) + get("/real"))
    assert summary(events) == [("POST", b"/"), body, "end", ("GET", b"/real"), "end"]


def test_long_body_lines_are_not_mistaken_for_long_header_lines(parse):
    """Body data without a newline, longer than the header line limit."""
    limits = Limits(request_line=40, request_fields=5, request_field_size=40)
    body = b"x" * 300
    data = post(body) + post_chunked(chunked(body, b"y\n" * 100)) + get("/after")
    events = parse(data, limits)
    assert summary(events) == [
        ("POST", b"/"),
        body,
        "end",
        ("POST", b"/"),
        body + b"y\n" * 100,
        "end",
        ("GET", b"/after"),
        "end",
    ]


@pytest.mark.parametrize(
    "data",
    [
        post(b"0123456789"),
        post_chunked(b"4;ext=1\r\nwiki\r\n6\r\npedia \r\n0\r\nTrailer: x\r\n\r\n"),
        post(b"abc") + post_chunked(chunked(b"de", b"f")) + get("/3"),
    ],
    ids=["content-length", "chunked", "pipelined"],
)
def test_bodies_split_across_feeds_at_every_position(data):
    expected = every_field(run([data]))
    assert refusal(expected) is None
    for split in range(1, len(data)):
        assert every_field(run([data[:split], data[split:]])) == expected, split
    for first in range(1, len(data), 7):
        for second in range(first + 1, len(data), 5):
            pieces = [data[:first], data[first:second], data[second:]]
            assert every_field(run(pieces)) == expected, (first, second)


def test_pipelined_big_body_then_partial_head_is_not_a_long_line():
    """The rest of a body, then the start of the next head, in one read."""
    limits = Limits(request_line=100, request_fields=10, request_field_size=100)
    rest = get("/next")
    data = post(b"z" * 1000) + rest
    split = len(data) - len(rest) + 6
    events = run([data[:split], data[split:]], limits)
    assert summary(events) == [("POST", b"/"), b"z" * 1000, "end", ("GET", b"/next"), "end"]


# -- 100-continue and other expectations ---------------------------------------------


@pytest.mark.parametrize("value", ["100-continue", "100-Continue", " 100-CONTINUE "])
def test_expect_100_continue_is_reported_on_http11(parse, value):
    (request, *_) = parse(post(b"x", f"Expect: {value}"))
    assert request.expect_continue


def test_expect_100_continue_is_ignored_on_http10(parse):
    data = head("Expect: 100-continue", "Content-Length: 1", request="POST /", version="1.0")
    (request, *_) = parse(data + b"x")
    assert not request.expect_continue


@pytest.mark.parametrize(
    "lines",
    [
        ["Expect: something-else"],
        ["Expect: 100-continue, something-else"],
        ["Expect: something-else", "Expect: 100-continue"],
        ["Expect: 100-continue", "Expect: 200-ok"],
    ],
)
def test_unknown_expectation_is_417(parse, lines):
    assert summary(parse(post(b"x", *lines))) == [417]


# -- refusals: status for each kind of bad input --------------------------------------

H = "Host: x"
TE = "Transfer-Encoding: chunked"

BAD_HEADS = {
    # request line
    "not-http": (b"HELLO THERE\r\n\r\n", 400),
    "tls-client-hello": (b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03", 400),
    "extra-word-in-request-line": (b"GET / HTTP/1.1 extra\r\nHost: x\r\n\r\n", 400),
    "no-target": (b"GET HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    "space-in-target": (b"GET /a b HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    "control-char-in-target": (b"GET /a\x01 HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    "raw-utf8-in-target": (b"GET /\xe2\x82\xac HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    "lowercase-method": (head(H, request="get /"), 400),
    "unknown-method": (head(H, request="FROB /"), 400),
    "lowercase-http": (b"GET / http/1.1\r\nHost: x\r\n\r\n", 400),
    "leading-space": (b" GET / HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    # versions
    "http-2.0": (head(H, version="2.0"), 505),
    "http2-preface": (b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505),
    "http-0.9-simple-request": (b"GET /\r\n\r\n", 400),
    "http-0.9-version": (head(H, version="0.9"), 400),
    "http-3.0": (head(H, version="3.0"), 505),
    "http-0.5": (head(H, version="0.5"), 505),
    "http-1": (b"GET / HTTP/1\r\nHost: x\r\n\r\n", 400),
    "asterisk-form-get": (head(H, request="GET *"), 400),
    "asterisk-form-patch": (head(H, request="PATCH *"), 400),
    # line ends
    "bare-lf-request-line": (b"GET / HTTP/1.1\nHost: x\r\n\r\n", 400),
    "bare-lf-header": (b"GET / HTTP/1.1\r\nHost: x\nX: y\r\n\r\n", 400),
    "bare-lf-end-of-head": (b"GET / HTTP/1.1\r\nHost: x\r\n\n", 400),
    "all-bare-lf": (b"GET / HTTP/1.1\nHost: x\n\n", 400),
    "bare-cr-request-line": (b"GET / HTTP/1.1\rHost: x\r\n\r\n", 400),
    "bare-cr-header": (b"GET / HTTP/1.1\r\nHost: x\rX: y\r\n\r\n", 400),
    # header fields
    "no-colon": (head(H, "NoColon"), 400),
    "empty-name": (head(H, ": value"), 400),
    "space-before-colon": (head(H, "X-Name : value"), 400),
    "tab-before-colon": (head(H, "X-Name\t: value"), 400),
    "space-in-name": (head(H, "X Name: value"), 400),
    "separator-in-name": (head(H, "X(Name): value"), 400),
    "obs-fold-space": (b"GET / HTTP/1.1\r\nHost: x\r\nX: a\r\n b\r\n\r\n", 400),
    "obs-fold-tab": (b"GET / HTTP/1.1\r\nHost: x\r\nX: a\r\n\tb\r\n\r\n", 400),
    "header-line-starting-with-space": (b"GET / HTTP/1.1\r\n Host: x\r\n\r\n", 400),
    "nul-in-value": (head(H, "X: a\x00b"), 400),
    "soh-in-value": (head(H, "X: a\x01b"), 400),
    "esc-in-value": (head(H, "X: a\x1bb"), 400),
    "del-in-value": (head(H, "X: a\x7fb"), 400),
    "nul-in-name": (head(H, "X\x00Y: a"), 400),
    # Host
    "missing-host": (head(), 400),
    "duplicate-host": (head("Host: a", "Host: b"), 400),
    "duplicate-equal-host": (head("Host: a", "Host: a"), 400),
    "duplicate-host-http10": (head("Host: a", "Host: b", version="1.0"), 400),
    "space-in-host": (head("Host: exa mple.com"), 400),
    "slash-in-host": (head("Host: example.com/path"), 400),
    "userinfo-in-host": (head("Host: user@example.com"), 400),
    "non-numeric-port": (head("Host: example.com:http"), 400),
    "two-ports": (head("Host: example.com:80:81"), 400),
    "unclosed-ip-literal": (head("Host: [::1"), 400),
    "bad-percent-escape": (head("Host: a%zzb"), 400),
    "invalid-host-http10": (head("Host: exa mple.com", version="1.0"), 400),
    # Content-Length
    "duplicate-content-length": (head(H, "Content-Length: 1", "Content-Length: 2"), 400),
    "duplicate-equal-content-length": (head(H, "Content-Length: 1", "Content-Length: 1"), 400),
    "content-length-list": (head(H, "Content-Length: 1, 1"), 400),
    "non-numeric-content-length": (head(H, "Content-Length: abc"), 400),
    "content-length-with-suffix": (head(H, "Content-Length: 5x"), 400),
    "negative-content-length": (head(H, "Content-Length: -1"), 400),
    "plus-content-length": (head(H, "Content-Length: +1"), 400),
    "hex-content-length": (head(H, "Content-Length: 0x10"), 400),
    "empty-content-length": (head(H, "Content-Length: "), 400),
    "space-inside-content-length": (head(H, "Content-Length: 1 2"), 400),
    "huge-content-length": (head(H, "Content-Length: " + "9" * 30), 400),
    "content-length-2-63": (head(H, f"Content-Length: {2**63}"), 400),
    "content-length-2-64-1": (head(H, f"Content-Length: {2**64 - 1}"), 400),
    # CONNECT (RFC 9110 9.3.6: no content)
    "connect-with-content-length": (
        head("Host: a:443", "Content-Length: 5", request="CONNECT a:443") + b"hello",
        400,
    ),
    "connect-chunked": (head("Host: a:443", TE, request="CONNECT a:443"), 400),
    # Transfer-Encoding
    "content-length-and-chunked": (head(H, "Content-Length: 3", TE), 400),
    "chunked-and-content-length": (head(H, TE, "Content-Length: 3"), 400),
    "chunked-identity": (head(H, "Transfer-Encoding: chunked, identity"), 400),
    "chunked-gzip": (head(H, "Transfer-Encoding: chunked, gzip"), 400),
    "identity": (head(H, "Transfer-Encoding: identity"), 400),
    "gzip": (head(H, "Transfer-Encoding: gzip"), 400),
    "chunked-with-parameter": (head(H, "Transfer-Encoding: chunked;q=1"), 400),
    "chunked-twice": (head(H, "Transfer-Encoding: chunked, chunked"), 400),
    "chunked-in-two-fields": (head(H, TE, TE), 400),
    "empty-transfer-encoding": (head(H, "Transfer-Encoding: "), 400),
    "gzip-chunked": (head(H, "Transfer-Encoding: gzip, chunked"), 501),
    "gzip-then-chunked-fields": (head(H, "Transfer-Encoding: gzip", TE), 501),
    "http10-chunked": (head(TE, version="1.0"), 400),
    "http10-gzip-chunked": (head("Transfer-Encoding: gzip, chunked", version="1.0"), 400),
}


@pytest.mark.parametrize(("data", "status"), BAD_HEADS.values(), ids=BAD_HEADS.keys())
def test_bad_head_is_refused_before_any_request(parse, data, status):
    assert summary(parse(data + get("/never"))) == [status]


BAD_CHUNKED_BODIES = {
    "hex-prefix": b"0x5\r\nhello\r\n0\r\n\r\n",
    "negative": b"-5\r\nhello\r\n0\r\n\r\n",
    "overflow": b"f" * 17 + b"\r\nhello\r\n0\r\n\r\n",
    "not-hex": b"zz\r\nhello\r\n0\r\n\r\n",
    "empty-size": b"\r\nhello\r\n0\r\n\r\n",
    "space-before-size": b" 5\r\nhello\r\n0\r\n\r\n",
    "bare-lf-after-size": b"5\nhello\r\n0\r\n\r\n",
    "lf-in-extension": b"5;a\nb\r\nhello\r\n0\r\n\r\n",
    "data-longer-than-size": b"3\r\nhello\r\n0\r\n\r\n",
    "no-crlf-after-data": b"5\r\nhelloX0\r\n\r\n",
    "bare-lf-after-data": b"5\r\nhello\n0\r\n\r\n",
    "obs-fold-in-trailer": b"0\r\nX: a\r\n b\r\n\r\n",
}


@pytest.mark.parametrize("chunks", BAD_CHUNKED_BODIES.values(), ids=BAD_CHUNKED_BODIES.keys())
def test_bad_chunked_body_is_refused_after_the_request_came_out(parse, chunks):
    events = parse(post_chunked(chunks) + get("/never"))
    assert events[0].target == b"/"
    assert refusal(events) == 400
    assert END_OF_MESSAGE not in events


# -- end of input -------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        b"GET / HT",
        b"GET / HTTP/1.1\r\nHost: x\r\n",
        post(b"hello")[:-2],
        post_chunked(b"5\r\nhello\r\n"),
        post_chunked(b"5\r\nhello\r\n0\r\n"),
        post_chunked(b"5\r\nhello\r\n0\r\nTrailer: x\r\n"),
    ],
    ids=["request-line", "head", "content-length", "chunked", "last-chunk", "trailers"],
)
def test_eof_in_the_middle_of_a_request_is_400(parse, data):
    events = parse(data, eof=True)
    assert refusal(events) == 400
    assert END_OF_MESSAGE not in events


def test_eof_in_the_middle_keeps_in_message_so_the_400_is_sent():
    parser = RequestParser()
    parser.feed(b"GET / HTTP/1.1\r\n")
    parser.feed_eof()
    assert parser.dead and parser.in_message
    with pytest.raises(HTTPError) as refused:
        parser.next_event()
    assert refused.value.status == 400


@pytest.mark.parametrize("data", [b"", get(), post(b"abc") + get()], ids=["nothing", "get", "two"])
def test_eof_between_requests_is_a_clean_end(parse, data):
    events = parse(data, eof=True)
    assert refusal(events) is None
    assert events.count(END_OF_MESSAGE) == len(requests_of(events))


def test_eof_between_requests_leaves_the_parser_dead_and_idle():
    parser = RequestParser()
    parser.feed(get())
    parser.feed_eof()
    assert parser.dead and not parser.in_message


def test_in_message_is_true_from_the_first_byte_to_the_end():
    parser = RequestParser()
    assert not parser.in_message
    parser.feed(b"P")
    assert parser.in_message
    parser.feed(post(b"abc")[1:-1])
    assert parser.in_message
    parser.feed(b"c")
    assert not parser.in_message
    assert not parser.dead


# -- limits ------------------------------------------------------------------------

SMALL = Limits(request_line=50, request_fields=4, request_field_size=40, request_body=10)


def line_of(length: int) -> bytes:
    """A GET whose request line (without CRLF) is `length` bytes."""
    return head(H, request="GET /" + "a" * (length - len("GET / HTTP/1.1")))


@pytest.mark.parametrize(("length", "status"), [(50, None), (51, 414), (5000, 414)])
def test_request_line_limit(parse, length, status):
    assert refusal(parse(line_of(length), SMALL)) == status


def test_default_request_line_limit_is_4094(parse):
    assert refusal(parse(line_of(4094))) is None
    assert refusal(parse(line_of(4095))) == 414


def test_endless_request_target_is_414(parse):
    assert summary(parse(b"GET /" + b"a" * 6000)) == [414]


@pytest.mark.parametrize(("count", "status"), [(4, None), (5, 431)])
def test_header_count_limit(parse, count, status):
    lines = [H] + [f"X-{i}: {i}" for i in range(count - 1)]
    assert refusal(parse(head(*lines), SMALL)) == status


def test_default_header_count_limit_is_100(parse):
    lines = [H] + [f"X-{i}: {i}" for i in range(99)]
    assert refusal(parse(head(*lines))) is None
    assert refusal(parse(head(*lines, "X-Last: 1"))) == 431


@pytest.mark.parametrize(("size", "status"), [(40, None), (41, 431)])
def test_header_field_size_limit_counts_name_colon_space_value(parse, size, status):
    field = "X: " + "v" * (size - 3)
    assert refusal(parse(head(H, field), SMALL)) == status


def test_default_header_field_size_limit_is_8190(parse):
    assert refusal(parse(head(H, "X: " + "v" * 8187))) is None
    assert refusal(parse(head(H, "X: " + "v" * 8188))) == 431


@pytest.mark.parametrize(
    "data",
    [
        b"GET / HTTP/1.1\r\nHost: x\r\nX-Endless: " + b"v" * 20_000,
        b"GET / HTTP/1.1\r\nHost: x\r\nX-Endless-Name" + b"n" * 20_000,
        b"GET / HTTP/1.1\r\nX-First-Line: " + b"v" * 20_000,
    ],
    ids=["value", "name", "first-field"],
)
def test_endless_header_without_newline_is_431(parse, data):
    assert summary(parse(data)) == [431]


def test_endless_header_is_refused_near_the_field_limit_not_the_head_limit():
    parser = RequestParser(SMALL)
    parser.feed(get()[:-2] + b"X-Endless: ")
    fed = 0
    while not parser.dead and fed < 10_000:
        parser.feed(b"v")
        fed += 1
    assert fed < 2 * SMALL.request_field_size
    with pytest.raises(HTTPError, match="431"):
        parser.next_event()


def test_head_made_of_many_fields_is_bounded_when_field_limits_are_off(parse):
    limits = Limits(request_line=0, request_fields=0, request_field_size=0, request_head=0)
    lines = [H] + [f"X-{i}: {'v' * 60}" for i in range(3000)]
    assert refusal(parse(head(*lines), limits)) is None
    endless = b"GET / HTTP/1.1\r\nHost: x\r\nX: " + b"v" * (limits.head_bytes + 10)
    reads = [endless[i : i + 65536] for i in range(0, len(endless), 65536)]
    assert summary(run(reads, limits)) == [431]


def test_too_many_trailers_is_431(parse):
    trailers = b"".join(b"T-%d: x\r\n" % i for i in range(5))
    events = parse(post_chunked(b"0\r\n" + trailers + b"\r\n"), SMALL)
    assert refusal(events) == 431


def test_trailer_field_over_the_size_limit_is_431(parse):
    events = parse(post_chunked(b"0\r\nT: " + b"x" * 40 + b"\r\n\r\n"), SMALL)
    assert refusal(events) == 431


def test_endless_trailer_is_431(parse):
    events = parse(post_chunked(b"1\r\na\r\n0\r\nX-Endless: " + b"v" * 20_000))
    assert summary(events) == [("POST", b"/"), b"a", 431]


def test_endless_chunk_extension_is_400(parse):
    events = parse(post_chunked(b"5;ext=" + b"e" * 20_000))
    assert summary(events) == [("POST", b"/"), 400]


@pytest.mark.parametrize(("size", "status"), [(10, None), (11, 413)])
def test_content_length_body_limit_refuses_before_the_request(parse, size, status):
    events = parse(post(b"b" * size), SMALL)
    assert refusal(events) == status
    if status:
        assert events == events[-1:]  # the app never runs


@pytest.mark.parametrize(
    ("pieces", "status"),
    [
        ((b"12345", b"67890"), None),
        ((b"12345", b"678901"), 413),
        ((b"b" * 11,), 413),
        ((b"b" * 5000,), 413),
    ],
)
def test_chunked_body_limit_refuses_when_crossed(parse, pieces, status):
    events = parse(post_chunked(chunked(*pieces)), SMALL)
    assert refusal(events) == status
    if status:
        # What fits is handed over, however the bytes arrived.
        assert summary(events) == [("POST", b"/"), b"".join(pieces)[:10], 413]


def test_body_limit_zero_means_no_limit(parse):
    events = parse(post(b"b" * 5000), Limits(request_body=0))
    assert events[1] == b"b" * 5000


# -- Upgrade and CONNECT -------------------------------------------------------------


def test_upgrade_request_comes_out_then_the_parser_is_dead(parse):
    data = get("/chat", "Connection: Upgrade", "Upgrade: websocket")
    events = parse(data + b"\x81\x05hello" + get("/never"))
    assert summary(events) == [("GET", b"/chat"), "end"]
    assert not events[0].keep_alive


def test_upgrade_request_body_is_read_before_the_parser_dies(parse):
    data = post(b"abc", "Connection: Upgrade, HTTP2-Settings", "Upgrade: h2c")
    events = parse(data + b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
    assert summary(events) == [("POST", b"/"), b"abc", "end"]
    assert not events[0].keep_alive


def test_upgrade_request_chunked_body_is_read_with_its_trailers_ignored(parse):
    chunks = b"3;x=y\r\nabc\r\n2\r\nde\r\n0\r\nT: 1\r\n\r\n"
    data = post_chunked(chunks, "Connection: upgrade", "Upgrade: h2c")
    events = parse(data + get("/never"))
    assert summary(events) == [("POST", b"/"), b"abcde", "end"]


def test_upgrade_request_body_keeps_the_body_limit(parse):
    data = post_chunked(chunked(b"b" * 20), "Connection: upgrade", "Upgrade: h2c")
    assert summary(parse(data, SMALL)) == [("POST", b"/"), b"b" * 10, 413]


def test_upgrade_request_with_truncated_body_is_400_at_eof(parse):
    data = post(b"abcdef", "Connection: upgrade", "Upgrade: h2c")[:-2]
    assert summary(parse(data, eof=True)) == [("POST", b"/"), b"abcd", 400]


def test_an_upgrade_body_line_is_measured_from_its_own_start():
    """A long trailer line of an earlier request (still unfinished at the end
    of a read) is not counted into the chunk size line of an Upgrade
    request's body, when that request's head ends exactly at a read's end."""
    first = post_chunked(b"0\r\nX-T: " + b"a" * 8000)
    upgrade = post_chunked(b"", "Connection: upgrade", "Upgrade: h2c")
    events = run([first, b"\r\n\r\n" + upgrade, b"5;" + b"e" * 300])
    assert summary(events) == [("POST", b"/"), "end", ("POST", b"/")]


def test_connect_request_comes_out_then_the_parser_is_dead(parse):
    data = head("Host: example.com:443", request="CONNECT example.com:443")
    events = parse(data + b"\x16\x03\x01 tunnel bytes")
    assert summary(events) == [("CONNECT", b"example.com:443"), "end"]
    assert not events[0].keep_alive


def test_upgrade_header_without_connection_upgrade_is_ignored(parse):
    events = parse(get("/", "Upgrade: websocket") + get("/next"))
    assert summary(events) == [("GET", b"/"), "end", ("GET", b"/next"), "end"]
    assert events[0].keep_alive


# -- errors carry a short reason ------------------------------------------------------


def test_error_reason_is_short_and_does_not_echo_the_input(parse):
    (error,) = parse(head(H, "X: secret\x00" + "s" * 200))
    assert error.status == 400
    assert "secret" not in error.reason
    assert len(error.reason) < 120
    assert str(error) == f"400 {error.reason}"


# -- what RFC 9110 and 9112 allow, and llhttp refuses by default ------------------


@pytest.mark.parametrize("minor", ["2", "9"])
def test_later_http1_minor_versions_are_served_as_http11(parse, minor):
    (request, _, second, _) = parse(head(H, version=f"1.{minor}") + get("/next"))
    assert request.http_version == "1.1"  # RFC 9110 2.5
    assert request.keep_alive
    assert second.target == b"/next"


@pytest.mark.parametrize("extension", [b" ;a=b", b"\t;a=b", b"  ;a=b;c", b";a=b", b" "])
def test_whitespace_before_a_chunk_extension_is_accepted(parse, extension):
    # RFC 9112 7.1.1: chunk-ext = *( BWS ";" BWS ext-name [ BWS "=" BWS ext-val ] )
    chunks = b"5" + extension + b"\r\nhello\r\n0\r\n\r\n"
    events = parse(post_chunked(chunks) + get("/next"))
    assert summary(events) == [("POST", b"/"), b"hello", "end", ("GET", b"/next"), "end"]


def test_options_asterisk_is_accepted(parse):
    (request, _) = parse(head(H, request="OPTIONS *"))
    assert (request.method, request.target) == ("OPTIONS", b"*")


@pytest.mark.parametrize(
    "host",
    [
        "example.com",
        "example.com:8080",
        "127.0.0.1:80",
        "[::1]:8000",
        "[v1.fe80::a+en1]",
        "a_b-c.example",
        "xn--caf-dma.example",
        "caf%C3%A9.example",
        "example.com:",  # RFC 3986: port = *DIGIT
        "",  # RFC 9112 3.2: an empty authority gets an empty Host
    ],
)
def test_valid_hosts_are_accepted(parse, host):
    (request, _) = parse(head(f"Host: {host}"))
    assert request.headers == [(b"Host", host.encode())]


def test_hosts_found_valid_are_remembered_within_bounds(parse):
    """Valid Host values are remembered per process (a new connection skips
    the check), in a set that stays small whatever the clients send."""
    for number in range(200):
        (request, _) = parse(head(f"Host: host{number}.example"))
        assert request.headers == [(b"Host", f"host{number}.example".encode())]
        assert len(parser_module._valid_hosts) <= parser_module._VALID_HOSTS_KEPT
    long_host = "a" * 300 + ".example"
    (request, _) = parse(head(f"Host: {long_host}"))
    assert long_host.encode() not in parser_module._valid_hosts
    # What is remembered never lets an invalid host through.
    assert refusal(parse(head("Host: host199.example x"))) == 400


def test_a_content_length_just_under_2_63_is_accepted(parse):
    (request,) = parse(head(H, f"Content-Length: {2**63 - 1}"))
    assert request.content_length == 2**63 - 1


def test_connect_without_a_body_comes_out(parse):
    data = head("Host: a:443", "Content-Length: 0", request="CONNECT a:443")
    assert summary(parse(data)) == [("CONNECT", b"a:443"), "end"]


# -- the answer does not depend on how TCP split the bytes -----------------------

# (Limits of 40 bytes per field and 200 per head make every edge short enough to
# try every split point.)
EDGES = Limits(request_line=50, request_fields=10, request_field_size=40, request_head=200)


def padded_field(size: int, padding: int) -> str:
    """A field `size` bytes long by the field limit's measure (name, colon,
    value, CRLF less one: len(name) + len(value) + 2), with `padding`
    spaces after the colon, which the measure leaves out."""
    return "X:" + " " * padding + "v" * (size - 3)


def padded_head(size: int, padding: int) -> bytes:
    """A head `size` bytes long by the head limit's measure (without the
    spaces between the request line's words and after each colon), with
    `padding` spaces in each of those places."""
    pad = " " * padding
    lines = ["Host:" + pad + "x"]
    room = size - len("GET/HTTP/1.1\r\n") - len("Host:x\r\n") - len("\r\n")
    index = 0
    while room > 0:
        take = 25 if room >= 25 + 8 else room  # the last field takes the rest
        name = f"X{index}:"
        lines.append(name + pad + "v" * (take - len(name) - 2))
        room -= take
        index += 1
    return head(*lines, request="GET" + pad + "/")


REPRESENTATIVE = {
    "field-at-the-limit-with-padding": (head(H, padded_field(40, 30)), None),
    "field-over-the-limit-with-padding": (head(H, padded_field(41, 30)), 431),
    "field-at-the-limit-with-tabs": (head(H, padded_field(40, 0).replace(":", ":\t\t")), None),
    "head-at-the-limit-with-padding": (padded_head(200, 9), None),
    "head-over-the-limit-with-padding": (padded_head(201, 9), 431),
    "request-line-at-the-limit": (line_of(50), None),
    "request-line-over-the-limit": (line_of(51), 414),
    "chunk-extension-with-whitespace": (post_chunked(b"5 ;a=b\r\nhello\r\n0\r\n\r\n"), None),
    "http-1.2": (head(H, version="1.2"), None),
    "asterisk-get": (head(H, request="GET *"), 400),
    "invalid-host": (head("Host: exa mple.com"), 400),
    "huge-content-length": (head(H, f"Content-Length: {2**63}"), 400),
    "connect-with-body": (
        head("Host: a:1", "Content-Length: 1", request="CONNECT a:1") + b"x",
        400,
    ),
}


@pytest.mark.parametrize(("data", "status"), REPRESENTATIVE.values(), ids=REPRESENTATIVE.keys())
def test_a_request_split_at_any_position_gets_the_same_answer(data, status):
    whole = every_field(run([data + get("/next")], EDGES))
    assert refusal(run([data], EDGES)) == status
    for position in range(1, len(data)):
        pieces = [data[:position], data[position:] + get("/next")]
        assert every_field(run(pieces, EDGES)) == whole, f"split at {position}"
