# A tuned sync-worker config from a Dockerfile, with gunicorn's
# spelled-out worker class and tmp dir advice for containers.
import os

wsgi_app = "service.main:app"
bind = os.getenv("GUNICORN_BIND", "0.0.0.0:8080")
backlog = 4096
workers = int(os.getenv("GUNICORN_WORKERS", "4"))
worker_class = "gunicorn.workers.sync.SyncWorker"
worker_tmp_dir = "/dev/shm"
timeout = 120
graceful_timeout = 60
keepalive = 75
max_requests = 10000
max_requests_jitter = 1000
limit_request_line = 0
errorlog = "-"
loglevel = os.getenv("LOG_LEVEL", "warning").lower()
forwarded_allow_ips = "127.0.0.1,::1"
