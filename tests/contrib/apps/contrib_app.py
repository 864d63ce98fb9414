"""The app the gunicorn tests serve.

/              Hello, World!
/slow?s=1.5    answers after sleeping (a cooperative sleep under gevent)
/spin?s=3      answers after a busy loop that never yields (a stuck worker)
/pid           the worker's pid
/scheme        wsgi.url_scheme
/error         raises: a 500, and the error logged with its traceback
"""

import os
import time
from wsgiref.validate import validator


@validator  # every request is also a PEP 3333 check
def app(environ, start_response):
    path = environ["PATH_INFO"]
    if path == "/slow":
        query = environ.get("QUERY_STRING", "")
        seconds = float(query[2:]) if query.startswith("s=") else 1.0
        time.sleep(seconds)
        body = f"slept {seconds}".encode()
    elif path == "/spin":
        seconds = float(environ.get("QUERY_STRING", "s=3")[2:])
        spin_until(time.monotonic() + seconds)
        body = b"spun"
    elif path == "/pid":
        body = str(os.getpid()).encode()
    elif path == "/scheme":
        body = environ["wsgi.url_scheme"].encode()
    elif path == "/error":
        raise RuntimeError("the app failed on purpose")
    else:
        body = b"Hello, World!"
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


def spin_until(deadline):
    while time.monotonic() < deadline:
        pass
