"""A small Flask app for tests/frameworks: forms, JSON, streaming, files.

Served by the tests as ``glade flaskapp:app`` from this directory. The
Django site in `djangosite/` answers the same URLs the same way, so one set
of tests covers both frameworks.
"""

from __future__ import annotations

import hashlib
import io
import time
from pathlib import Path

import common
from flask import Flask, Response, abort, jsonify, request, send_file, stream_with_context

STATIC = Path(__file__).resolve().parent / "static"

app = Flask(__name__)


@app.get("/hello")
def hello():
    return "Hello from Flask\n", {"Content-Type": "text/plain; charset=utf-8"}


@app.get("/greet/<name>")
def greet(name: str):
    """Non-ASCII in the path and the query, through PATH_INFO's latin-1 round trip."""
    return jsonify(name=name, title=request.args.get("title", ""), url=request.url)


@app.post("/form")
def form():
    """An urlencoded or multipart form; files are described, not echoed."""
    files = {}
    for field, upload in request.files.items():
        data = upload.read()
        files[field] = {
            "filename": upload.filename,
            "content_type": upload.mimetype,
            "size": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
        }
    return jsonify(fields=request.form.to_dict(flat=False), files=files)


@app.post("/api/echo")
def api_echo():
    data = request.get_json(silent=True)
    if data is None:
        return jsonify(error="expected a JSON body"), 400
    return jsonify(
        received=data,
        keys=sorted(data) if isinstance(data, dict) else [],
        content_length=request.content_length,
    )


@app.post("/api/size")
def api_size():
    """The whole body read at once: Werkzeug's get_data() calls wsgi.input.read()."""
    data = request.get_data()
    return jsonify(size=len(data), sha256=hashlib.sha256(data).hexdigest())


@app.get("/stream")
def stream():
    """`count` lines, `delay` seconds apart; each says when it was produced.

    `time.monotonic()` is system-wide on Linux, so the client can compare it
    with its own clock to see that it got the first line before the last
    one was produced.
    """
    count = request.args.get("count", 5, type=int)
    delay = request.args.get("delay", 0.0, type=float)

    def lines():
        for number in range(count):
            if number and delay:
                time.sleep(delay)
            # request is usable here thanks to stream_with_context
            yield f"{request.path} line {number} at {time.monotonic():.6f}\n"

    return Response(stream_with_context(lines()), mimetype="text/plain")


@app.get("/static/<name>")
def static_file(name: str):
    path = STATIC / name
    if not path.is_file() or path.parent != STATIC:
        abort(404)
    return send_file(path, mimetype="text/plain")


@app.get("/generated")
def generated():
    """A download made in memory: a BytesIO has no fileno(), so no sendfile."""
    return send_file(
        io.BytesIO(common.generated_bytes()),
        mimetype="text/csv",
        as_attachment=True,
        download_name="report.csv",
    )


@app.get("/big")
def big():
    """The large file, opened as a CountingFile: /reads tells how it was sent."""
    return send_file(
        common.CountingFile(common.big_file_path()),
        mimetype="application/octet-stream",
        download_name="big.bin",
    )


@app.get("/reads")
def reads():
    return jsonify(bytes_read=common.bytes_read())


@app.get("/cookies")
def cookies():
    response = jsonify(received=request.cookies)
    response.set_cookie("first", "1")
    response.set_cookie("second", "2", httponly=True)
    return response


# Every request but /big goes through wsgiref's PEP 3333 validator.
app.wsgi_app = common.validated(app.wsgi_app)
