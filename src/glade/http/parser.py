"""Request parsing on llhttp, plus the rules llhttp leaves to us.

llhttp is driven through httptools, or, when this module is compiled,
through Glade's own binding of it with httptools' interface (llhttp.pyx):
the code below is the same for both.

llhttp is strict about framing (CL with TE, duplicate Content-Length,
obs-fold, bare CR or LF, invalid chunk sizes ...). It accepts a few things a
server must still refuse, which this module checks itself: HTTP/1.0 with
Transfer-Encoding, a missing or duplicated Host on HTTP/1.1, transfer
codings other than a lone final `chunked`, HTTP versions other than
1.0/1.1, expectations other than 100-continue, and the size limits (request
line, header count and size, lines that never end, body). It also skips the
body of an Upgrade request, which we read with a second parser: Glade never
upgrades, so the app gets the request whole.

Usage, the way h11 does it: ``feed()`` bytes, then call ``next_event()``
until it returns ``NEED_DATA``. One feed can complete several pipelined
requests; their events queue up and come out in order. A framing error is
queued after the events that preceded it, so valid requests before it are
still answered and nothing after it ever is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import httptools

from glade.http.errors import HTTPError
from glade.http.head_meter import HeadMeter, LineKind

try:
    import cython
except ImportError:  # Cython is needed to build Glade, not to run it
    _COMPILED = False
else:
    _COMPILED = cython.compiled


class _NeedData:
    __slots__ = ()

    def __repr__(self) -> str:
        return "NEED_DATA"


NEED_DATA = _NeedData()


class Request:
    """A request head. Header names keep the case the client sent."""

    __slots__ = (
        "chunked",
        "content_length",
        "expect_continue",
        "has_body",
        "headers",
        "http_version",
        "keep_alive",
        "method",
        "target",
        "upgrade",
    )

    def __init__(
        self,
        method: str,
        target: bytes,
        http_version: str,
        headers: list[tuple[bytes, bytes]],
        keep_alive: bool,
        expect_continue: bool,
        content_length: int | None,
        chunked: bool,
        upgrade: bool = False,
    ) -> None:
        self.method = method
        self.target = target
        self.http_version = http_version
        self.headers = headers
        self.keep_alive = keep_alive
        self.expect_continue = expect_continue
        self.content_length = content_length
        self.chunked = chunked
        self.has_body = chunked or bool(content_length)
        # `Connection: upgrade` with `Upgrade: ...` (a WebSocket handshake): the
        # app may take the connection's socket over (workers/connection.py).
        self.upgrade = upgrade

    def __repr__(self) -> str:
        return f"<Request {self.method} {self.target!r} HTTP/{self.http_version}>"


class Body:
    """A piece of a request body, in the order the client sent it."""

    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data

    def __repr__(self) -> str:
        return f"<Body {len(self.data)} bytes>"


class EndOfMessage:
    """The request body (possibly empty) is complete."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "EndOfMessage"


END_OF_MESSAGE = EndOfMessage()


@dataclass(frozen=True)
class Limits:
    """0 means no limit, as in gunicorn."""

    request_line: int = 4094
    request_fields: int = 100
    request_field_size: int = 8190
    request_head: int = 32768
    request_body: int = 0

    @property
    def head_bytes(self) -> int:
        """Largest request head, finished or not (see head_meter.py).

        Without a limit of its own, a bound from the other limits, so that a
        head cannot grow without end inside the parser when they are 0 too.
        """
        if self.request_head:
            return self.request_head
        line = self.request_line or 65536
        fields = self.request_fields or 32768
        field_size = self.request_field_size or 65536
        return min(line + fields * (field_size + 2) + 4, 16 * 1024 * 1024)

    @property
    def line_bytes(self) -> int:
        """Longest unfinished line of a body: a trailer, or a chunk size line.

        httptools grows a header it has not finished with `bytes +=`, so an
        endless line costs memory and quadratic CPU until it is refused. The
        slack allows a little optional whitespace around a value.
        """
        if self.request_line and self.request_field_size:
            return max(self.request_line, self.request_field_size) + 8
        return self.head_bytes


