"""An app that keeps its own metrics with prometheus_client in multiprocess
mode (PROMETHEUS_MULTIPROC_DIR set before it is imported), next to Glade's."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, generate_latest, multiprocess

HITS = Counter("app_hits", "Requests the app saw.")


def app(environ, start_response):
    if environ["PATH_INFO"] == "/app-metrics":
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        body = generate_latest(registry)
    else:
        HITS.inc()
        body = b"Hello, World!"
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
