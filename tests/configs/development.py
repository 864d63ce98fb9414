# A development config: reload on change, verbose logs, one sync worker.
bind = "127.0.0.1:5000"
workers = 1
worker_class = "gunicorn.workers.sync.SyncWorker"
reload = True
reload_extra_files = ["templates/index.html"]
loglevel = "debug"
accesslog = "-"
spew = False
timeout = 3600
