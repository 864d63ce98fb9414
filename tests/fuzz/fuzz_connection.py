"""Coverage-guided fuzzing of the request side of HTTPConnection (atheris).

A hostile client controls every byte and every read boundary; whatever it
sends, the connection must answer with an HTTPError or a request, never
with any other exception, never hand out a request after it refused one,
and every response it frames must be one an HTTP/1.1 client can read.
These are the invariants checked here. Each input is also read by h11,
with the differential check of tests/unit/http/test_differential_h11.py: a
difference must be one of its known ones, except that a refusal by Glade
of what h11 reads is only shown (stricter is safe; the table is the unit
test's to complete). `make fuzz` runs this target for a bounded time.

Input format, so that seeds stay readable: the first 8 bytes steer, the
rest is what the client sends.

    byte 0      bit 0: the client closes its side after its last byte
                bit 1: tight limits, so that small inputs reach every limit
    bytes 1-7   the lengths of the reads the bytes arrive in, used in turn
                (0: all the rest at once)

What the app does with each request (read its body or not, how it answers,
whether a drain starts) is drawn from a generator seeded with those 8
bytes, so a run is a pure function of its input.

GLADE_FUZZ_COLLECT=FOLDER keeps each kind of failure in FOLDER (the first
input, its traceback, and a count) and fuzzing goes on: for long runs.

Run it directly: `python tests/fuzz/fuzz_connection.py CORPUS_DIR SEED_DIR
-max_total_time=60`; a crash is written as `crash-<sha1>` (see
-artifact_prefix) and replays with `python tests/fuzz/fuzz_connection.py FILE`.
"""

from __future__ import annotations

import hashlib
import os
import random
import sys
import traceback
from pathlib import Path

import atheris
import h11

# Coverage guides the fuzzer through Python bytecode only, so glade.http runs
# from its source here (a compiled module gives no coverage); the compiled
# parser reads the corpus afterwards, against the source, in
# tests/unit/http/test_llhttp_binding.py (`make fuzz` does both).
os.environ["GLADE_NO_EXTENSIONS"] = "1"

from glade.http.connection import (
    CLOSED,
    END_OF_MESSAGE,
    NEED_DATA,
    TRANSITIONS,
    Body,
    HTTPConnection,
    Phase,
    Request,
)
from glade.http.errors import HTTPError
from glade.http.parser import Limits

# The differential check against h11, and its table of known differences.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit" / "http"))
import test_differential_h11 as differential

CONTROL = 8
TIGHT_LIMITS = Limits(request_line=64, request_fields=4, request_field_size=64, request_body=32)
# More loop turns than any input can need: each turn consumes a read, an
# event or a request, and inputs are at most a few KiB.
MAX_STEPS = 100_000


class Violation(AssertionError):
    """An invariant does not hold: a bug in glade.http (or in this target)."""


def check(condition: bool, message: str) -> None:
    if not condition:
        raise Violation(message)


class Client:
    """The hostile client: its bytes in reads of the sizes it chose."""

    def __init__(self, payload: bytes, sizes: bytes, closes: bool) -> None:
        self._payload = payload
        self._position = 0
        self._sizes = sizes
        self._turn = 0
        self._closes = closes
        self.closed = False

    def send_next(self, http: HTTPConnection) -> bool:
        """One more read for the connection; False when the client sends
        nothing more and keeps the connection open (the server would wait)."""
        if self._position < len(self._payload):
            size = self._sizes[self._turn % len(self._sizes)] or len(self._payload)
            self._turn += 1
            piece = self._payload[self._position : self._position + size]
            self._position += len(piece)
            http.receive_data(piece)
            return True
        if self._closes and not self.closed:
            self.closed = True
            http.receive_eof()
            return True
        return False


class Expected:
    """One response on the wire, as the client must read it."""

    __slots__ = ("body", "method", "status")

    def __init__(self, method: str, status: int, body: bytes | None) -> None:
        self.method = method
        self.status = status
        self.body = body  # None: cut short on purpose (the connection must end)


