"""Worker processes: the gevent worker (primary) and the sync worker."""