# Parser states, for the bookkeeping llhttp does not expose.
_IDLE, _HEAD, _BODY = range(3)

# Where a head that is still unfinished after a feed() starts in its bytes
# (see _check_head).
_HEAD_FROM_FEED_START = 0  # it started in an earlier feed
_HEAD_AFTER_EMPTY_LINES = 1  # it started in this feed, after any empty lines
_HEAD_UNPLACED = 2  # it started after another request in this feed: cannot be placed

# The made-up head _read_body_after_upgrade gives its second parser: its
# callbacks are not a request's (see _UPGRADE_HEAD).
_NO_UPGRADE, _UPGRADE_HEAD, _UPGRADE_BODY = range(3)

# Where the body line being received starts, as the last callback of a feed()
# left it (see _measure_line).
_LINE_CONTINUES = 0  # no callback in this feed: the line started in an earlier one
_LINE_AFTER_LF = 1  # the line starts after the feed's last LF (or at its first byte)
_NO_LINE = 2  # in body data, or at a position we cannot place: nothing to measure

_HOST = b"host"
_CONTENT_LENGTH = b"content-length"
_TRANSFER_ENCODING = b"transfer-encoding"
_EXPECT = b"expect"
_CHUNKED = b"chunked"
_CONTINUE = b"100-continue"
_OWS = b" \t"
_ASTERISK = b"*"
_MAX_CONTENT_LENGTH = 2**63 - 1
# Method names as str, decoded once: llhttp knows a few dozen methods.
_method_names: dict[bytes, str] = {}

# RFC 9112 3.2 and RFC 3986 3.2.2: uri-host [ ":" port ], where uri-host is an
# IP literal in brackets or a reg-name (IPv4 addresses are reg-names too).
_VALID_HOST = re.compile(
    rb"(?:\[[0-9A-Za-z._~:!$&'()*+,;=-]+\]|(?:[0-9A-Za-z._~!$&'()*+,;=-]|%[0-9A-Fa-f]{2})*)"
    rb"(?::[0-9]*)?"
).fullmatch
# Hosts found valid, shared by the process's connections: a new connection
# names a host seen before, as a rule, and the check costs more than the rest
# of a small head. Bounded in count and length, so a client cannot grow it.
_valid_hosts: set[bytes] = set()
_VALID_HOSTS_KEPT = 64
_VALID_HOST_KEPT_LENGTH = 255


