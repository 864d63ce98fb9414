"""An app for the operations tests: known statuses, a slow route, and a
route that makes its worker's memory grow and stay."""

from __future__ import annotations

import os
import time

_HELD: list[bytearray] = []


def app(environ, start_response):
    path = environ["PATH_INFO"]
    query = environ["QUERY_STRING"]
    if path == "/status":
        status = f"{int(query or '200')} Status"
        return _text(start_response, status, b"status")
    if path == "/sleep":
        time.sleep(float(query or "1"))
        return _text(start_response, "200 OK", b"slept")
    if path == "/grow":
        # Held for good, and touched so that it is resident: the worker's RSS
        # stays above a limit until the worker is replaced.
        block = bytearray(int(query or "200") * 1024 * 1024)
        for offset in range(0, len(block), 4096):
            block[offset] = 1
        _HELD.append(block)
        return _text(start_response, "200 OK", b"grown")
    if path == "/pid":
        return _text(start_response, "200 OK", str(os.getpid()).encode())
    return _text(start_response, "200 OK", b"Hello, World!")


def _text(start_response, status: str, body: bytes):
    start_response(status, [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
