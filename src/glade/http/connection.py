"""One server-side HTTP/1.1 connection, sans-IO, both directions.

Everything that decides what goes over the wire lives here: request
framing and limits (through RequestParser), response framing
(Content-Length, chunked, close-delimited, and no body for HEAD, 1xx, 204
and 304), 100-continue, and the keep-alive decision. The serving loop in
workers/ only moves bytes, waits and keeps deadlines; it asks this object
what to send and whether the connection lives on, and never keeps flags of
its own about either.

The connection is always in one Phase, and every move is in TRANSITIONS:

    IDLE        between requests: nothing of the next request has arrived
    RECEIVING   part of a request head has arrived
    RESPONDING  a request was handed out; its response is not finished
    CLOSING     no further request will be read: after a response that said
                `Connection: close`, a refused request, or the client's EOF

`keep_alive` is the one answer to "may this connection serve another
request?". It turns False, for good, when the client asks to close, when
the server does (`keep_alive=False` at creation, or `start_closing()` for a
drain), when the app's response says `Connection: close` or has no length
on HTTP/1.0, when a body ends short of its Content-Length, and when too
much of a request body is left unread to skip. A response framed after it
turned False says `Connection: close`; the phase after that response is
CLOSING.

No socket, no clock: time and I/O are the caller's (see workers/serving.py).
"""

from __future__ import annotations

import enum

from glade.http.errors import HTTPError
from glade.http.parser import END_OF_MESSAGE, NEED_DATA, Body, Limits, Request, RequestParser
from glade.http.response import CONTINUE_RESPONSE, LAST_CHUNK, chunk, error_response

# After a response, the part of its request body the app left unread is read
# and dropped, up to this many bytes, so the connection can be reused; a larger
# rest costs a reconnect instead.
SKIPPABLE_BODY = 256 * 1024


class Phase(enum.Enum):
    IDLE = "idle"
    RECEIVING = "receiving"
    RESPONDING = "responding"
    CLOSING = "closing"


TRANSITIONS: dict[Phase, frozenset[Phase]] = {
    Phase.IDLE: frozenset({Phase.RECEIVING, Phase.RESPONDING, Phase.CLOSING}),
    Phase.RECEIVING: frozenset({Phase.RESPONDING, Phase.CLOSING}),
    # The end of a response: back to IDLE, or CLOSING when keep-alive is off.
    Phase.RESPONDING: frozenset({Phase.IDLE, Phase.CLOSING}),
    Phase.CLOSING: frozenset(),
}


class _Signal:
    __slots__ = ("_name",)

    def __init__(self, name: str) -> None:
        self._name = name

    def __repr__(self) -> str:
        return self._name


# next_event() results besides Request, Body and END_OF_MESSAGE.
PAUSED = _Signal("PAUSED")  # the next request waits until this response is finished
CLOSED = _Signal("CLOSED")  # the connection is over: close it

__all__ = [
    "CLOSED",
    "END_OF_MESSAGE",
    "NEED_DATA",
    "PAUSED",
    "Body",
    "HTTPConnection",
    "Phase",
    "Request",
]


