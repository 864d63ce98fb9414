"""Test apps, each wrapped in wsgiref.validate.validator so every request in
the suite also checks Glade against PEP 3333."""

from __future__ import annotations

import contextvars
import json
import os
import sys
import time
from urllib.parse import parse_qs
from wsgiref.validate import validator

# `glade validated:NOT_CALLABLE` must fail with one clear line.
NOT_CALLABLE = 42
# Which process imported this module: the master with --preload (sync).
IMPORTED_BY = os.getpid()


def _respond(start_response, status, body, content_type="text/plain", extra=()):
    headers = [("Content-Type", content_type), ("Content-Length", str(len(body))), *extra]
    start_response(status, headers)
    return [body]


def _query(environ) -> dict:
    return {key: values[-1] for key, values in parse_qs(environ["QUERY_STRING"]).items()}


class _Closing:
    """A streamed result that writes a marker file when the server calls close().

    `pieces` pieces of `size` bytes, `delay` seconds apart; `fail_after`
    pieces in, it raises instead (an error after the head was sent).
    """

    def __init__(self, marker, pieces=3, size=16, delay=0.0, fail_after=-1):
        self.marker = marker
        self.pieces = pieces
        self.size = size
        self.delay = delay
        self.fail_after = fail_after

    def __iter__(self):
        for index in range(self.pieces):
            if index == self.fail_after:
                raise RuntimeError("the app failed in the middle of its response")
            if index and self.delay:
                time.sleep(self.delay)
            yield b"x" * self.size

    def close(self):
        if self.marker:
            with open(self.marker + ".tmp", "w") as handle:
                handle.write("closed")
            os.replace(self.marker + ".tmp", self.marker)  # appears whole, for a test polling it


def _read_all(stream, chunk=65536):
    parts = []
    while True:
        data = stream.read(chunk)
        if not data:
            return b"".join(parts)
        parts.append(data)


def _patched_modules() -> str:
    """Which of the modules an app relies on gevent has patched (none under sync)."""
    monkey = sys.modules.get("gevent.monkey")
    names = ("socket", "ssl", "select", "selectors", "time", "threading", "subprocess", "queue")
    patched = [name for name in names if monkey and monkey.is_module_patched(name)]
    import ssl

    if ssl.SSLContext.__module__.startswith("gevent"):
        patched.append("ssl.SSLContext")
    return ",".join(patched) or "none"


# /context answers what the last request set here and sets the query's
# value: each connection must start without what an earlier one set.
_CONTEXT = contextvars.ContextVar("test_context", default="unset")
# Set once, when the worker imports the app: the sync worker's requests see it.
_IMPORTED = contextvars.ContextVar("test_imported", default="unset")
_IMPORTED.set("set at import")


@validator
def app(environ, start_response):
    path = environ["PATH_INFO"]
    method = environ["REQUEST_METHOD"]
    if path == "/":
        return _respond(start_response, "200 OK", b"Hello, World!")
    if path == "/environ":
        keys = {
            key: value
            for key, value in environ.items()
            if isinstance(value, (str, int, bool, tuple)) and key != "wsgi.version"
        }
        keys["wsgi.version"] = list(environ["wsgi.version"])
        return _respond(
            start_response, "200 OK", json.dumps(keys).encode(), content_type="application/json"
        )
    if path == "/context-imported":
        return _respond(start_response, "200 OK", _IMPORTED.get().encode())
    if path == "/context":
        before = _CONTEXT.get()
        _CONTEXT.set(_query(environ).get("set", "unset"))
        return _respond(start_response, "200 OK", before.encode())
    if path == "/echo":
        body = _read_all(environ["wsgi.input"])
        return _respond(start_response, "200 OK", body, content_type="application/octet-stream")
    if path == "/count":
        # Stream the body and count it without keeping it: for big uploads.
        total = 0
        stream = environ["wsgi.input"]
        while True:
            data = stream.read(65536)
            if not data:
                break
            total += len(data)
        return _respond(start_response, "200 OK", str(total).encode())
    if path == "/lines":
        lines = []
        stream = environ["wsgi.input"]
        while True:
            line = stream.readline()
            if not line:
                break
            lines.append(line.decode("latin-1"))
        return _respond(start_response, "200 OK", json.dumps(lines).encode())
    if path == "/stream":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return (f"part {i}\n".encode() for i in range(5))
    if path == "/status":
        code = environ["QUERY_STRING"] or "200"
        status = {"204": "204 No Content", "304": "304 Not Modified"}.get(code, code + " Custom")
        start_response(status, [])
        return []
    if path == "/sleep":
        time.sleep(float(environ["QUERY_STRING"] or "1"))
        return _respond(start_response, "200 OK", b"slept")
    if path == "/error":
        raise RuntimeError("the app failed on purpose")
    if path == "/closing":
        query = _query(environ)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return _Closing(
            query.get("marker"),
            pieces=int(query.get("pieces", "3")),
            size=int(query.get("size", "16")),
            delay=float(query.get("delay", "0")),
            fail_after=int(query.get("fail_after", "-1")),
        )
    if path == "/short-body":
        # The app announces more than it sends: the client must not wait forever.
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "100")])
        return [b"only ten.."]
    if path == "/write":
        # The legacy write() callable, then a returned body.
        write = start_response("200 OK", [("Content-Type", "text/plain")])
        write(b"written, ")
        return [b"then returned"]
    if path == "/hop":
        # A hop-by-hop header is the server's to set: Glade drops the app's.
        name = environ["QUERY_STRING"] or "Upgrade"
        start_response("200 OK", [("Content-Type", "text/plain"), (name, "websocket")])
        return [b"sent without it"]
    if path == "/file":
        filename = os.path.join(os.path.dirname(__file__), "static.txt")
        handle = open(filename, "rb")  # noqa: SIM115 - the server closes it via close()
        size = os.path.getsize(filename)
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(size))])
        return environ["wsgi.file_wrapper"](handle, 8192)
    if path == "/osenv":
        return _respond(
            start_response, "200 OK", os.environ.get(environ["QUERY_STRING"], "").encode()
        )
    if path == "/pid":
        return _respond(start_response, "200 OK", str(os.getpid()).encode())
    if path == "/imported-by":
        return _respond(start_response, "200 OK", str(IMPORTED_BY).encode())
    if path == "/patched":
        return _respond(start_response, "200 OK", _patched_modules().encode())
    if method == "POST" and path == "/ignore-body":
        return _respond(start_response, "200 OK", b"ignored")
    return _respond(start_response, "404 Not Found", b"not found")


def create_app(greeting="Hello from a factory"):
    """`glade "validated:create_app()"`: the app a factory builds."""
    body = greeting.encode()

    @validator
    def factory_app(environ, start_response):
        return _respond(start_response, "200 OK", body)

    return factory_app
