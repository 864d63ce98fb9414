"""What one access log line costs a worker: formatted and written, per format.

The access log runs once per request when it is on, so its cost is paid on
every request. This times AccessLog.log() for gunicorn's default format and
for `json`, writing to /dev/null through the same logger and handler the
server uses, and prints the CPU time per line (process time, so other
processes on the machine do not count). A request here carries what a
request behind a proxy does: a forwarded client, a user agent, a referer
and a request id.

    .venv/bin/python bench/access_log.py
    PYTHONPATH=OTHER_CHECKOUT/src .venv/bin/python bench/access_log.py   # to compare
"""

from __future__ import annotations

import logging
import os
import time
import timeit

from glade.logging import AccessLog, access_logger

ENVIRON = {
    "REMOTE_ADDR": "10.0.0.7",
    "glade.peer_addr": "127.0.0.1",
    "REQUEST_METHOD": "GET",
    "RAW_URI": "/items?page=2",
    "SCRIPT_NAME": "",
    "PATH_INFO": "/items",
    "QUERY_STRING": "page=2",
    "SERVER_PROTOCOL": "HTTP/1.1",
    "HTTP_REFERER": "https://example.org/",
    "HTTP_USER_AGENT": "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
    "HTTP_X_REQUEST_ID": "6f1c2d3e-4a5b-4c6d-8e7f-901a2b3c4d5e",
}
HEADERS = [("Content-Type", "text/plain"), ("Content-Length", "13")]
FORMATS = {
    "gunicorn's default": '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s"',
    "json": "json",
}


def per_line(fmt: str, number: int = 100_000, repeat: int = 9) -> float:
    """Microseconds of CPU per line, the best of `repeat` runs of `number`."""
    log = AccessLog(fmt)
    timer = timeit.Timer(
        lambda: log.log(ENVIRON, 200, HEADERS, 13, 0.0025), timer=time.process_time
    )
    return min(timer.repeat(repeat, number)) / number * 1e6


def main() -> None:
    handler = logging.StreamHandler(open(os.devnull, "w"))  # noqa: SIM115 - until exit
    handler.setFormatter(logging.Formatter("%(message)s"))
    access_logger.addHandler(handler)
    access_logger.setLevel(logging.INFO)
    access_logger.propagate = False
    for name, fmt in FORMATS.items():
        print(f"{name:20} {per_line(fmt):6.2f} us per line", flush=True)


if __name__ == "__main__":
    main()