class Wire:
    """Everything the server sent, and what each response must read as."""

    def __init__(self) -> None:
        self.data: list[bytes] = []
        self.expected: list[Expected] = []

    def send(self, data: bytes) -> None:
        self.data.append(data)

    def check_readable(self, server_closed: bool) -> None:
        """An HTTP/1.1 client reads each response whole, in order, with the
        body the app gave, and nothing after a response that ends the
        connection."""
        client = h11.Connection(h11.CLIENT, max_incomplete_event_size=1 << 20)
        client.receive_data(b"".join(self.data))
        if server_closed:
            client.receive_data(b"")
        for number, expected in enumerate(self.expected):
            check(client.our_state is h11.IDLE, f"response {number}: sent after a close")
            # h11 would take a 2xx to CONNECT as the start of a tunnel; Glade
            # never opens one, so its framing is read as a GET's.
            method = "GET" if expected.method == "CONNECT" else expected.method
            client.send(h11.Request(method=method, target="/", headers=[("Host", "x")]))
            client.send(h11.EndOfMessage())
            body = b""
            while True:
                try:
                    event = client.next_event()
                except h11.RemoteProtocolError as error:
                    if expected.body is None:
                        check(number == len(self.expected) - 1, "a cut response did not end it")
                        return
                    raise Violation(f"response {number} unreadable: {error}") from None
                if isinstance(event, h11.InformationalResponse):
                    check(event.status_code == 100, f"interim {event.status_code}")
                elif isinstance(event, h11.Response):
                    check(event.status_code == expected.status, f"status {event.status_code}")
                elif isinstance(event, h11.Data):
                    body += event.data
                elif isinstance(event, h11.EndOfMessage):
                    break
                else:
                    raise Violation(f"response {number} incomplete: {event!r}")
            if expected.body is not None:
                check(body == expected.body, f"response {number}: body {body!r}")
            if client.our_state is h11.DONE and client.their_state is h11.DONE:
                client.start_next_cycle()
        try:
            event = client.next_event()
        except h11.RemoteProtocolError as error:
            raise Violation(f"bytes after the last response: {error}") from None
        check(event in (h11.ConnectionClosed(), h11.NEED_DATA), f"after the last: {event!r}")


def moved(before: Phase, after: Phase) -> None:
    check(before is after or after in TRANSITIONS[before], f"{before} -> {after}")


def read_body(
    http: HTTPConnection, request: Request, client: Client, wire: Wire, most: int, body=b""
):
    """Read up to `most` more pieces of the body (after `body`, read before)
    as the app's wsgi.input does. Returns (body so far, complete?), or the
    HTTPError the body raised."""
    pieces = 0
    while pieces < most:
        try:
            event = http.body_event()
        except HTTPError as error:
            return error
        if type(event) is Body:
            check(len(event.data) > 0, "an empty Body event")
            body += event.data
            pieces += 1
            if request.content_length is not None:
                check(len(body) <= request.content_length, "more body than Content-Length")
            continue
        if event is END_OF_MESSAGE:
            if request.content_length is not None:
                check(len(body) == request.content_length, "body shorter than Content-Length")
            return body, True
        check(event is NEED_DATA, f"body event {event!r}")
        wire.send(http.continue_response())
        if not client.send_next(http):
            return HTTPError(408, "request body not received in time")
    return body, False


def respond(http: HTTPConnection, request: Request, rng: random.Random, client: Client, wire: Wire):
    """Play one app: read some of the body, answer in one of the ways a WSGI
    app can, perhaps while a drain begins."""
    check(request.method.replace("-", "").isalpha(), f"method {request.method!r}")
    check(not (request.chunked and request.content_length is not None), "CL with chunked")
    check(request.has_body == (request.chunked or bool(request.content_length)), "has_body")
    method = request.method
    most = rng.choice((0, 1, 2, 1 << 30))
    read = read_body(http, request, client, wire, most) if request.has_body else (b"", True)
    if isinstance(read, HTTPError):
        check(400 <= read.status < 600, f"status {read.status}")
        status = read.status
        wire.send(http.fail_response(status, read.reason))
        wire.expected.append(Expected(method, status, None))
        return
    if rng.random() < 0.1:
        http.start_closing()
    status = rng.choice((200, 200, 200, 204, 304, 404))
    body = bytes(rng.randrange(256) for _ in range(rng.choice((0, 1, 10, 300))))
    expected_body = body if status not in (204, 304) and method != "HEAD" else b""
    shape = rng.choice(("whole", "whole-length", "stream", "stream-length", "short", "fail"))
    body_allowed = status not in (204, 304) and method != "HEAD"
    if shape == "whole":
        wire.send(b"".join(http.whole_response(status, lines(status), body, content_length=None)))
    elif shape == "whole-length":
        head = lines(status, len(body))
        wire.send(b"".join(http.whole_response(status, head, body, content_length=len(body))))
    elif shape in ("stream", "stream-length"):
        length = len(body) if shape == "stream-length" else None
        wire.send(http.response_head(status, lines(status, length), content_length=length))
        for start in range(0, len(body), 97):
            wire.send(http.response_body(body[start : start + 97]))
        wire.send(http.end_response())
    elif shape == "short":
        # An app that announces more than it sends: the client cannot find the
        # end, so the connection must end with this response.
        length = len(body) + 5
        wire.send(http.response_head(status, lines(status, length), content_length=length))
        wire.send(http.response_body(body))
        wire.send(http.end_response())
        if body_allowed:
            expected_body = None
            check(not http.keep_alive, "kept alive after a short body")
    else:
        wire.send(http.response_head(status, lines(status), content_length=None))
        wire.send(http.response_body(body[:5]))
        wire.send(http.fail_response(500))
        if body_allowed:
            expected_body = None
        check(not http.keep_alive, "kept alive after a failed response")
    wire.expected.append(Expected(method, status, expected_body))
    late = rng.random() < 0.2
    if late:
        read_body(http, request, client, wire, 3, read[0])  # late: from close() or a hook


