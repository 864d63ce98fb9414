# Heroku: the platform sets PORT and WEB_CONCURRENCY.
import os

workers = int(os.environ.get("WEB_CONCURRENCY", 2))
bind = "0.0.0.0:" + os.environ.get("PORT", "5000")
preload_app = True
max_requests = 1000
max_requests_jitter = 50
timeout = 30
keepalive = 2
