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

    # Members are compared by identity; hashing them the same way keeps the
    # table lookups of every request in C (Enum's own __hash__ is Python).
    __hash__ = object.__hash__


TRANSITIONS: dict[Phase, frozenset[Phase]] = {
    # A whole request in one read goes straight to RESPONDING.
    Phase.IDLE: frozenset({Phase.RECEIVING, Phase.RESPONDING, Phase.CLOSING}),
    Phase.RECEIVING: frozenset({Phase.RESPONDING, Phase.CLOSING}),
    # The end of a response: back to IDLE, or CLOSING when keep-alive is off.
    Phase.RESPONDING: frozenset({Phase.IDLE, Phase.CLOSING}),
    Phase.CLOSING: frozenset(),
}

# The members again, as module globals, for the code every request runs: on
# Python 3.11 EnumType has a __getattr__, which sends every read of
# `Phase.IDLE` through CPython's slow attribute hook (about 850 machine
# instructions; 3.12 dropped it); a global is one lookup.
_IDLE, _RECEIVING, _RESPONDING, _CLOSING = (
    Phase.IDLE,
    Phase.RECEIVING,
    Phase.RESPONDING,
    Phase.CLOSING,
)


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
        "_parser",
        "_received",
        "_request_done",
        "bytes_sent",
        "head_sent",
        "keep_alive",
        "phase",
        "receive_data",
        "request",
        "short_by",
        "status_code",
    )

    def __init__(self, limits: Limits | None = None, *, keep_alive: bool = True) -> None:
        self._parser = RequestParser(limits)
        # receive_data(bytes): what the client sent; its meaning comes out of
        # next_event(). Called for every read: the parser's own feed, without
        # a frame of ours around it.
        self.receive_data = self._parser.feed
        self.phase = _IDLE
        # May this connection serve another request after the current one?
        # Read it; only this object writes it.
        self.keep_alive = keep_alive
        self.request: Request | None = None  # the one being answered, or last answered
        self._request_done = True  # its END_OF_MESSAGE was seen
        self._received = 0  # body bytes of the current request handed out
        self._dropped = 0  # body bytes dropped after its response
        self._expects_continue = False
        # The response to the current request:
        self.status_code = 0
        self.head_sent = False
        self.bytes_sent = 0  # body bytes, without chunk framing
        # Bytes of its Content-Length a complete response went without: it
        # ended short, and the connection closes (the serving loop logs it).
        self.short_by = 0
        self._content_length: int | None = None
        self._chunked = False
        self._body_allowed = True

    def _move(self, phase: Phase) -> None:
        if phase not in TRANSITIONS[self.phase]:
            raise RuntimeError(f"connection: {self.phase.name} -> {phase.name} is not allowed")
        self.phase = phase

    # -- what the serving loop asks ------------------------------------------

    @property
    def client_may_send_more(self) -> bool:
        """Bytes of the client's are known to be on their way or unread: part
        of a request (or of its body) was received, or a pipelined request
        already came in.

        When so, closing must be a lingering close: closing a socket with
        unread data makes the kernel send a reset, which can destroy the
        response before the client reads it.
        """
        return self._parser.in_message or self._parser.has_events

    @property
    def client_may_pipeline(self) -> bool:
        """The server closes a connection its client wanted to keep: the
        client may have sent its next request already, which only the kernel
        can tell (bytes received, not read yet). A client that asked to
        close, or that closed, sends nothing more."""
        request = self.request
        return (
            self.phase is _CLOSING
            and request is not None
            and request.keep_alive
            and not self._parser.dead
        )

    @property
    def between_requests(self) -> bool:
        """After next_event() said NEED_DATA: nothing of a next request (nor
        of the last one's body) has arrived; the wait is an idle one."""
        return self.phase is _IDLE and self._request_done

    def start_closing(self) -> None:
        """No further request: a drain, or a worker about to retire.

        A response whose head is not out yet says `Connection: close`; a
        connection between requests has nothing more to do (the caller closes
        it once it has been quiet for a moment: see docs/http.md).
        """
        self.keep_alive = False

    # -- receiving -------------------------------------------------------------

    def receive_eof(self) -> None:
        self._parser.feed_eof()

    def next_event(self):
        """The next thing the client sent: Request, Body, END_OF_MESSAGE,
        or NEED_DATA, PAUSED, CLOSED. Raises HTTPError for a broken request."""
        phase = self.phase
        if phase is _CLOSING:
            return CLOSED
        if phase is _RESPONDING:
            if self._request_done:
                return PAUSED  # a pipelined request waits for this response
            return self.body_event()
        parser = self._parser
        while True:
            try:
                event = parser.next_event()
            except HTTPError:
                self.keep_alive = False
                self._move(_CLOSING)
                raise
            if type(event) is Request:
                # IDLE or RECEIVING -> RESPONDING, both in the table.
                self.phase = _RESPONDING
                self.request = event
                done = self._request_done = not event.has_body
                if done:
                    parser.next_event()  # a bodiless request's END_OF_MESSAGE
                self._received = 0
                self._dropped = 0
                self._expects_continue = event.expect_continue and not done
                if not event.keep_alive:
                    self.keep_alive = False
                self.status_code = 0
                self.head_sent = False
                self.bytes_sent = 0
                self.short_by = 0
                self._content_length = None
                self._chunked = False
                self._body_allowed = True
                return event
            if event is NEED_DATA:
                if parser.dead:
                    self._move(_CLOSING)
                    return CLOSED
                if phase is _IDLE and self._request_done and parser.in_message:
                    self._move(_RECEIVING)
                return NEED_DATA
            # The rest of a body the app left unread: dropped, within a bound.
            if event is END_OF_MESSAGE:
                self._request_done = True
            else:
                self._dropped += len(event.data)
                if self._dropped > SKIPPABLE_BODY:
                    self.keep_alive = False
                    self._move(_CLOSING)
                    return CLOSED

    def body_event(self):
        """The next piece of the body of the request being (or just) answered:
        Body, END_OF_MESSAGE, or NEED_DATA; never the next request.

        The app's reader calls this, also after the response (a result's
        close() or a hook may read the body late): those pieces are the app's,
        not dropped. Raises HTTPError for a broken body.
        """
        if self._request_done:
            return END_OF_MESSAGE
        event = self._parser_event()
        if type(event) is Body:
            self._received += len(event.data)
        elif event is END_OF_MESSAGE:
            self._request_done = True
        return event

    def _parser_event(self):
        """The parser's next event; a broken body ends keep-alive (the app
        still gets to answer: fail_response() closes after that)."""
        try:
            return self._parser.next_event()
        except HTTPError:
            self.keep_alive = False
            # Read late (after the response), the broken body ends the
            # connection, which may be closing already.
            if self.phase is _IDLE:
                self._move(_CLOSING)
            raise

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
        if self.phase is not _RESPONDING or request is None:
            raise RuntimeError("a response head without a request to answer")
        if self.head_sent:
            raise RuntimeError("a second response head for one request")
        http11 = request.http_version == "1.1"
        if close:
            self.keep_alive = False
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
                self.keep_alive = False  # the end of the body is the close
        self._content_length = content_length
        if self.keep_alive and not self._request_done and not self._body_skippable():
            self.keep_alive = False
        if not self.keep_alive:
            lines.append(b"Connection: close\r\n")
        elif not http11:
            lines.append(b"Connection: keep-alive\r\n")
        lines.append(b"\r\n")
        self.head_sent = True
        self._expects_continue = False
        return b"".join(lines)

    def whole_response(
        self,
        status_code: int,
        lines: list[bytes],
        body: bytes,
        content_length: int | None,
        close: bool = False,
    ) -> tuple[bytes, bytes]:
        """A response whose body is known whole (the common `return [body]`):
        its head and framed body, and the response is complete. The same as
        response_head(), response_body() and end_response(), in one call."""
        size = len(body)
        head = self.response_head(
            status_code, lines, content_length=content_length, known_length=size, close=close
        )
        if not self._body_allowed:
            body = b""
        elif content_length is not None and content_length != size:
            if size > content_length:
                body = body[:content_length]  # more than the app announced
            else:
                self.keep_alive = False  # the client would wait for bytes that never come
                self.short_by = content_length - size
        self.bytes_sent = len(body)
        # RESPONDING -> IDLE or CLOSING (response_head checked the phase).
        self.phase = _IDLE if self.keep_alive else _CLOSING
        return head, body

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
                self.keep_alive = False
                self.short_by = self._content_length - self.bytes_sent
        self._finish()
        return end

    def fail_response(self, status: int, reason: str = "") -> bytes:
        """The request failed (the app raised, its body was refused, ...):
        an error response if no head went out yet, else nothing, since
        closing is the only signal left mid-body. The connection closes."""
        self.keep_alive = False
        data = b""
        if not self.head_sent:
            # A HEAD response has no content (RFC 9110 9.3.2), an error's neither.
            head_only = self.request is not None and self.request.method == "HEAD"
            data = error_response(status, reason, head_only=head_only)
            self.status_code = status
            self.head_sent = True
        self._finish()
        return data

    def abandon(self) -> None:
        """The client went away (or stopped reading): nothing more is sent,
        and the connection closes. The status stays what was sent, if any."""
        self.keep_alive = False
        self._finish()

    def _finish(self) -> None:
        if self.phase is _RESPONDING:
            self._move(_IDLE if self.keep_alive else _CLOSING)
        elif self.phase is not _CLOSING:
            # A failure after the response was complete (its last send):
            # the connection ends all the same.
            self._move(_CLOSING)

    def refuse(self, error: HTTPError) -> bytes:
        """The answer to a request that broke the rules; the connection closes.

        b"" when the error is in the rest of a body whose request was already
        answered: no request waits for this answer, and the client would
        read it as the answer to its next one.
        """
        self.keep_alive = False
        if self.phase is not _CLOSING:
            self._move(_CLOSING)
        if not self._request_done:
            return b""
        self.status_code = error.status
        return error_response(error.status, error.reason)

    def close(self) -> None:
        """Free the parser now (it and llhttp's object refer to each other)."""
        self._parser.close()
        if self.phase is not _CLOSING:
            self.phase = _CLOSING
