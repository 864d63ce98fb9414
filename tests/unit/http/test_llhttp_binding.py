"""The compiled parser's llhttp binding against httptools, side by side.

Compiled, RequestParser drives llhttp through Glade's own binding
(src/glade/http/llhttp.pyx); as pure Python, through httptools. The same
bytes, split the same way, go to both, each under the same limits, and
everything a caller can see must be equal after every read: the events
(each request's fields, each body piece, the end of each message, the error
and its reason) and the parser's `in_message` and `dead`. The bytes are the
h11 differential test's grammar of valid requests and its broken ones, its
smuggling shapes, requests that reach each size limit, and the fuzzing
corpus (tests/fuzz/seeds, and the corpus `make fuzz` grew).

Runs when the extensions are built (`make` builds them) and httptools
vendors the same llhttp as Glade: the pure-Python RequestParser is loaded
from its source beside the compiled one.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import httptools
import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_differential_h11 import (
    FOUND_BY_FUZZING,
    FUZZ_SETTINGS,
    SMUGGLING,
    broken_stream,
    read_ends,
    split,
    valid_request,
)

import glade.http.parser as compiled
from glade import extensions
from glade.http.errors import HTTPError

# The httptools release that vendors the llhttp in vendor/llhttp (its README):
# with another llhttp, some inputs are refused with other words or at other
# places, which says nothing about the binding.
HTTPTOOLS_WITH_OUR_LLHTTP = "0.9.0"

pytestmark = [
    pytest.mark.skipif(
        not extensions.in_use(), reason="the extensions are not built here (make builds them)"
    ),
    pytest.mark.skipif(
        httptools.__version__ != HTTPTOOLS_WITH_OUR_LLHTTP,
        reason=f"httptools {httptools.__version__} vendors another llhttp than Glade's",
    ),
]


def _load_pure_parser():
    """parser.py from its source, as a module of its own (it uses httptools)."""
    source = Path(compiled.__file__).with_name("parser.py")
    spec = importlib.util.spec_from_file_location("glade_pure_parser", source)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


pure = _load_pure_parser() if extensions.in_use() else None

# Default limits, and small ones that requests of the grammar reach.
LIMITS = [
    {},
    {"request_line": 40, "request_fields": 3, "request_field_size": 24, "request_body": 20},
    {"request_head": 90, "request_fields": 0, "request_line": 0},
]


def _event(event) -> tuple:
    if isinstance(event, HTTPError):
        return ("error", event.status, event.reason)
    name = type(event).__name__
    if name == "Request":
        return (
            name,
            event.method,
            event.target,
            event.http_version,
            tuple(event.headers),
            event.keep_alive,
            event.expect_continue,
            event.content_length,
            event.chunked,
            event.has_body,
            event.upgrade,
        )
    if name == "Body":
        return (name, event.data)
    return (repr(event),)


def reads(module, pieces: list[bytes], limits: dict) -> list[tuple]:
    """What a caller sees: after each read and after EOF, the events queued
    and the parser's state."""
    parser = module.RequestParser(module.Limits(**limits))
    seen: list[tuple] = []
    for piece in [*pieces, None]:
        if piece is None:
            parser.feed_eof()
        else:
            parser.feed(piece)
        while True:
            try:
                event = parser.next_event()
            except HTTPError as error:
                event = error
            if event is module.NEED_DATA:
                break
            seen.append(_event(event))
        seen.append(("state", parser.in_message, parser.dead))
    parser.close()
    return seen


def check_alike(data: bytes, cuts: list[int]) -> None:
    pieces = split(data, cuts)
    for limits in LIMITS:
        ours = reads(compiled, pieces, limits)
        theirs = reads(pure, pieces, limits)
        assert ours == theirs, (
            f"the binding and httptools part on {data!r} split at {cuts}, limits {limits}:\n"
            f"  binding   {ours}\n  httptools {theirs}"
        )


# -- what RequestParser is told: the callbacks, one by one ----------------------

CALLBACKS = (
    "on_message_begin",
    "on_url",
    "on_header",
    "on_headers_complete",
    "on_body",
    "on_chunk_header",
    "on_chunk_complete",
    "on_message_complete",
)


def _recording(base: type) -> type:
    """An owner that logs every callback and raises `error` at call `fail_at`."""

    class Recording(base):
        def __init__(self, fail_at: int | None, error: type[BaseException]) -> None:
            if base is not object:
                super().__init__()
            self.log: list[tuple] = []
            self.calls = 0
            self.fail_at = fail_at
            self.error = error

    def callback(name: str):
        def record(self, *args) -> None:
            self.calls += 1
            self.log.append((name, *(bytes(arg) for arg in args)))
            if self.calls == self.fail_at:
                raise self.error(name)

        return record

    for name in CALLBACKS:
        setattr(Recording, name, callback(name))
    return Recording


# The binding's owner must be a RequestParser (its callbacks are C calls into
# one); a subclass's Python methods are called through them all the same.
RecordingRequestParser = _recording(compiled.RequestParser)
RecordingOwner = _recording(object)
AS_BUFFER = {"bytes": bytes, "bytearray": bytearray, "memoryview": memoryview}


