"""The workloads: one wrk load shape each, all against routes of bench/app.py."""

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Workload:
    """A load shape; `sync_ok` says whether sync workers are measured on it.

    Sync workers serve one connection at a time per worker, so the 64 KiB, sleep and
    upload shapes would only measure their queueing; they run A and B only.
    """

    key: str
    path: str
    connections: int
    description: str
    headers: tuple = field(default=())
    script: str = None
    sync_ok: bool = False


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
    )
}
