"""Workload F: the smallest real Flask app, one "hello" route, served as flask_app:app.

What a request costs here beyond bench/app.py's /plaintext is Flask's own: routing,
the request and app contexts, the Response object, the signals it sends.
"""

from flask import Flask

app = Flask(__name__)


@app.get("/hello")
def hello():
    return "Hello, World!"