class HTTPConnection:
    """The server's side of one HTTP/1.1 connection.

    Receiving: `receive_data()`, `receive_eof()`, then `next_event()` until
    it says NEED_DATA (read more), PAUSED (finish the response first) or
    CLOSED. A broken request raises HTTPError from `next_event()`; its answer
    is `refuse()`.

    Sending, one response per request: `response_head()` once, then
    `response_body()` for each piece, then `end_response()`; each returns the
    bytes to send. `fail_response()` replaces whatever is left of it.
    """

    __slots__ = (
        "_body_allowed",
        "_chunked",
        "_content_length",
        "_dropped",
        "_expects_continue",
        "_keep_alive",
        "_parser",
        "_received",
        "_request_done",
        "bytes_sent",
        "head_sent",
        "phase",
        "request",
        "requests",
        "status_code",
    )

    def __init__(self, limits: Limits | None = None, *, keep_alive: bool = True) -> None:
        self._parser = RequestParser(limits)
        self.phase = Phase.IDLE
        self._keep_alive = keep_alive
        self.request: Request | None = None  # the one being answered, or last answered
        self.requests = 0  # requests handed out so far
        self._request_done = True  # its END_OF_MESSAGE was seen
        self._received = 0  # body bytes of the current request handed out
        self._dropped = 0  # body bytes dropped after its response
        self._expects_continue = False
        self._reset_response()

    def _reset_response(self) -> None:
        self.status_code = 0
        self.head_sent = False
        self.bytes_sent = 0  # body bytes, without chunk framing
        self._content_length: int | None = None
        self._chunked = False
        self._body_allowed = True

    def _move(self, phase: Phase) -> None:
        if phase not in TRANSITIONS[self.phase]:
            raise RuntimeError(f"connection: {self.phase.name} -> {phase.name} is not allowed")
        self.phase = phase

    # -- what the serving loop asks ------------------------------------------

    @property
    def keep_alive(self) -> bool:
        """May this connection serve another request after the current one?"""
        return self._keep_alive

    @property
    def client_may_send_more(self) -> bool:
        """The client may have sent, or be sending, bytes not read yet.

        When so, closing must be a lingering close: closing a socket with
        unread data makes the kernel send a reset, which can destroy the
        response before the client reads it. True when part of a request was
        received (or its body not all read), and when the client asked for
        keep-alive but the server closed after a response: it may have
        pipelined the next request. Not for a connection closed between
        requests: its client sent nothing (the caller checks the kernel).
        """
        if self._parser.in_message or self._parser.has_events:
            return True
        request = self.request
        return (
            self.phase is Phase.CLOSING
            and request is not None
            and request.keep_alive
            and not self._parser.dead
        )

    @property
    def between_requests(self) -> bool:
        """IDLE, with nothing of a next request (nor of the last one's body) pending."""
        return (
            self.phase is Phase.IDLE
            and self._request_done
            and not self._parser.in_message
            and not self._parser.has_events
        )

    def start_closing(self) -> None:
        """No further request: a drain, or a worker about to retire.

        A response whose head is not out yet says `Connection: close`; a
        connection between requests has nothing more to do (the caller closes
        it once it has been quiet for a moment: see docs/http.md).
        """
        self._keep_alive = False

    # -- receiving -------------------------------------------------------------

    def receive_data(self, data: bytes) -> None:
        self._parser.feed(data)
        if self.phase is Phase.IDLE and self._parser.in_message and self._request_done:
            self._move(Phase.RECEIVING)

    def receive_eof(self) -> None:
        self._parser.feed_eof()

    def next_event(self):
        """The next thing the client sent: Request, Body, END_OF_MESSAGE,
        or NEED_DATA, PAUSED, CLOSED. Raises HTTPError for a broken request."""
        phase = self.phase
        if phase is Phase.CLOSING:
            return CLOSED
        if phase is Phase.RESPONDING:
            if self._request_done:
                return PAUSED  # a pipelined request waits for this response
            event = self._parser_event()
            if type(event) is Body:
                self._received += len(event.data)
            elif event is END_OF_MESSAGE:
                self._request_done = True
            return event
        while True:
            event = self._parser_event()
            if type(event) is Request:
                return self._hand_out(event)
            if event is NEED_DATA:
                if self._parser.dead:
                    self._move(Phase.CLOSING)
                    return CLOSED
                if self._request_done and self._parser.in_message and phase is Phase.IDLE:
                    self._move(Phase.RECEIVING)
                return NEED_DATA
            # The rest of a body the app left unread: dropped, within a bound.
            if event is END_OF_MESSAGE:
                self._request_done = True
            else:
                self._dropped += len(event.data)
                if self._dropped > SKIPPABLE_BODY:
                    self._keep_alive = False
                    self._move(Phase.CLOSING)
                    return CLOSED

    def _parser_event(self):
        try:
            return self._parser.next_event()
        except HTTPError:
            self._keep_alive = False
            if self.phase is not Phase.CLOSING and self.phase is not Phase.RESPONDING:
                self._move(Phase.CLOSING)
            raise

    def _hand_out(self, request: Request) -> Request:
        if self.phase is Phase.IDLE:
            self._move(Phase.RECEIVING)
        self._move(Phase.RESPONDING)
        self.request = request
        self.requests += 1
        self._request_done = not request.has_body
        if self._request_done:
            self._skip_end_of_message()
        self._received = 0
        self._dropped = 0
        self._expects_continue = request.expect_continue and not self._request_done
        if not request.keep_alive:
            self._keep_alive = False
        self._reset_response()
        return request

    def _skip_end_of_message(self) -> None:
        """A request without a body: its END_OF_MESSAGE comes right after it."""
        event = self._parser.next_event()
        if event is not END_OF_MESSAGE:  # pragma: no cover - llhttp guarantees it
            raise RuntimeError(f"expected the end of a bodiless request, got {event!r}")

    def continue_response(self) -> bytes:
        """`100 Continue` when the app first asks for a body the client holds
        back for it (`Expect: 100-continue`), once; b"" otherwise."""
        if self._expects_continue:
            self._expects_continue = False
            if not self.head_sent:
                return CONTINUE_RESPONSE
        return b""

    # -- sending ---------------------------------------------------------------

    def response_head(
        self,
        status_code: int,
        lines: list[bytes],
        *,
        content_length: int | None,
        known_length: int | None = None,
        close: bool = False,
    ) -> bytes:
        """The response head: the status line and header lines the app gave
        (already checked and encoded, no framing headers among them) plus
        the framing headers this connection decides.

        `content_length` is the app's own; `known_length` the length the
        server knows the body will have (a list result); `close` is the
        app's `Connection: close`.
        """
        request = self.request
        if self.phase is not Phase.RESPONDING or request is None:
            raise RuntimeError("a response head without a request to answer")
        if self.head_sent:
            raise RuntimeError("a second response head for one request")
        http11 = request.http_version == "1.1"
        if close:
            self._keep_alive = False
        self.status_code = status_code
        self._body_allowed = not (
            request.method == "HEAD" or status_code < 200 or status_code in (204, 304)
        )
        if content_length is None and self._body_allowed:
            if known_length is not None:
                content_length = known_length
                lines.append(b"Content-Length: %d\r\n" % known_length)
            elif http11:
                self._chunked = True
                lines.append(b"Transfer-Encoding: chunked\r\n")
            else:
                self._keep_alive = False  # the end of the body is the close
        self._content_length = content_length
        if self._keep_alive and not self._request_done and not self._body_skippable():
            self._keep_alive = False
        if not self._keep_alive:
            lines.append(b"Connection: close\r\n")
        elif not http11:
            lines.append(b"Connection: keep-alive\r\n")
        lines.append(b"\r\n")
        self.head_sent = True
        self._expects_continue = False
        return b"".join(lines)

    def _body_skippable(self) -> bool:
        """Can the part of the request body the app has not read (yet) be
        read and dropped after the response, so that the connection is reused?"""
        request = self.request
        if self._expects_continue:
            return False  # the client holds the body back: it never comes
        if request.content_length is not None:
            return request.content_length - self._received <= SKIPPABLE_BODY
        return True  # chunked: its size is known once it has been dropped

    def response_body(self, data: bytes) -> bytes:
        """One piece of the body, framed; never more than the announced length."""
        if not self._body_allowed or not data:
            return b""
        limit = self._content_length
        if limit is not None and len(data) > limit - self.bytes_sent:
            data = data[: limit - self.bytes_sent]  # more than the app announced
        self.bytes_sent += len(data)
        if self._chunked and data:
            return chunk(data)
        return data

    def file_body(self, size: int) -> int:
        """How many bytes of a file of `size` bytes the body takes, when the
        caller sends them itself (sendfile); counted as sent."""
        if not self._body_allowed:
            return 0
        count = size
        if self._content_length is not None:
            count = min(size, self._content_length - self.bytes_sent)
        self.bytes_sent += count
        return count

    def end_response(self) -> bytes:
        """The response is complete: the bytes that end its body (if any),
        and the move to IDLE or CLOSING."""
        end = b""
        if self._body_allowed:
            if self._chunked:
                end = LAST_CHUNK
            elif self._content_length is not None and self.bytes_sent < self._content_length:
                # The client still waits for bytes that will never come.
                self._keep_alive = False
        self._finish()
        return end

    def fail_response(self, status: int, reason: str = "") -> bytes:
        """The request failed (the app raised, its body was refused, ...):
        an error response if no head went out yet, else nothing, since
        closing is the only signal left mid-body. The connection closes."""
        self._keep_alive = False
        data = b""
        if not self.head_sent:
            data = error_response(status, reason)
            self.status_code = status
            self.head_sent = True
        self._finish()
        return data

    def _finish(self) -> None:
        if self.phase is Phase.RESPONDING:
            self._move(Phase.IDLE if self._keep_alive else Phase.CLOSING)
        elif self.phase is not Phase.CLOSING:
            # A failure after the response was complete (its last send):
            # the connection ends all the same.
            self._move(Phase.CLOSING)

    def refuse(self, error: HTTPError) -> bytes:
        """The answer to a request that broke the rules; the connection closes."""
        self._keep_alive = False
        self.status_code = error.status
        if self.phase is not Phase.CLOSING:
            self._move(Phase.CLOSING)
        return error_response(error.status, error.reason)

    def close(self) -> None:
        """Free the parser now (it and llhttp's object refer to each other)."""
        self._parser.close()
        if self.phase is not Phase.CLOSING:
            self.phase = Phase.CLOSING
