# Google Cloud Run: one worker, threads for concurrency, no timeout (the
# platform has its own), PORT from the environment.
import os

bind = ":" + os.environ.get("PORT", "8080")
workers = 1
threads = 8
timeout = 0
