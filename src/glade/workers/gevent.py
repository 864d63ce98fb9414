"""The gevent worker: one greenlet per connection, many connections per process.

Monkey-patching happens in `prepare()`, in the worker process right after
fork and before the app (or anything of the app's) is imported, so the app
sees cooperative sockets, sleeps and locks from its first line.

Signals are registered through gevent's loop (`gevent.signal_handler`), so a
handler runs as a normal callback in the hub, never in the middle of a
greenlet's code: each one only records what was asked and wakes the main
greenlet, which does the work. The one exception is SIGABRT (see
`Worker.install_abort_handler`): it arrives when the loop itself is stuck.
"""

from __future__ import annotations

import signal

from glade.hooks import call_hook
from glade.lifecycle import State
from glade.logging import reopen_log_files
from glade.workers.base import EXIT_OK, Worker, ignore_terminal_interrupt
from glade.workers.watchdog import BlockWatchdog

BEAT_INTERVAL = 1.0
# A drain cuts what is left this long before the master's deadline, so that
# the worker logs, runs its exit hook and exits before the backstop fires.
CUT_MARGIN = 0.25
# When the listeners close for good, the master has already stopped new
# handshakes; the ones under way complete within a round trip. They are
# accepted for this long, then the listeners close, so that new clients are
# refused soon rather than left retrying their SYN through the whole drain.
HANDSHAKE_WINDOW = 0.25


# Modules a gevent worker imports anyway, loaded once in the master so that
# every worker shares their pages instead of building its own copy after
# fork: greenlet's and zope's C code, OpenSSL (importing `ssl` faults in
# about 2 MB of its tables), and the standard-library modules gevent pulls
# in. None of them is gevent. gevent patches `ssl` in place when it was
# imported first, and warns only if some other module kept a reference to
# the unpatched classes (nothing in the master does). Modules that build
# locks or selectors at import (subprocess, queue, concurrent.futures) are
# left for the worker to import after patching.
PRELOADED_IN_MASTER = (
    "_ssl",
    "ssl",
    "importlib.metadata",
    "pickle",
    "platform",
    "datetime",
    "pprint",
    "runpy",
    "locale",
    "pwd",
    "grp",
    "greenlet",
    "zope.interface",
    "zope.event",
)


class GeventWorker(Worker):
    kind = "gevent"
    multithread = True  # requests run concurrently in one process
    sweeps_deadlines = True

    @staticmethod
    def preload_in_master() -> None:
        import importlib

        for name in PRELOADED_IN_MASTER:
            try:
                importlib.import_module(name)
            except ImportError:
                pass

    def prepare(self) -> None:
        from gevent import monkey

        if not monkey.is_module_patched("socket"):  # the zygote (--preload) patched already
            monkey.patch_all()
        import gevent

        # Recording the spawning stack of every greenlet (a debugging aid)
        # costs more than a short connection's own parsing.
        gevent.config.track_greenlet_tree = False

        self._gevent = gevent
        self._stop_now = False
        self._stop_why = ""
        self._stop_graceful = True
        self.server = None  # the GeventServer, once serving

    # -- signals: record the intent, wake the main greenlet ----------------

    def request_stop(self, why: str, *, graceful: bool) -> None:
        if not graceful:
            self._stop_now = True
            self._stop_graceful = False
        if not self._stop_why:
            self._stop_why = why
        if self.server is not None:
            self.server.wake.set()

    def _on_quit(self) -> None:
        call_hook(self.cfg, "worker_int", self)
        self.request_stop("SIGQUIT", graceful=False)

    def _on_control(self) -> None:
        self.read_control()
        if self.master_gone:
            self._control_watcher.stop()
            self.request_stop("the master process is gone", graceful=True)

    def _install_signals(self) -> None:
        gevent = self._gevent
        ignore_terminal_interrupt()
        gevent.signal_handler(signal.SIGTERM, self.request_stop, "SIGTERM", graceful=True)
        gevent.signal_handler(signal.SIGQUIT, self._on_quit)
        gevent.signal_handler(signal.SIGUSR1, reopen_log_files)
        self.install_abort_handler()
        # The control pipe: the master's drain deadline, or EOF if it dies.
        self._control_watcher = gevent.get_hub().loop.io(self.control_fd, 1)
        self._control_watcher.start(self._on_control)

    # -- serving ---------------------------------------------------------

    def serve(self) -> int:
        # Imported here: the master imports this module, and never gevent.
        from glade.workers.gevent_serving import GeventServer

        server = self.server = GeventServer(
            self.options,
            self.state,
            max_connections=self.cfg.worker_connections,
            tls=self.tls,
            on_abort=lambda: self.request_stop("stuck (SIGABRT)", graceful=False),
            shares_listeners=self.cfg.workers > 1,
        )
        self._install_signals()
        watchdog = BlockWatchdog.start(self)
        server.start(self.listeners, self.templates)
        self.lifecycle.move(State.SERVING)
        self.report("ready")
        while not self._stop_why:
            self.beat()
            if self.master_gone:
                self.request_stop("the master process is gone", graceful=True)
                break
            server.wake.clear()
            if not self._stop_why:
                server.wake.wait(BEAT_INTERVAL)
        who = f"worker {self.pid}"
        if self._stop_graceful:
            self.begin_drain(self._stop_why)
            server.drain(
                self.drain_deadline - CUT_MARGIN,
                beat=self.beat,
                forced=lambda: self._stop_now,
                who=who,
                keep_accepting_for=HANDSHAKE_WINDOW if self.listeners_closing else 0.0,
            )
        else:
            server.stop_accepting(take_backlog=False)
            self.lifecycle.move(State.DRAINING, self._stop_why)
        server.cut("forced stop" if self._stop_now else "graceful timeout", who)
        if watchdog is not None:
            watchdog.stop()
        self.lifecycle.move(State.STOPPED)
        return EXIT_OK

    def booting_frame(self, frame):
        from greenlet import getcurrent

        main = getcurrent()
        while main.parent is not None:  # in the hub: the main greenlet is loading
            main = main.parent
        return frame if main is getcurrent() else main.gr_frame

    def other_stacks(self, blocking_frame) -> str:
        from glade.workers.gevent_serving import greenlet_stacks

        return greenlet_stacks(skip_frame=blocking_frame)
