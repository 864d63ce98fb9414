"""The gevent worker: one greenlet per connection, many connections per process.

Monkey-patching happens in `prepare()`, in the worker process right after
fork and before the app (or anything of the app's) is imported, so the app
sees cooperative sockets, sleeps and locks from its first line.

Signals are registered through gevent's loop (`gevent.signal_handler`), so a
handler runs as a normal callback in the hub, never in the middle of a
greenlet's code: each one only records what was asked and wakes the main
greenlet, which does the work.
"""

from __future__ import annotations

import errno
import signal
import socket as _stdlib_socket
from time import monotonic

from glade.lifecycle import State
from glade.logging import error_log, reopen_log_files
from glade.workers.base import EXIT_OK, Worker, ignore_terminal_interrupt
from glade.workers.connection import Connection

BEAT_INTERVAL = 1.0
# A drain cuts what is left this long before the deadline, so that the
# worker exits (and logs) before the master's backstop could fire.
CUT_MARGIN = 0.25


class GeventWorker(Worker):
    kind = "gevent"
    multithread = True  # requests run concurrently in one process

    def prepare(self) -> None:
        from gevent import monkey

        monkey.patch_all()
        import gevent
        import gevent.event
        import gevent.pool

        self._gevent = gevent
        self._wake = gevent.event.Event()
        self._stop_now = False
        self._stop_why = ""
        self._stop_graceful = True
        self.pool = gevent.pool.Pool(self.cfg.worker_connections)

    # -- signals: record the intent, wake the main greenlet ----------------

    def request_stop(self, why: str, *, graceful: bool) -> None:
        if not graceful:
            self._stop_now = True
            self._stop_graceful = False
        if not self._stop_why:
            self._stop_why = why
        self._wake.set()

    def _install_signals(self) -> None:
        gevent = self._gevent
        ignore_terminal_interrupt()
        gevent.signal_handler(signal.SIGTERM, self.request_stop, "SIGTERM", graceful=True)
        gevent.signal_handler(signal.SIGQUIT, self.request_stop, "SIGQUIT", graceful=False)
        gevent.signal_handler(signal.SIGUSR1, reopen_log_files)

    # -- serving ---------------------------------------------------------

    def serve(self) -> int:
        gevent = self._gevent
        self._install_signals()
        sockets = [self._cooperative(listener) for listener in self.listeners]
        acceptors = [
            gevent.spawn(self._accept_loop, sock, template)
            for sock, template in zip(sockets, self.templates, strict=False)
        ]
        self.lifecycle.move(State.SERVING)
        self.report("ready")
        while not self._stop_why:
            self.beat()
            if self.master_gone:
                self.request_stop("the master process is gone", graceful=True)
                break
            self._wake.wait(BEAT_INTERVAL)
        gevent.killall(acceptors)
        for sock in sockets:
            sock.close()
        if self._stop_graceful:
            self._drain()
        else:
            self.lifecycle.move(State.DRAINING, self._stop_why)
        self._cut_remaining()
        self.lifecycle.move(State.STOPPED)
        return EXIT_OK

    @staticmethod
    def _cooperative(listener):
        """The inherited listener, re-created as a gevent socket on the same fd."""
        return _stdlib_socket.socket(listener.family, listener.type, fileno=listener.detach())

    def _accept_loop(self, sock, template: dict) -> None:
        pool = self.pool
        is_tcp = sock.family != _stdlib_socket.AF_UNIX
        while True:
            pool.wait_available()
            try:
                client, remote = sock.accept()
            except OSError as error:
                if error.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                    error_log.error("accept failed: %s; retrying in 0.5 s", error.strerror)
                    self._gevent.sleep(0.5)
                continue
            if is_tcp:
                client.setsockopt(_stdlib_socket.IPPROTO_TCP, _stdlib_socket.TCP_NODELAY, 1)
            pool.spawn(self._serve_connection, client, remote, template, monotonic())

    def _serve_connection(self, client, remote, template, accepted_at) -> None:
        connection = Connection(client, remote, self, template)
        self.connections.add(connection)
        try:
            connection.serve(accepted_at)
        finally:
            self.connections.discard(connection)
            if self._stop_why:
                self._wake.set()  # the drain loop re-checks what is left

    # -- stopping --------------------------------------------------------

    def _drain(self) -> None:
        self.begin_drain(self._stop_why)
        idle = sum(1 for connection in list(self.connections) if connection.close_if_idle())
        busy = len(self.pool)
        error_log.info(
            "worker %d draining: %d in-flight, %d idle connections closed", self.pid, busy, idle
        )
        cut_at = self.drain_deadline - CUT_MARGIN
        next_beat = 0.0
        while self.connections and not self._stop_now:
            now = monotonic()
            if now >= cut_at:
                break
            if now >= next_beat:
                self.beat()
                next_beat = now + BEAT_INTERVAL
            self._wake.clear()
            self._wake.wait(min(BEAT_INTERVAL, cut_at - now))

    def _cut_remaining(self) -> None:
        busy = sum(1 for connection in self.connections if connection.writer is not None)
        if self.connections:
            why = "forced stop" if self._stop_now else "graceful timeout"
            error_log.warning(
                "worker %d: %s; cut %d in-flight requests (%d connections)",
                self.pid,
                why,
                busy,
                len(self.connections),
            )
        self.pool.kill(block=True, timeout=1.0)