class RequestParser:
    """Parses the requests of one connection. Sans-IO: bytes in, events out."""

    def __init__(self, limits: Limits | None = None) -> None:
        self.limits = limits = limits or Limits()
        # The limits read for every header, as plain attributes: Limits is a
        # frozen dataclass, and each read of its fields is a lookup by name.
        self._max_line = limits.request_line
        self._max_field = limits.request_field_size
        self._max_fields = limits.request_fields
        self._parser = _new_llhttp(self)
        # A list read from `_next_index`, not a deque: a deque allocates a
        # 64-slot block at once, about 600 bytes more for every open connection.
        self._events: list = []
        self._next_index = 0
        self._state = _IDLE
        self._dead = False
        self._meter: HeadMeter | None = None  # made for the first unfinished head
        self._head_limit = limits.head_bytes
        self._head_from = _HEAD_AFTER_EMPTY_LINES
        self._line_bytes = 0
        self._line_start = _LINE_CONTINUES
        self._completed_in_feed = False
        self._in_trailers = False
        self._callback_error: HTTPError | None = None
        self._upgrade_stage = _NO_UPGRADE
        self._reset_head()

    def _reset_head(self) -> None:
        self._url = b""
        self._headers: list[tuple[bytes, bytes]] = []
        self._host_count = 0
        self._host = b""
        self._fields_size = 0  # of the header lines, as head_meter.py measures them
        self._content_length: bytes | None = None
        self._transfer_encoding: list[bytes] = []
        self._expect: list[bytes] = []
        self._body_size = 0
        self._trailer_count = 0
        self._upgrade_body: Request | None = None

    def close(self) -> None:
        """Drop llhttp's parser: it and this object refer to each other, and
        freeing them by reference counting saves the cycle collector's time."""
        self._parser = None
        self._dead = True

    @property
    def in_message(self) -> bool:
        """True between the first byte of a request and its end.

        It stays True when the request never ends (an error or EOF in its
        middle), so the caller knows a half-received request is answered.
        """
        return self._state != _IDLE

    @property
    def has_events(self) -> bool:
        """Events are queued: parsed, not yet taken by next_event()."""
        return bool(self._events)

    @property
    def dead(self) -> bool:
        """After an error, an upgrade or EOF, no further request will come out."""
        return self._dead

    # -- public API ------------------------------------------------------

    def feed(self, data: bytes) -> None:
        """Feed bytes read from the client. Never raises: errors are queued."""
        if self._dead:
            return
        self._line_start = _LINE_CONTINUES
        self._completed_in_feed = False
        # A local holds llhttp's parser for as long as it runs, whatever a
        # callback does with `_parser`.
        parser = self._parser
        try:
            parser.feed_data(data)
        except httptools.HttpParserUpgrade as upgrade:
            # CONNECT or `Connection: upgrade`: the request itself was queued;
            # what follows its body is not HTTP/1.1, so nothing more comes out.
            if self._upgrade_body is not None:
                self._read_body_after_upgrade(self._upgrade_body, data[upgrade.args[0] :])
            else:
                self._dead = True
            return
        except httptools.HttpParserError as error:
            if not self._dead:  # not the end of an upgrade request's body
                callback_error, self._callback_error = self._callback_error, None
                self._fail(callback_error or _describe_parser_error(error, parser))
            return
        if self._state != _IDLE:
            self._check_incomplete(data)

    def feed_eof(self) -> None:
        """The client closed its side. A half-sent request is an error."""
        if self._dead:
            return
        if self.in_message:
            self._fail(HTTPError(400, "connection closed in the middle of a request"))
        else:
            self._dead = True

    def next_event(self):
        """Next event: Request, Body, END_OF_MESSAGE or NEED_DATA.

        Raises the queued HTTPError when the queue reaches it.
        """
        events = self._events
        if events:
            event = events[self._next_index]
            self._next_index += 1
            if self._next_index == len(events):
                events.clear()
                self._next_index = 0
            if type(event) is HTTPError:
                try:
                    raise event
                finally:
                    # The traceback holds this frame: without this, the frame
                    # and the error would keep each other (and through self,
                    # the whole connection) alive until a cycle collection.
                    del event
            return event
        return NEED_DATA

    # -- llhttp's callbacks (through httptools or llhttp.pyx) ----------------

    def on_message_begin(self) -> None:
        if self._upgrade_stage:
            return  # the made-up head of an Upgrade request's body
        self._state = _HEAD
        # The meter starts only if the head is still unfinished after this
        # feed (_check_head): most heads arrive whole and are never metered.
        self._head_from = _HEAD_UNPLACED if self._completed_in_feed else _HEAD_AFTER_EMPTY_LINES
        self._reset_head()

    def on_url(self, url: bytes) -> None:
        if self._upgrade_stage:
            return
        self._url += url
        limit = self._max_line
        if limit and len(self._url) > limit:
            self._raise(HTTPError(414, "request line too long"))

    def on_header(self, name: bytes, value: bytes) -> None:
        self._line_start = _LINE_AFTER_LF
        if self._state == _BODY:
            if self._upgrade_stage != _UPGRADE_HEAD:
                self._on_trailer(name, value)
            return
        size = len(name) + len(value) + 2  # as `Name:value` with its CRLF, less one
        max_field = self._max_field
        if max_field and size > max_field:
            self._raise(HTTPError(431, "request header field too large"))
        max_fields = self._max_fields
        headers = self._headers
        if max_fields and len(headers) >= max_fields:
            self._raise(HTTPError(431, "too many request header fields"))
        self._fields_size += size + 1  # head_meter.py's measure
        value = value.strip(_OWS)
        headers.append((name, value))
        if len(name) in (4, 6, 14, 17):
            lowered = name.lower()
            if lowered == _HOST:
                self._host_count += 1
                self._host = value
            elif lowered == _CONTENT_LENGTH:
                self._content_length = value
            elif lowered == _TRANSFER_ENCODING:
                self._transfer_encoding.append(value)
            elif lowered == _EXPECT:
                self._expect.append(value)

    def _on_trailer(self, name: bytes, value: bytes) -> None:
        """A trailer of a chunked body: bounded, then ignored."""
        max_field = self._max_field
        if max_field and len(name) + len(value) + 2 > max_field:
            self._raise(HTTPError(431, "request header field too large"))
        self._trailer_count += 1
        max_fields = self._max_fields
        if max_fields and self._trailer_count > max_fields:
            self._raise(HTTPError(431, "too many trailer fields"))

    def on_headers_complete(self) -> None:
        self._line_start = _LINE_AFTER_LF
        if self._upgrade_stage:
            return
        parser = self._parser
        version = parser.get_http_version()
        if version != "1.1" and version != "1.0":
            if version.startswith("1."):
                version = "1.1"  # RFC 9110 2.5: a later 1.x is read as the highest we know
            elif version == "0.9":
                # `GET /` with no version: HTTP/0.9 had no headers and no status line.
                self._raise(HTTPError(400, "request line without an HTTP/1.x version"))
            else:
                self._raise(HTTPError(505, "HTTP version not supported"))
        raw_method = parser.get_method()
        method = _method_names.get(raw_method)
        if method is None:
            method = _method_names[raw_method] = raw_method.decode("ascii")
        url = self._url
        max_line = self._max_line
        request_line_size = len(method) + len(url) + 10  # version and CRLF, no spaces
        if max_line and request_line_size > max_line:
            self._raise(HTTPError(414, "request line too long"))
        if request_line_size + self._fields_size + 2 > self._head_limit:
            self._raise(HTTPError(431, "request head too large"))
        if url == _ASTERISK and method != "OPTIONS":
            # RFC 9112 3.2.4: the asterisk-form is only for a server-wide OPTIONS.
            self._raise(HTTPError(400, "asterisk-form request target is only for OPTIONS"))
        if self._host_count:
            if self._host_count > 1:
                self._raise(HTTPError(400, "more than one Host header"))
            host = self._host
            if host not in _valid_hosts:
                if not _VALID_HOST(host):
                    self._raise(HTTPError(400, "invalid Host header"))
                if len(host) <= _VALID_HOST_KEPT_LENGTH:
                    if len(_valid_hosts) >= _VALID_HOSTS_KEPT:
                        _valid_hosts.clear()
                    _valid_hosts.add(host)
        elif version == "1.1":
            self._raise(HTTPError(400, "missing Host header"))
        chunked = False
        if self._transfer_encoding:
            if version == "1.0":
                self._raise(HTTPError(400, "Transfer-Encoding in an HTTP/1.0 request"))
            codings = b",".join(self._transfer_encoding).lower().split(b",")
            if codings[-1].strip(_OWS) != _CHUNKED:
                # RFC 9112 6.3: without a final chunked the body has no known end.
                self._raise(HTTPError(400, "Transfer-Encoding does not end with chunked"))
            if len(codings) > 1:
                self._raise(HTTPError(501, "unsupported transfer coding"))
            chunked = True
        content_length = None
        if self._content_length is not None:
            content_length = int(self._content_length)  # llhttp checked the digits
            if content_length > _MAX_CONTENT_LENGTH:
                # llhttp takes up to 2**64 - 1; other servers on the path may
                # read a length past a signed 64-bit integer differently.
                self._raise(HTTPError(400, "Content-Length too large"))
            body_limit = self.limits.request_body
            if body_limit and content_length > body_limit:
                self._raise(HTTPError(413, "request body too large"))
        expect_continue = False
        if self._expect:
            for expectation in b",".join(self._expect).split(b","):
                expectation = expectation.strip(_OWS).lower()
                if expectation == _CONTINUE:
                    # RFC 9110 10.1.1: ignored in an HTTP/1.0 request.
                    expect_continue = version == "1.1"
                elif expectation:
                    self._raise(HTTPError(417, "unsupported expectation"))
        upgrade = parser.should_upgrade()
        if method == "CONNECT" and (chunked or content_length):
            # RFC 9110 9.3.6: a CONNECT request has no content; what follows
            # its head would be the tunnel's, and Glade opens no tunnel.
            self._raise(HTTPError(400, "CONNECT request with a body"))
        request = Request(
            method,
            self._url,
            version,
            self._headers,
            parser.should_keep_alive() and not upgrade,
            expect_continue,
            content_length,
            chunked,
            upgrade and method != "CONNECT",
        )
        if upgrade and method != "CONNECT" and (chunked or content_length):
            # httptools skips the body of an Upgrade request; we do not upgrade,
            # so the app must still get the body (curl's h2c upgrade sends one).
            self._upgrade_body = request
        self._events.append(request)
        self._state = _BODY
        self._in_trailers = False

    def on_body(self, body: bytes) -> None:
        self._line_start = _NO_LINE
        self._in_trailers = False
        body_limit = self.limits.request_body
        if body_limit:
            size = self._body_size + len(body)
            if size > body_limit:
                # Hand over what fits, so the outcome does not depend on how the
                # bytes were split into reads.
                fits = body_limit - self._body_size
                if fits:
                    self._events.append(Body(body[:fits]))
                self._body_size = body_limit
                self._raise(HTTPError(413, "request body too large"))
            self._body_size = size
        self._events.append(Body(body))

    def on_chunk_header(self) -> None:
        # Either data follows (on_body clears this) or this was the last chunk.
        self._line_start = _LINE_AFTER_LF
        self._in_trailers = True

    def on_chunk_complete(self) -> None:
        self._line_start = _LINE_AFTER_LF
        self._in_trailers = False

    def on_message_complete(self) -> None:
        if self._upgrade_stage == _UPGRADE_BODY:
            self._events.append(END_OF_MESSAGE)
            self._state = _IDLE
            self._dead = True
            raise _StopParsing  # whatever follows is the other protocol's
        if self._upgrade_body is not None:
            return  # the body comes from _read_body_after_upgrade
        self._events.append(END_OF_MESSAGE)
        self._state = _IDLE
        self._line_start = _NO_LINE
        self._completed_in_feed = True

    # -- limits on what llhttp buffers -------------------------------------

    def _check_incomplete(self, data: bytes) -> None:
        """Refuse a head or line that grows past its limit before it completes."""
        if self._state == _HEAD:
            self._check_head(data)
            return
        line = self._measure_line(data)
        self._line_bytes = line
        if line > self.limits.line_bytes:
            if self._in_trailers:
                self._fail(HTTPError(431, "request trailer field too large"))
            else:
                self._fail(HTTPError(400, "chunk size line too long"))

    def _check_head(self, data: bytes) -> None:
        """Refuse an unfinished head that the finished one could not beat.

        The meter never counts more than the finished head will measure, and
        the limits here are those on_url, on_header and on_headers_complete
        apply to the finished head (give or take the CR of a line end): the
        answer is the same however the bytes were split.
        """
        meter = self._meter
        if meter is None:
            meter = self._meter = HeadMeter()
        start = self._head_from
        if start == _HEAD_FROM_FEED_START:
            meter.measure(data)
        elif start == _HEAD_AFTER_EMPTY_LINES:
            meter.start(LineKind.REQUEST_LINE)
            meter.measure(data.lstrip(b"\r\n"))  # llhttp skips them before a request line
        else:
            meter.start(LineKind.UNKNOWN)  # this feed's part of the head goes unmeasured
        self._head_from = _HEAD_FROM_FEED_START
        limits = self.limits
        kind = meter.kind
        if kind is LineKind.REQUEST_LINE:
            line_limit, status, reason = limits.request_line, 414, "request line too long"
        else:
            line_limit, status, reason = (
                limits.request_field_size,
                431,
                "request header field too large",
            )
            if kind is LineKind.UNKNOWN and line_limit:
                line_limit = limits.request_line and max(limits.request_line, line_limit)
        if line_limit and meter.line > line_limit + 1:
            self._fail(HTTPError(status, reason))
            return
        if meter.total > self._head_limit:
            self._fail(HTTPError(431, "request head too large"))

    def _measure_line(self, data: bytes) -> int:
        """Bytes of the line llhttp is in the middle of, after this feed.

        llhttp does not tell us where it is, so the callbacks of this feed
        leave a mark: every LF outside body data ends a line (bare LF is
        refused), so the line in progress is what follows the feed's last LF,
        unless the feed held body data after it. When a request completed
        earlier in this same feed the start cannot be placed; that feed is
        not counted, and the next one is.
        """
        start = self._line_start
        if start == _NO_LINE:
            return 0
        newline = data.rfind(b"\n")
        if newline >= 0:
            return len(data) - newline - 1
        if start == _LINE_AFTER_LF:
            return len(data)
        return self._line_bytes + len(data)

    # -- Upgrade requests with a body --------------------------------------

    def _read_body_after_upgrade(self, request: Request, rest: bytes) -> None:
        """Parse the body llhttp skipped with a second parser.

        It is given a head with the same framing, whose callbacks the
        callbacks above pass over (_UPGRADE_HEAD); then the body's reach
        them as any body's would, and its end is the end of what this
        connection parses (_UPGRADE_BODY).
        """
        if request.chunked:
            framing = b"Transfer-Encoding: chunked"
        else:
            framing = b"Content-Length: %d" % request.content_length
        self._upgrade_body = None
        self._line_bytes = 0  # an earlier request's line is not this body's
        parser = self._parser = _new_llhttp(self)
        self._upgrade_stage = _UPGRADE_HEAD
        parser.feed_data(b"POST / HTTP/1.1\r\nHost: upgrade\r\n" + framing + b"\r\n\r\n")
        self._upgrade_stage = _UPGRADE_BODY
        if rest:
            self.feed(rest)

    # -- errors ----------------------------------------------------------

    def _raise(self, error: HTTPError) -> None:
        """Stop llhttp from inside a callback; feed() queues the error."""
        self._callback_error = error
        raise error

    def _fail(self, error: HTTPError) -> None:
        # Raised in a callback, its traceback holds frames that hold self.
        error.__traceback__ = None
        self._events.append(error)
        self._dead = True


