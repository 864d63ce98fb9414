"""The one WSGI app every benchmarked server runs, so only the server differs.

One route per workload; each answers with a Content-Length so no server has to
fall back to chunked encoding or closing the connection to frame the body.
"""

import time

HELLO = b"Hello, World!"
BODY_64K = b"x" * 65536
READ_CHUNK = 65536


def _respond(start_response, body, status="200 OK"):
    """Send a fixed body with an explicit length (the same framing the ceiling uses)."""
    start_response(
        status,
        [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))],
    )
    return [body]


def _read_body(environ):
    """Read the whole request body by Content-Length, as a real upload handler would.

    PEP 3333 does not promise EOF past Content-Length, so never read beyond it.
    """
    remaining = int(environ.get("CONTENT_LENGTH") or 0)
    stream = environ["wsgi.input"]
    total = 0
    while remaining > 0:
        chunk = stream.read(min(READ_CHUNK, remaining))
        if not chunk:
            break
        total += len(chunk)
        remaining -= len(chunk)
    return total


def app(environ, start_response):
    """Route by path; time.sleep is cooperative under gevent workers (monkey-patched)."""
    path = environ.get("PATH_INFO", "")
    if path == "/plaintext":
        return _respond(start_response, HELLO)
    if path == "/64k":
        return _respond(start_response, BODY_64K)
    if path == "/sleep":
        time.sleep(0.05)
        return _respond(start_response, HELLO)
    if path == "/upload":
        return _respond(start_response, b"%d" % _read_body(environ))
    return _respond(start_response, b"not found", "404 Not Found")
