"""The master process: sockets, workers, signals. Never imports gevent."""
