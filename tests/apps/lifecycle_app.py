"""The app the lifecycle tests serve (wrapped in wsgiref's PEP 3333 validator)."""

from __future__ import annotations

import hashlib
import os
import time
from wsgiref.validate import validator


def _text(start_response, body: bytes, status: str = "200 OK"):
    start_response(status, [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


@validator
def app(environ, start_response):
    path = environ["PATH_INFO"]
    query = environ["QUERY_STRING"]
    if path == "/sleep":
        time.sleep(float(query or "1"))  # cooperative under the gevent worker
        return _text(start_response, b"slept")
    if path == "/stubborn":
        # Code that catches everything, GreenletExit too, and goes on waiting.
        try:
            time.sleep(float(query or "30"))
        except BaseException:
            time.sleep(float(query or "30"))
        return _text(start_response, b"slept twice")
    if path == "/spin":
        # Pure Python CPU work: blocks gevent's event loop until it ends.
        end = time.monotonic() + float(query or "60")
        while time.monotonic() < end:
            pass
        return _text(start_response, b"spun")
    if path == "/c-loop":
        # One long call into C that never returns to the interpreter, so no
        # Python signal handler can run until it ends: only SIGKILL stops it.
        hashlib.pbkdf2_hmac("sha256", b"password", b"salt", 200_000_000)
        return _text(start_response, b"derived")
    if path == "/crash":
        os._exit(13)
    if path == "/pid":
        return _text(start_response, str(os.getpid()).encode())
    if path == "/loop-turn":
        # Which worker, and which turn of its gevent event loop, serves this request.
        import gevent

        turn = gevent.get_hub().loop.iteration
        return _text(start_response, f"{os.getpid()} {turn}".encode())
    return _text(start_response, b"Hello, World!")
