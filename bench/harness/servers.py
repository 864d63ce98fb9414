"""The servers compared, how each is started, and which python runs it.

All of them serve the same bench/app.py (the ceiling serves fixed bytes instead), on
127.0.0.1, with the same worker count. Each runs with its defaults apart from what the
comparison needs; the few extra flags are explained where they are set.
"""

from dataclasses import dataclass

GLADE = "glade"
ANCHORS = "anchors"
CEILING = "ceiling"


@dataclass(frozen=True)
class Server:
    """One row of the comparison. `runtime` says which python runs it:

    glade and the ceiling run on the project venv (the gevent Glade is built on),
    gunicorn and granian on the anchors venv.
    """

    name: str
    runtime: str
    sync: bool = False

    def supports(self, workload):
        """Sync workers only take the small-request workloads (A, B)."""
        return workload.sync_ok or not self.sync


SERVERS = {
    s.name: s
    for s in (
        Server("glade-gevent", GLADE),
        Server("glade-sync", GLADE, sync=True),
        Server("gunicorn-gevent", ANCHORS),
        Server("gunicorn-sync", ANCHORS, sync=True),
        Server("granian", ANCHORS),
        Server(CEILING, CEILING),
    )
}
BASELINE = "gunicorn-gevent"
SYNC_BASELINE = "gunicorn-sync"


def command(name, python, port, workers, bench_dir):
    """argv for one server; every one binds 127.0.0.1:`port` and serves app:app."""
    bind = f"127.0.0.1:{port}"
    if name in ("glade-gevent", "glade-sync"):
        kind = name.split("-")[1]
        return [python, "-m", "glade", "-b", bind, "-w", workers, "-k", kind, "app:app"]
    if name in ("gunicorn-gevent", "gunicorn-sync"):
        kind = name.split("-")[1]
        # --http-parser fast: fail loudly rather than silently fall back to the
        # pure-Python parser if gunicorn_h1c cannot be used. --no-control-socket:
        # gunicorn 27 would otherwise create ~/.gunicorn/gunicorn.ctl on every start.
        extra = ["--http-parser", "fast", "--no-control-socket"]
        return [python, "-m", "gunicorn", "-b", bind, "-w", workers, "-k", kind, *extra, "app:app"]
    if name == "granian":
        return [
            python,
            *("-m", "granian", "--interface", "wsgi", "--host", "127.0.0.1"),
            *("--port", port, "--workers", workers, "app:app"),
        ]
    if name == CEILING:
        return [python, bench_dir / "ceiling.py", "--bind", bind, "--workers", workers]
    raise KeyError(name)
