"""The workloads: one wrk load shape each, and the app module that serves it.

A to E are served by bench/app.py (the ceiling answers them too); F and G by a small
real Flask and Django app, to show what the server's speed means under a framework.
"""

from dataclasses import dataclass, field

APP = "app:app"


@dataclass(frozen=True)
class Workload:
    """A load shape; `app` is the WSGI app every server is started with for it.

    `sync_ok` says whether sync workers are measured on it: they serve one connection
    at a time per worker, so the 64 KiB, sleep and upload shapes would only measure
    their queueing; they run the small-request shapes only (A, B, F, G).
    """

    key: str
    path: str
    connections: int
    description: str
    headers: tuple = field(default=())
    script: str = None
    sync_ok: bool = False
    app: str = APP

    @property
    def framework(self):
        """True when a framework app serves it (so there is no fixed-bytes ceiling)."""
        return self.app != APP


WORKLOADS = {
    w.key: w
    for w in (
        Workload("A", "/plaintext", 64, "GET /plaintext, keep-alive, 64 conns", sync_ok=True),
        Workload(
            "B",
            "/plaintext",
            64,
            "GET /plaintext, Connection: close, 64 conns",
            headers=("Connection: close",),
            sync_ok=True,
        ),
        Workload("C", "/64k", 64, "GET /64k (64 KiB body), keep-alive, 64 conns"),
        Workload("D", "/sleep", 1000, "GET /sleep (50 ms cooperative sleep), 1000 conns"),
        Workload("D256", "/sleep", 256, "GET /sleep (50 ms cooperative sleep), 256 conns"),
        Workload("E", "/upload", 16, "POST /upload 1 MiB body, 16 conns", script="post1m.lua"),
        Workload(
            "F",
            "/hello",
            64,
            "Flask GET /hello, keep-alive, 64 conns",
            sync_ok=True,
            app="flask_app:app",
        ),
        Workload(
            "G",
            "/items",
            64,
            "Django GET /items (template, DEBUG off), keep-alive, 64 conns",
            sync_ok=True,
            app="django_app:app",
        ),
    )
}
