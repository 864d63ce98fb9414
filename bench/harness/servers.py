"""The servers compared, how each is started, and which python runs it.

All of them serve the app the workload names, on 127.0.0.1, with the same worker count;
the ceiling writes fixed bytes instead and takes no part in a workload served by an app
other than bench/app.py. Each runs with its defaults apart from what the comparison
needs; the few extra flags are explained where they are set.
"""

from dataclasses import dataclass

from .workloads import APP

GLADE = "glade"
ANCHORS = "anchors"
CEILING = "ceiling"


@dataclass(frozen=True)
class Server:
    """One row of the comparison. `runtime` says which python runs it:

    glade and the ceiling run on the project venv (the gevent Glade is built on),
    gunicorn and granian on the anchors venv. `runs_apps` is False for the ceiling,
    which imports no app and only mimics bench/app.py's routes.
    """

    name: str
    runtime: str
    sync: bool = False
    runs_apps: bool = True
    env: tuple = ()  # (name, value) pairs set for this server only

    def supports(self, workload):
        """Whether this server is measured on `workload`.

        Sync workers take only the small-request shapes (A, B, F, G); the ceiling,
        which imports no app, takes no framework workload.
        """
        if workload.framework and not self.runs_apps:
            return False
        return workload.sync_ok or not self.sync


SERVERS = {
    s.name: s
    for s in (
        Server("glade-gevent", GLADE),
        # The same source without its compiled extensions (src/glade/extensions.py):
        # what a machine without a C compiler at install time gets.
        Server("glade-gevent-pure", GLADE, env=(("GLADE_NO_EXTENSIONS", "1"),)),
        Server("glade-sync", GLADE, sync=True),
        Server("gunicorn-gevent", ANCHORS),
        Server("gunicorn-sync", ANCHORS, sync=True),
        Server("granian", ANCHORS),
        Server(CEILING, CEILING, runs_apps=False),
    )
}
BASELINE = "gunicorn-gevent"
SYNC_BASELINE = "gunicorn-sync"


def command(name, python, port, workers, bench_dir, app=APP):
    """argv for one server; every one binds 127.0.0.1:`port` and serves `app`."""
    bind = f"127.0.0.1:{port}"
    if name in ("glade-gevent", "glade-gevent-pure", "glade-sync"):
        kind = name.split("-")[1]
        return [python, "-m", "glade", "-b", bind, "-w", workers, "-k", kind, app]
    if name in ("gunicorn-gevent", "gunicorn-sync"):
        kind = name.split("-")[1]
        # --http-parser fast: fail loudly rather than silently fall back to the
        # pure-Python parser if gunicorn_h1c cannot be used. --no-control-socket:
        # gunicorn 27 would otherwise create ~/.gunicorn/gunicorn.ctl on every start.
        extra = ["--http-parser", "fast", "--no-control-socket"]
        return [python, "-m", "gunicorn", "-b", bind, "-w", workers, "-k", kind, *extra, app]
    if name == "granian":
        return [
            python,
            *("-m", "granian", "--interface", "wsgi", "--host", "127.0.0.1"),
            *("--port", port, "--workers", workers, app),
        ]
    if name == CEILING:
        return [python, bench_dir / "ceiling.py", "--bind", bind, "--workers", workers]
    raise KeyError(name)
