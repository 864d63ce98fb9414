"""Request parsing on httptools (llhttp), plus the rules llhttp leaves to us.

llhttp is strict about framing (CL with TE, duplicate Content-Length,
obs-fold, bare LF, invalid chunk sizes ...). It accepts a few things a
server must still refuse, which this module checks itself: HTTP/1.0 with
Transfer-Encoding, a missing or duplicated Host on HTTP/1.1, transfer
codings other than a lone `chunked`, HTTP versions other than 1.0/1.1, and
the size limits (request line, header count and size, body).

Usage, the way h11 does it: ``feed()`` bytes, then call ``next_event()``
until it returns ``NEED_DATA``. One feed can complete several pipelined
requests; their events queue up and come out in order. A framing error is
queued after the events that preceded it, so valid requests before it are
still answered and nothing after it ever is.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import httptools

from glade.http.errors import HTTPError


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
        "headers",
        "http_version",
        "keep_alive",
        "method",
        "target",
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
    ) -> None:
        self.method = method
        self.target = target
        self.http_version = http_version
        self.headers = headers
        self.keep_alive = keep_alive
        self.expect_continue = expect_continue
        self.content_length = content_length
        self.chunked = chunked

    @property
    def has_body(self) -> bool:
        return self.chunked or bool(self.content_length)

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
    request_body: int = 0

    @property
    def head_bytes(self) -> int:
        """Most bytes a head may take while it is still incomplete.

        llhttp hands a header to us only once it is complete; this bound keeps
        one endless header from growing without limit inside the parser.
        """
        line = self.request_line or 65536
        fields = self.request_fields or 32768
        field_size = self.request_field_size or 65536
        return min(line + fields * (field_size + 2) + 4, 16 * 1024 * 1024)


# Parser states, for the bookkeeping llhttp does not expose.
_IDLE, _HEAD, _BODY, _DEAD = range(4)

_HOST = b"host"
_CONTENT_LENGTH = b"content-length"
_TRANSFER_ENCODING = b"transfer-encoding"
_EXPECT = b"expect"
_OWS = b" \t"


class RequestParser:
    """Parses the requests of one connection. Sans-IO: bytes in, events out."""

    def __init__(self, limits: Limits | None = None) -> None:
        self.limits = limits or Limits()
        self._parser = httptools.HttpRequestParser(self)
        self._events: deque = deque()
        self._state = _IDLE
        self._head_bytes = 0
        self._callback_error: HTTPError | None = None
        self._reset_head()

    def _reset_head(self) -> None:
        self._url = b""
        self._headers: list[tuple[bytes, bytes]] = []
        self._host_count = 0
        self._content_length: bytes | None = None
        self._transfer_encoding: list[bytes] = []
        self._expect = b""
        self._body_size = 0
        self._trailer_count = 0

    @property
    def in_message(self) -> bool:
        """True between the first byte of a request and its end."""
        return self._state in (_HEAD, _BODY)

    @property
    def dead(self) -> bool:
        """After an error or an upgrade, no further request will come out."""
        return self._state == _DEAD

    # -- public API ------------------------------------------------------

    def feed(self, data: bytes) -> None:
        """Feed bytes read from the client. Never raises: errors are queued."""
        if self._state == _DEAD:
            return
        counting_head = self._state != _BODY
        if counting_head:
            self._head_bytes += len(data)
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            # CONNECT or `Upgrade:`: the request itself was queued; what
            # follows is not HTTP/1.1, so this connection ends after it.
            self._state = _DEAD
        except httptools.HttpParserError as error:
            self._fail(self._callback_error or _describe_parser_error(error))
            return
        if self._state == _HEAD and self._head_bytes > self.limits.head_bytes:
            self._fail(HTTPError(431, "request header fields too large"))

    def feed_eof(self) -> None:
        """The client closed its side. A half-sent request is an error."""
        if self.in_message:
            self._fail(HTTPError(400, "connection closed in the middle of a request"))
        elif self._state != _DEAD:
            self._state = _DEAD

    def next_event(self):
        """Next event: Request, Body, END_OF_MESSAGE or NEED_DATA.

        Raises the queued HTTPError when the queue reaches it.
        """
        if self._events:
            event = self._events.popleft()
            if type(event) is HTTPError:
                raise event
            return event
        return NEED_DATA

    # -- httptools callbacks ---------------------------------------------

    def on_message_begin(self) -> None:
        self._state = _HEAD
        self._head_bytes = 0
        self._reset_head()

    def on_url(self, url: bytes) -> None:
        self._url += url
        limit = self.limits.request_line
        if limit and len(self._url) > limit:
            self._raise(HTTPError(414, "request line too long"))

    def on_header(self, name: bytes, value: bytes) -> None:
        limits = self.limits
        if limits.request_field_size and len(name) + len(value) + 2 > limits.request_field_size:
            self._raise(HTTPError(431, "request header field too large"))
        if self._state == _BODY:
            # A trailer of a chunked body: bounded, then ignored.
            self._trailer_count += 1
            if limits.request_fields and self._trailer_count > limits.request_fields:
                self._raise(HTTPError(431, "too many trailer fields"))
            return
        headers = self._headers
        if limits.request_fields and len(headers) >= limits.request_fields:
            self._raise(HTTPError(431, "too many request header fields"))
        value = value.strip(_OWS)
        headers.append((name, value))
        if len(name) in (4, 6, 14, 17):
            lowered = name.lower()
            if lowered == _HOST:
                self._host_count += 1
            elif lowered == _CONTENT_LENGTH:
                self._content_length = value
            elif lowered == _TRANSFER_ENCODING:
                self._transfer_encoding.append(value)
            elif lowered == _EXPECT:
                self._expect = value

    def on_headers_complete(self) -> None:
        parser = self._parser
        version = parser.get_http_version()
        if version != "1.1" and version != "1.0":
            self._raise(HTTPError(505, "HTTP version not supported"))
        method = parser.get_method().decode("ascii")
        limit = self.limits.request_line
        if limit and len(method) + len(self._url) + 10 > limit:
            self._raise(HTTPError(414, "request line too long"))
        if self._host_count > 1:
            self._raise(HTTPError(400, "more than one Host header"))
        if version == "1.1" and not self._host_count:
            self._raise(HTTPError(400, "missing Host header"))
        chunked = False
        if self._transfer_encoding:
            if version == "1.0":
                self._raise(HTTPError(400, "Transfer-Encoding in an HTTP/1.0 request"))
            codings = b",".join(self._transfer_encoding).lower().split(b",")
            if [coding.strip(_OWS) for coding in codings] != [b"chunked"]:
                self._raise(HTTPError(501, "unsupported transfer coding"))
            chunked = True
        content_length = None
        if self._content_length is not None:
            content_length = int(self._content_length)  # llhttp checked the digits
            body_limit = self.limits.request_body
            if body_limit and content_length > body_limit:
                self._raise(HTTPError(413, "request body too large"))
        expect_continue = False
        if self._expect:
            if self._expect.lower() != b"100-continue":
                self._raise(HTTPError(417, "unsupported expectation"))
            expect_continue = version == "1.1"
        keep_alive = parser.should_keep_alive() and not parser.should_upgrade()
        self._events.append(
            Request(
                method,
                self._url,
                version,
                self._headers,
                keep_alive,
                expect_continue,
                content_length,
                chunked,
            )
        )
        self._state = _BODY

    def on_body(self, body: bytes) -> None:
        body_limit = self.limits.request_body
        if body_limit:
            self._body_size += len(body)
            if self._body_size > body_limit:
                self._raise(HTTPError(413, "request body too large"))
        self._events.append(Body(body))

    def on_message_complete(self) -> None:
        self._events.append(END_OF_MESSAGE)
        self._state = _IDLE
        self._head_bytes = 0

    # -- errors ----------------------------------------------------------

    def _raise(self, error: HTTPError) -> None:
        """Stop llhttp from inside a callback; feed() queues the error."""
        self._callback_error = error
        raise error

    def _fail(self, error: HTTPError) -> None:
        self._events.append(error)
        self._state = _DEAD


def _describe_parser_error(error: Exception) -> HTTPError:
    if isinstance(error, httptools.HttpParserInvalidURLError):
        return HTTPError(400, "invalid request target")
    if isinstance(error, httptools.HttpParserInvalidMethodError):
        return HTTPError(400, "invalid method")
    reason = str(error) or type(error).__name__
    return HTTPError(400, "malformed request: " + reason.strip("`.").replace("`", "")[:80])
