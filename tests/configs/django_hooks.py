# Django with hooks: close database connections inherited from the master,
# log requests, dump stacks on abort (common in production guides).
import logging

wsgi_app = "config.wsgi:application"
bind = "0.0.0.0:8000"
workers = 3
worker_class = "gunicorn.workers.ggevent.GeventWorker"
worker_connections = 500
max_requests = 1200
max_requests_jitter = 100
graceful_timeout = 25
timeout = 25

log = logging.getLogger(__name__)


def on_starting(server):
    server.log.info("Starting with %s workers", server.cfg.workers)


def post_fork(server, worker):
    from django.db import connections

    for connection in connections.all():
        connection.close()


def post_worker_init(worker):
    worker.log.info("Worker %s (age %s) ready", worker.pid, worker.age)


def pre_request(worker, req):
    worker.log.debug("%s %s", req.method, req.path)


def post_request(worker, req, environ):
    worker.log.debug("%s done", req.path)


def worker_exit(server, worker):
    server.log.info("Worker %s exiting", worker.pid)


def nworkers_changed(server, new_value, old_value):
    server.log.info("Workers: %s -> %s", old_value, new_value)


def on_exit(server):
    server.log.info("Bye")
