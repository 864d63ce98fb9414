"""Requests that take long, for --request-timeout: each one's cleanup writes
a marker file, so a test can see that the app's `finally` ran.

- `/sleep?seconds=S&marker=PATH`: sleeps in `slow_work`, then answers;
- `/swallow?seconds=S&marker=PATH`: the same inside `except Exception`;
- `/stream?pieces=N&delay=S&marker=PATH`: a chunked response, one piece
  every S seconds, from the generator `slow_pieces`;
- `/spin?seconds=S&marker=PATH`: pure CPU for S seconds in `spin`, never
  yielding to gevent;
- `/pid`: the worker's process id.
"""

from __future__ import annotations

import os
import time
from urllib.parse import parse_qs
from wsgiref.validate import validator


def _query(environ) -> dict:
    return {key: values[-1] for key, values in parse_qs(environ["QUERY_STRING"]).items()}


def _mark(marker: str | None, text: str) -> None:
    if marker:
        with open(marker + ".tmp", "w") as handle:
            handle.write(text)
        os.replace(marker + ".tmp", marker)  # appears whole, for a test polling it


def _respond(start_response, body: bytes):
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


def slow_work(seconds: float, marker: str | None) -> bytes:
    try:
        time.sleep(seconds)
        return b"done"
    finally:
        _mark(marker, "finally ran")


def slow_pieces(pieces: int, delay: float, marker: str | None):
    try:
        for index in range(pieces):
            if index:
                time.sleep(delay)
            yield f"piece {index}\n".encode()
    finally:
        _mark(marker, "finally ran")


def spin(seconds: float, marker: str | None) -> bytes:
    try:
        until = time.monotonic() + seconds
        while time.monotonic() < until:
            pass
        return b"spun"
    finally:
        _mark(marker, "finally ran")


@validator
def app(environ, start_response):
    path = environ["PATH_INFO"]
    query = _query(environ)
    seconds = float(query.get("seconds", "1"))
    marker = query.get("marker")
    if path == "/sleep":
        return _respond(start_response, slow_work(seconds, marker))
    if path == "/swallow":
        try:
            body = slow_work(seconds, marker)
        except Exception:  # what many apps do; it must not keep the request alive
            body = b"swallowed"
        return _respond(start_response, body)
    if path == "/stream":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return slow_pieces(int(query.get("pieces", "3")), float(query.get("delay", "0")), marker)
    if path == "/spin":
        return _respond(start_response, spin(seconds, marker))
    if path == "/pid":
        return _respond(start_response, str(os.getpid()).encode())
    return _respond(start_response, b"Hello, World!")