def lines(status: int, content_length: int | None = None) -> list[bytes]:
    """The app's status line and headers, its Content-Length among them."""
    head = [b"HTTP/1.1 %d Whatever\r\n" % status, b"Content-Type: text/plain\r\n"]
    if content_length is not None:
        head.append(b"Content-Length: %d\r\n" % content_length)
    return head


def serve(data: bytes) -> None:
    if len(data) < CONTROL:
        return
    control, payload = data[:CONTROL], data[CONTROL:]
    rng = random.Random(control)
    http = HTTPConnection(TIGHT_LIMITS if control[0] & 2 else None)
    client = Client(payload, control[1:], closes=bool(control[0] & 1))
    wire = Wire()
    for _ in range(MAX_STEPS):
        before = http.phase
        try:
            event = http.next_event()
        except HTTPError as error:
            check(400 <= error.status < 600, f"status {error.status}")
            check(http.phase is Phase.CLOSING, f"{http.phase} after an error")
            refusal = http.refuse(error)
            if refusal:
                wire.send(refusal)
                wire.expected.append(Expected("GET", error.status, None))
            check(http.next_event() is CLOSED, "an event after a refused request")
            break
        moved(before, http.phase)
        if type(event) is Request:
            respond(http, event, rng, client, wire)
            check(http.phase in (Phase.IDLE, Phase.CLOSING), f"{http.phase} after a response")
            if not http.keep_alive:
                check(http.next_event() is CLOSED, "a request after Connection: close")
            continue
        if event is CLOSED:
            check(http.next_event() is CLOSED, "CLOSED is not final")
            break
        check(event is NEED_DATA, f"next_event() gave {event!r} between responses")
        check(not client.closed, "NEED_DATA after the client closed")
        if not client.send_next(http):
            break
    else:
        raise Violation("the connection never finished")
    wire.check_readable(server_closed=http.phase is Phase.CLOSING)
    http.close()
    if not control[0] & 2:  # h11 has no limits to compare with tight ones
        compare_with_h11(payload, differential.read_ends(control[1:], len(payload)))


UNEXPLAINED_SHOWN = 20
unexplained_refusals: set[bytes] = set()


def compare_with_h11(payload: bytes, cuts: list[int]) -> None:
    """The differential check. A difference missing from the table is a
    failure, except where Glade refuses what h11 reads: stricter is safe, so
    the run goes on, and the first few such inputs are shown for the table."""
    found = differential.compare(payload, cuts)
    if found is None or differential.explain(found):
        return
    if found.kind != differential.GLADE_REFUSES:
        differential.check_against_h11(payload, cuts)  # raises, with the details
    if len(unexplained_refusals) < UNEXPLAINED_SHOWN and payload not in unexplained_refusals:
        unexplained_refusals.add(payload)
        print(f"UNEXPLAINED REFUSAL ({found.glade_error}): {payload!r}", file=sys.stderr)


def collecting(target, folder: Path):
    """The target for a long unattended run: a failure is kept (its first
    input, its traceback and its count, by where it was raised) in `folder`
    instead of ending the run, so that one finding does not hide the next.
    Failures are told apart by where they were raised and the first line
    of their message."""
    folder.mkdir(parents=True, exist_ok=True)
    counts: dict[str, int] = {}

    def run(data: bytes) -> None:
        try:
            target(data)
        except Exception as error:  # kept in `folder`, and counted
            frame = traceback.extract_tb(error.__traceback__)[-1]
            what = str(error).partition("\n")[0][:60]
            where = f"{type(error).__name__} at {Path(frame.filename).name}:{frame.lineno}: {what}"
            counts[where] = counts.get(where, 0) + 1
            if counts[where] == 1:
                name = hashlib.sha1(data).hexdigest()
                (folder / f"finding-{name}").write_bytes(data)
                (folder / f"finding-{name}.txt").write_text(traceback.format_exc())
            summary = "".join(f"{count}\t{where}\n" for where, count in counts.items())
            (folder / "counts.txt").write_text(summary)

    return run


def main() -> None:
    # Every function loaded, glade.http's and h11's among them: glade.http
    # is imported through Glade's own module chooser (extensions.py), which
    # atheris' import hook does not see.
    atheris.instrument_all()
    target = serve
    if os.environ.get("GLADE_FUZZ_COLLECT"):
        target = collecting(serve, Path(os.environ["GLADE_FUZZ_COLLECT"]))
    atheris.Setup(sys.argv, target)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
