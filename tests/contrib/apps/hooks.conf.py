# A gunicorn config file as a user writes one: the worker class by name, and
# hooks that say when gunicorn ran them.
import sys

worker_class = "glade.contrib.gunicorn.GeventWorker"


def _say(text):
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


def post_worker_init(worker):
    _say(f"HOOK post_worker_init {worker.pid}")


def worker_int(worker):
    _say(f"HOOK worker_int {worker.pid}")


def worker_exit(server, worker):
    _say(f"HOOK worker_exit {worker.pid}")


def pre_request(worker, req):
    _say(f"HOOK pre_request {worker.pid} {req.method} {req.path}")


def post_request(worker, req, environ, resp):
    _say(f"HOOK post_request {worker.pid} {req.path} {resp.status}")