def callbacks(new_parser, owner_class, pieces, kinds, fail_at, error) -> tuple:
    """The callbacks, and after each feed its outcome and the parser's answers."""
    owner = owner_class(fail_at, error)
    parser = new_parser(owner)
    parser.set_dangerous_leniencies(lenient_version=True, lenient_spaces_after_chunk_size=True)
    outcomes: list = []
    for piece, kind in zip(pieces, kinds, strict=True):
        try:
            parser.feed_data(AS_BUFFER[kind](piece))
            outcomes.append("fed")
        except httptools.HttpParserUpgrade as upgrade:
            outcomes.append(("upgrade", upgrade.args))
        except httptools.HttpParserError as failure:
            context = failure.__context__
            outcomes.append((type(failure).__name__, failure.args, repr(context)))
        outcomes.append(
            (
                parser.get_method(),
                parser.get_http_version(),
                parser.should_keep_alive(),
                parser.should_upgrade(),
            )
        )
    return owner.log, outcomes


@given(
    broken_stream(),
    st.lists(st.integers(0, 10_000)),
    st.lists(st.sampled_from(sorted(AS_BUFFER)), min_size=1),
    st.none() | st.integers(1, 40),
    st.sampled_from([ValueError, KeyboardInterrupt]),
)
@FUZZ_SETTINGS
def test_the_binding_calls_back_as_httptools_does(data, cuts, kinds, fail_at, error):
    """Below RequestParser: the same callbacks with the same bytes at the
    same moments, the same exceptions (what a callback raised chained to
    them), the same answers to the parser's queries; from bytes, bytearray
    and memoryview alike."""
    pieces = [*split(data, cuts), b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"]
    kinds = [kinds[index % len(kinds)] for index in range(len(pieces))]
    ours = callbacks(compiled._LLHTTPParser, RecordingRequestParser, pieces, kinds, fail_at, error)
    theirs = callbacks(httptools.HttpRequestParser, RecordingOwner, pieces, kinds, fail_at, error)
    assert ours == theirs


def test_the_compiled_parser_uses_the_binding_and_the_source_httptools():
    assert compiled._LLHTTPParser.__module__ == "glade.http.llhttp"
    assert pure._LLHTTPParser is httptools.HttpRequestParser


@given(st.lists(valid_request(), min_size=1, max_size=3), st.lists(st.integers(0, 10_000)))
@FUZZ_SETTINGS
def test_valid_requests_read_alike(requests, cuts):
    check_alike(b"".join(request.encode() for request in requests), cuts)


@given(broken_stream(), st.lists(st.integers(0, 10_000)))
@FUZZ_SETTINGS
def test_broken_requests_read_alike(data, cuts):
    check_alike(data, cuts)


UPGRADES = [
    # An Upgrade request's body, read by the second parser, then nothing more.
    b"POST / HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\nUpgrade: h2c\r\n"
    b"Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nX-Trailer: t\r\n\r\n"
    b"GET / HTTP/1.1\r\n\r\n",
    b"POST / HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\nUpgrade: h2c\r\n"
    b"Content-Length: 30\r\n\r\n" + b"x" * 30 + b"PRI * HTTP/2.0\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n\x81\x05hello",
    b"CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n\x16\x03\x01",
    # A trailer too many or too large, past the limits above.
    b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n"
    b"A: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\nE: 012345678901234567890123456789\r\n\r\n",
    # Methods and versions llhttp reports, and the HTTP/2 preface.
    b"M-SEARCH * HTTP/1.1\r\nHost: a\r\n\r\nQUERY / HTTP/1.1\r\nHost: a\r\n\r\n",
    b"GET / HTTP/1.9\r\nHost: a\r\n\r\nGET / HTTP/2.0\r\nHost: a\r\n\r\n",
    b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
]


@pytest.mark.parametrize("data", SMUGGLING + FOUND_BY_FUZZING + UPGRADES)
def test_smuggling_shapes_upgrades_and_limits_read_alike(data):
    for step in (1, 2, 7, len(data)):
        check_alike(data, list(range(step, len(data), step)))


def test_an_upgrade_body_is_read_then_nothing_more():
    """The shape the binding and httptools share, on its own: the body llhttp
    skips is handed out whole, its trailers bounded, and the parser is done."""
    events = reads(compiled, [UPGRADES[0]], {})
    assert [event[0] for event in events] == [
        "Request",
        "Body",
        "EndOfMessage",
        "state",
        "state",
    ]
    assert events[1] == ("Body", b"abc")
    assert events[-1] == ("state", False, True)


FUZZ = Path(__file__).resolve().parents[2] / "fuzz"


def test_the_fuzzing_corpus_reads_alike():
    """The fuzzer's seeds and findings (it runs the source: coverage is
    Python's), read by the compiled parser too. GLADE_FUZZ_CORPUS names a
    grown corpus."""
    folders = [FUZZ / "seeds", FUZZ / "crashes"]
    if os.environ.get("GLADE_FUZZ_CORPUS"):
        folders.append(Path(os.environ["GLADE_FUZZ_CORPUS"]))
    inputs = sorted(
        path
        for folder in folders
        for path in folder.iterdir()
        if path.is_file() and not path.suffix  # not the findings' README.md
    )
    assert len(inputs) >= 10, inputs
    for path in inputs:
        data = path.read_bytes()
        payload = data[8:]
        check_alike(payload, read_ends(data[1:8] or b"\0", len(payload)))