class _StopParsing(Exception):
    pass


if _COMPILED:
    # Compiled, the parser calls this module's callbacks as C functions
    # (llhttp.pyx); as pure Python, through httptools.
    from glade.http.llhttp import LLHTTPRequestParser as _LLHTTPParser
else:
    _LLHTTPParser = httptools.HttpRequestParser


def _new_llhttp(owner: RequestParser):
    """An llhttp parser, strict but for what RFC 9112 allows and llhttp
    refuses by default: whitespace before a chunk extension (`5 ;a=b`,
    7.1.1's BWS) and versions other than 1.0 and 1.1, which on_headers_complete
    answers itself (RFC 9110 2.5: HTTP/1.2 is read as 1.1)."""
    parser = _LLHTTPParser(owner)
    parser.set_dangerous_leniencies(lenient_spaces_after_chunk_size=True, lenient_version=True)
    return parser


def _describe_parser_error(error: Exception, parser) -> HTTPError:
    if isinstance(error, httptools.HttpParserInvalidURLError):
        return HTTPError(400, "invalid request target")
    if isinstance(error, httptools.HttpParserInvalidMethodError):
        return HTTPError(400, "invalid method")
    if parser.get_method() == b"PRI":
        # `PRI * HTTP/2.0`: the HTTP/2 connection preface of a prior-knowledge client.
        return HTTPError(505, "HTTP/2 is not supported on this port")
    reason = str(error) or type(error).__name__
    return HTTPError(400, "malformed request: " + reason.strip("`.").replace("`", "")[:80])
