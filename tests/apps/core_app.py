"""The app of the connection-core tests: large bodies, a response that
asks to close the connection, and CPU work that never yields. Plain WSGI,
no validator: the shapes of the result (one bytes item, a generator) are
what the tests are about."""

from __future__ import annotations

import time

PIECE = 64 * 1024
CLOSE_BODY = b"c" * (32 * 1024)


def _size(environ) -> int:
    return int(environ["QUERY_STRING"] or "1048576")


def app(environ, start_response):
    path = environ["PATH_INFO"]
    if path == "/big":
        # One bytes item: the whole body goes to the socket in one call.
        size = _size(environ)
        start_response(
            "200 OK", [("Content-Type", "application/octet-stream"), ("Content-Length", str(size))]
        )
        return [b"x" * size]
    if path == "/big-generator":
        size = _size(environ)
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return (b"y" * min(PIECE, size - offset) for offset in range(0, size, PIECE))
    if path == "/close":
        # The app ends the connection after this response (after a pause, so
        # that a request pipelined behind it arrives while it runs).
        time.sleep(float(environ["QUERY_STRING"] or "0"))
        start_response(
            "200 OK",
            [
                ("Content-Type", "text/plain"),
                ("Content-Length", str(len(CLOSE_BODY))),
                ("Connection", "close"),
            ],
        )
        return [CLOSE_BODY]
    if path == "/cpu":
        # CPU work that never yields (a template, a serializer), for as long
        # as the query says.
        until = time.perf_counter() + float(environ["QUERY_STRING"])
        while time.perf_counter() < until:
            pass
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
        return [b"ok"]
    body = b"Hello, World!"
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
