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

import errno
import signal
import socket as _stdlib_socket
import traceback
from time import monotonic

from glade.hooks import call_hook
from glade.lifecycle import State
from glade.logging import error_log, reopen_log_files
from glade.workers.base import (
    EXIT_OK,
    Worker,
    WorkerAborted,
    ignore_terminal_interrupt,
    needs_nodelay,
)
from glade.workers.connection import Connection
from glade.workers.watchdog import BlockWatchdog

BEAT_INTERVAL = 1.0
SWEEP_INTERVAL = 0.2
# During a drain, a connection that has sent nothing since it was accepted
# gets this long to send its request before it is closed as idle.
FRESH_GRACE = 1.0
# A drain cuts what is left this long before the master's deadline, so that
# the worker logs, runs its exit hook and exits before the backstop fires.
CUT_MARGIN = 0.25


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

        monkey.patch_all()
        import gevent
        import gevent.event

        # Recording the spawning stack of every greenlet (a debugging aid)
        # costs more than a short connection's own parsing.
        gevent.config.track_greenlet_tree = False

        self._gevent = gevent
        self._wake = gevent.event.Event()
        self._stop_now = False
        self._stop_why = ""
        self._stop_graceful = True
        self.sweeps_deadlines = True
        # One greenlet per connection, spawned bare: a gevent Pool's
        # bookkeeping costs more than a short connection's own work. The
        # limit is kept here, and the drain and cut use this set.
        self.greenlets: set = set()
        self.max_connections = self.cfg.worker_connections
        self._slot_free = gevent.event.Event()

    # -- signals: record the intent, wake the main greenlet ----------------

    def request_stop(self, why: str, *, graceful: bool) -> None:
        if not graceful:
            self._stop_now = True
            self._stop_graceful = False
        if not self._stop_why:
            self._stop_why = why
        self._wake.set()

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
        gevent = self._gevent
        self._install_signals()
        watchdog = BlockWatchdog.start(self)
        sockets = [self._cooperative(listener) for listener in self.listeners]
        acceptors = [
            gevent.spawn(self._accept_loop, sock, template)
            for sock, template in zip(sockets, self.templates, strict=True)
        ]
        sweeper = gevent.spawn(self._sweep_deadlines)
        self.lifecycle.move(State.SERVING)
        self.report("ready")
        while not self._stop_why:
            self.beat()
            if self.master_gone:
                self.request_stop("the master process is gone", graceful=True)
                break
            self._wake.wait(BEAT_INTERVAL)
        gevent.killall(acceptors)
        if self._stop_graceful:
            self.begin_drain(self._stop_why)
            self._accept_backlog(sockets)
        for sock in sockets:
            sock.close()
        if self._stop_graceful:
            self._drain()
        else:
            self.lifecycle.move(State.DRAINING, self._stop_why)
        self._cut_remaining()
        sweeper.kill()
        if watchdog is not None:
            watchdog.stop()
        self.lifecycle.move(State.STOPPED)
        return EXIT_OK

    @staticmethod
    def _cooperative(listener):
        """The inherited listener, re-created as a gevent socket on the same fd."""
        return _stdlib_socket.socket(listener.family, listener.type, fileno=listener.detach())

    def _accept_loop(self, sock, template: dict) -> None:
        greenlets = self.greenlets
        limit = self.max_connections
        nodelay = needs_nodelay(sock)
        while True:
            while len(greenlets) >= limit:
                # Full: leave further clients in the kernel's backlog.
                self._slot_free.clear()
                self._slot_free.wait()
            try:
                client, remote = sock.accept()
            except OSError as error:
                if error.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                    error_log.error("accept failed: %s; retrying in 0.5 s", error.strerror)
                    self._gevent.sleep(0.5)
                continue
            self._start_connection(client, remote, template, nodelay)

    def _sweep_deadlines(self) -> None:
        """Expire the connections whose wait has outlived its deadline.

        One greenlet doing this a few times a second replaces a timer per
        recv; a timeout then fires up to SWEEP_INTERVAL late.
        """
        sleep = self._gevent.sleep
        connections = self.connections
        while True:
            sleep(SWEEP_INTERVAL)
            now = monotonic()
            for connection in list(connections):
                deadline = connection.deadline
                if deadline and deadline <= now:
                    connection.expire()

    def _accept_backlog(self, sockets) -> None:
        """Take the connections the kernel already queued before closing.

        When the last copy of a listening socket closes, the kernel resets
        every connection still in its queue: clients that were told
        "connected" would get a reset. Taking them first means every
        connection the kernel accepted gets an answer (with
        `Connection: close`); after the close, new clients are refused.
        """
        for sock, template in zip(sockets, self.templates, strict=True):
            sock.setblocking(False)
            nodelay = needs_nodelay(sock)
            while True:
                try:
                    client, remote = sock.accept()
                except OSError:
                    break  # EAGAIN: the queue is empty
                client.setblocking(True)
                # Even past worker_connections: a drain must answer them all.
                self._start_connection(client, remote, template, nodelay)

    def _start_connection(self, client, remote, template: dict, nodelay: bool) -> None:
        if nodelay:
            client.setsockopt(_stdlib_socket.IPPROTO_TCP, _stdlib_socket.TCP_NODELAY, 1)
        self.greenlets.add(
            self._gevent.spawn(self._serve_connection, client, remote, template, monotonic())
        )

    def _serve_connection(self, client, remote, template, accepted_at) -> None:
        connection = None
        try:
            if self.tls is not None:
                client = self.start_tls(client, accepted_at)
                if client is None:
                    return
            connection = Connection(client, remote, self, template)
            self.connections.add(connection)
            connection.serve(accepted_at)
        except WorkerAborted:
            # The stack is logged; the rest of the worker stops now.
            self.request_stop("stuck (SIGABRT)", graceful=False)
        finally:
            self.connections.discard(connection)
            self.greenlets.discard(self._gevent.getcurrent())
            self._slot_free.set()
            if self._stop_why:
                self._wake.set()  # the drain loop re-checks what is left

    # -- stopping --------------------------------------------------------

    def _drain(self) -> None:
        idle = sum(1 for connection in list(self.connections) if connection.close_if_idle())
        busy = len(self.greenlets) - idle
        error_log.info(
            "worker %d draining: %d connections busy, %d idle closed", self.pid, busy, idle
        )
        cut_at = self.drain_deadline - CUT_MARGIN
        fresh_at = monotonic() + FRESH_GRACE
        next_beat = 0.0
        # Greenlets, not connections: a connection taken from the backlog
        # may not have started to run yet.
        while self.greenlets and not self._stop_now:
            now = monotonic()
            if now >= cut_at:
                break
            if fresh_at and now >= fresh_at:
                fresh_at = 0.0
                for connection in list(self.connections):
                    connection.close_if_idle(fresh_too=True)
            if now >= next_beat:
                self.beat()
                next_beat = now + BEAT_INTERVAL
            self._wake.clear()
            wake_at = min(cut_at, fresh_at or cut_at, now + BEAT_INTERVAL)
            self._wake.wait(max(wake_at - now, 0.01))

    def _cut_remaining(self) -> None:
        if not self.greenlets:
            return
        busy = sum(1 for connection in self.connections if connection.writer is not None)
        why = "forced stop" if self._stop_now else "graceful timeout"
        error_log.warning(
            "worker %d: %s; cut %d in-flight requests (%d connections)",
            self.pid,
            why,
            busy,
            len(self.greenlets),
        )
        self._gevent.killall(list(self.greenlets), block=True, timeout=1.0)

    def booting_frame(self, frame):
        from greenlet import getcurrent

        main = getcurrent()
        while main.parent is not None:  # in the hub: the main greenlet is loading
            main = main.parent
        return frame if main is getcurrent() else main.gr_frame

    def other_stacks(self, blocking_frame) -> str:
        import gc

        from greenlet import greenlet

        stacks = []
        for item in gc.get_objects():
            if isinstance(item, greenlet) and item.gr_frame is not None:
                if item.gr_frame is blocking_frame:
                    continue
                stacks.append(
                    f"greenlet {item!r}:\n" + "".join(traceback.format_stack(item.gr_frame))
                )
        return "\n".join(stacks).rstrip()
