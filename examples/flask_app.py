"""A small Flask app served by Glade: a form, a JSON API, a stream and a file.

    pip install flask
    glade --chdir examples flask_app:app              # gevent worker (the default)
    glade --chdir examples -k sync flask_app:app      # the sync worker

Then open http://127.0.0.1:8000/ (see examples/README.md for curl commands).
"""

from __future__ import annotations

import hashlib
import time

from flask import Flask, Response, jsonify, request, send_file, stream_with_context

app = Flask(__name__)

INDEX = """<!doctype html>
<title>Glade + Flask</title>
<h1>Glade + Flask</h1>
<form method="post" action="/form">
  <input name="name" value="Zoë"> <button>POST urlencoded</button>
</form>
<form method="post" action="/form" enctype="multipart/form-data">
  <input name="name" value="Zoë"> <input type="file" name="upload">
  <button>POST multipart</button>
</form>
<ul>
  <li><a href="/stream">/stream</a>: lines sent as they are produced
  <li><a href="/source">/source</a>: this app's source, sent with wsgi.file_wrapper
</ul>
"""


@app.get("/")
def index():
    return INDEX


@app.post("/form")
def form():
    """An urlencoded or multipart form: echo the fields, describe the files."""
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
    """POST JSON in, JSON out."""
    data = request.get_json(silent=True)
    if data is None:
        return jsonify(error="expected a JSON body"), 400
    return jsonify(received=data, server=request.environ.get("SERVER_SOFTWARE"))


@app.get("/stream")
def stream():
    """Each line goes out as it is made: chunked on HTTP/1.1."""
    count = request.args.get("count", 5, type=int)

    def lines():
        for number in range(count):
            if number:
                time.sleep(0.2)  # under the gevent worker this yields to other requests
            yield f"line {number} of {count} for {request.remote_addr}\n"

    return Response(stream_with_context(lines()), mimetype="text/plain")


@app.get("/source")
def source():
    """send_file hands the open file to wsgi.file_wrapper; Glade calls socket.sendfile."""
    return send_file(__file__, mimetype="text/plain")
