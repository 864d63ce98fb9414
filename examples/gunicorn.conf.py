"""A gunicorn.conf.py that Glade runs unchanged.

    glade -c examples/gunicorn.conf.py          (from the repository's root)
    glade -c examples/gunicorn.conf.py --print-config

Module-level names that are settings count (docs/settings.md lists them);
anything else, like the imports, is left alone. The same file runs under
gunicorn, whose default worker is sync rather than gevent.
"""

import multiprocessing
import os

wsgi_app = "hello:app"
chdir = os.path.dirname(os.path.abspath(__file__))
bind = os.environ.get("BIND", "127.0.0.1:8000")
workers = min(multiprocessing.cpu_count(), 4)
worker_class = "gevent"
worker_connections = 1000
timeout = 30
graceful_timeout = 30
keepalive = 5
max_requests = 10000
max_requests_jitter = 1000
accesslog = "-"
loglevel = "info"


def when_ready(server):
    server.log.info("Ready to start %d workers", server.num_workers)


def post_fork(server, worker):
    server.log.info("Worker %s started (age %s)", worker.pid, worker.age)


def worker_exit(server, worker):
    server.log.info("Worker %s exiting", worker.pid)
