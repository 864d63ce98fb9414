"""Test apps, each wrapped in wsgiref.validate.validator so every request in
the suite also checks Glade against PEP 3333."""

from __future__ import annotations

import json
import os
import time
from wsgiref.validate import validator


def _respond(start_response, status, body, content_type="text/plain", extra=()):
    headers = [("Content-Type", content_type), ("Content-Length", str(len(body))), *extra]
    start_response(status, headers)
    return [body]


def _read_all(stream, chunk=65536):
    parts = []
    while True:
        data = stream.read(chunk)
        if not data:
            return b"".join(parts)
        parts.append(data)


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
    if path == "/file":
        filename = os.path.join(os.path.dirname(__file__), "static.txt")
        handle = open(filename, "rb")  # noqa: SIM115 - the server closes it via close()
        size = os.path.getsize(filename)
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(size))])
        return environ["wsgi.file_wrapper"](handle, 8192)
    if path == "/pid":
        return _respond(start_response, "200 OK", str(os.getpid()).encode())
    if method == "POST" and path == "/ignore-body":
        return _respond(start_response, "200 OK", b"ignored")
    return _respond(start_response, "404 Not Found", b"not found")
