# prometheus_client in multiprocess mode: each dead worker's files are
# cleaned up from child_exit (the prometheus_client documentation).
import os

bind = ":" + os.environ.get("APP_PORT", "8000")
workers = 4
worker_class = "sync"
timeout = 90
max_requests = 5000
max_requests_jitter = 500


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
