"""Answers with where each module of Glade's hot path was loaded from, one
`name path` line each: an extension (.so) or its source (.py)."""

from __future__ import annotations

import sys

from glade.extensions import COMPILED


def app(environ, start_response):
    lines = [f"{name} {sys.modules[name].__file__}\n" for name in COMPILED if name in sys.modules]
    body = "".join(lines).encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
