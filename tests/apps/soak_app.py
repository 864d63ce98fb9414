"""The app of the soak test: bodies a client can check, an echo of uploads
by length and hash, and a way to ask a worker how many greenlets and Python
memory blocks it holds.

Response bodies are built once at import and reused, so that the app's own
allocations do not blur what the soak measures: the server's memory.
"""

from __future__ import annotations

import gc
import hashlib
import os
import sys
import time

# Every GET body is this cycle of bytes cut to the asked size (the soak's
# clients check the body against the same rule).
PATTERN = bytes(range(256))
PIECE = PATTERN * 256  # 64 KiB
BODY_SIZES = (13, 1024, 65536, 262144, 1048576, 4194304)
BODIES = {size: (PIECE * (size // len(PIECE) + 1))[:size] for size in BODY_SIZES}
READ_SIZE = 65536


def _size(environ) -> int:
    return int(environ["QUERY_STRING"] or "13")


def _text(start_response, body: bytes):
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


def count_greenlets() -> int:
    """Live greenlets in this process. Garbage is collected first: a cycle
    that still waits for the collector is not a leak."""
    import greenlet

    gc.collect()
    return sum(isinstance(obj, greenlet.greenlet) for obj in gc.get_objects())


def app(environ, start_response):
    path = environ["PATH_INFO"]
    if path == "/bytes":
        # One bytes item with a Content-Length; only the sizes built above.
        body = BODIES[_size(environ)]
        start_response(
            "200 OK",
            [("Content-Type", "application/octet-stream"), ("Content-Length", str(len(body)))],
        )
        return [body]
    if path == "/stream":
        # A generator without a length: the server sends it chunked, one
        # send per piece, so a client can leave in the middle of it.
        size = _size(environ)
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return _pieces(size)
    if path == "/echo":
        # Read the body as it streams in; answer its length and SHA-256.
        digest = hashlib.sha256()
        length = 0
        wsgi_input = environ["wsgi.input"]
        while data := wsgi_input.read(READ_SIZE):
            digest.update(data)
            length += len(data)
        return _text(start_response, f"{length} {digest.hexdigest()}".encode())
    if path == "/slow":
        time.sleep(float(environ["QUERY_STRING"] or "0.2"))  # cooperative in the gevent worker
        return _text(start_response, b"slept")
    if path == "/greenlets":
        # The blocks tell a leak of Python objects from the allocator keeping
        # pages: they come back to their level when the objects are freed.
        greenlets = count_greenlets()
        answer = f"{os.getpid()} {greenlets} {sys.getallocatedblocks()}"
        return _text(start_response, answer.encode())
    return _text(start_response, b"Hello, World!")


def _pieces(size: int):
    whole, rest = divmod(size, len(PIECE))
    for _ in range(whole):
        yield PIECE
    if rest:
        yield PIECE[:rest]
