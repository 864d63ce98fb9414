"""The sync worker: one connection at a time, no keep-alive.

For CPU-bound apps and debugging. There are no greenlets here, so signal
handlers are plain Python handlers: TERM only records the intent (the
current request finishes first); QUIT, and the drain deadline (SIGALRM),
raise StopNow, a BaseException that the app's `except Exception` cannot
swallow, to cut the request in progress.

SIGALRM also ends a request that outlives --request-timeout, by raising
RequestTimedOut in it. There is one ITIMER_REAL for both moments, so the
worker keeps both and arms the timer for the nearer one; the handler looks
at the clock to tell which has come.
"""

from __future__ import annotations

import contextvars
import os
import select
import signal
import socket
from time import monotonic

from glade.hooks import call_hook
from glade.lifecycle import State
from glade.logging import error_log, reopen_log_files
from glade.tls import handshake
from glade.workers.accepting import AcceptErrors
from glade.workers.base import EXIT_OK, Worker, ignore_terminal_interrupt, needs_nodelay
from glade.workers.connection import Connection
from glade.workers.request_timeout import RequestTimedOut

BEAT_INTERVAL = 1.0
CUT_MARGIN = 0.25


class StopNow(BaseException):
    """Cut the request in progress: a forced stop or the drain deadline."""


class SyncWorker(Worker):
    kind = "sync"
    keeps_alive = False  # one connection at a time: an idle one would block the rest
    linger_seconds = 0.5  # the worker serves no one else meanwhile

    def prepare(self) -> None:
        self._stop_why = ""
        self._accept_errors = AcceptErrors()
        self._busy = False
        self._forced = False
        self._connection = None  # the one being served
        # What SIGALRM is armed for (monotonic; 0: nothing): cutting the
        # request in progress at the drain's deadline, and the request's own
        # --request-timeout.
        self._cut_at = 0.0
        self._request_deadline = 0.0
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)

    def request_stop(self, why: str, *, graceful: bool) -> None:
        self.state.draining = True  # the connection being served ends after its response
        if not self._stop_why:
            self._stop_why = why
        if not graceful:
            self._forced = True
            if self._busy:
                raise StopNow

    def _on_term(self, signum, frame) -> None:
        self.request_stop("SIGTERM", graceful=True)
        if self.drain_deadline is None and self._busy:
            # Cut the request in progress just before the master's deadline.
            self._cut_at = self.fix_drain_deadline() - CUT_MARGIN
            self._arm_alarm()

    def _on_quit(self, signum, frame) -> None:
        call_hook(self.cfg, "worker_int", self)
        self.request_stop("SIGQUIT", graceful=False)

    def _on_alarm(self, signum, frame) -> None:
        """The drain's deadline, or the request's: whichever has come.

        Each moment is cleared once it has come, so that the timer, re-armed
        for what is left, never fires for it again.
        """
        now = monotonic()
        if self._cut_at and now >= self._cut_at:
            self._cut_at = 0.0
            if self._busy:
                raise StopNow
        if self._request_deadline and now >= self._request_deadline:
            self._request_deadline = 0.0
            connection = self._connection
            # The connection clears app_deadline before its request's
            # cleanup: if it is clear, the request is past being ended.
            if connection is not None and connection.app_deadline:
                connection.app_deadline = 0.0
                raise RequestTimedOut(connection.request_stack(frame))
        self._arm_alarm()

    def _time_request(self, deadline: float) -> None:
        """The connection's request_alarm: its app was called (the deadline),
        or its request is done (0)."""
        self._request_deadline = deadline
        self._arm_alarm()

    def _arm_alarm(self) -> None:
        """Arm ITIMER_REAL for the nearer of the two moments, or disarm it."""
        moments = [moment for moment in (self._cut_at, self._request_deadline) if moment]
        seconds = max(min(moments) - monotonic(), 0.001) if moments else 0
        signal.setitimer(signal.ITIMER_REAL, seconds)

    def _install_signals(self) -> None:
        ignore_terminal_interrupt()
        signal.signal(signal.SIGTERM, self._on_term)
        signal.signal(signal.SIGQUIT, self._on_quit)
        signal.signal(signal.SIGALRM, self._on_alarm)
        signal.signal(signal.SIGUSR1, lambda signum, frame: reopen_log_files())
        self.install_abort_handler()
        # Wake select() when a signal arrives, instead of waiting out its timeout.
        signal.set_wakeup_fd(self._wake_w, warn_on_full_buffer=False)

    def serve(self) -> int:
        self._install_signals()
        self._nodelay = {}
        for listener in self.listeners:
            listener.setblocking(False)
            self._nodelay[listener.fileno()] = needs_nodelay(listener)
        by_fd = {
            listener.fileno(): (listener, template)
            for listener, template in zip(self.listeners, self.templates, strict=True)
        }
        self._base_context = contextvars.copy_context()
        self.lifecycle.move(State.SERVING)
        self.report("ready")
        # The control pipe reads as EOF the moment the master dies.
        watched = [*by_fd, self._wake_r, self.control_fd]
        try:
            while not self._stop_why:
                self.beat()
                if self.master_gone:
                    self._stop_why = "the master process is gone"
                    break
                try:
                    readable, _, _ = select.select(watched, [], [], BEAT_INTERVAL)
                except InterruptedError:
                    continue
                if self._wake_r in readable:
                    self._clear_wakeups()
                if self.control_fd in readable:
                    self.read_control()
                    if self.master_gone:
                        self._stop_why = "the master process is gone"
                        break
                for fd in readable:
                    if fd in by_fd and not self._stop_why:
                        self._accept_one(*by_fd[fd])
            self.lifecycle.move(State.DRAINING, self._stop_why)
            if not self._forced:
                self._serve_backlog(by_fd)
        except StopNow:
            if self.lifecycle.state is State.SERVING:
                self.lifecycle.move(State.DRAINING, self._stop_why)
        for listener in self.listeners:
            listener.close()
        self.lifecycle.move(State.STOPPED)
        return EXIT_OK

    def _serve_backlog(self, by_fd) -> None:
        """Answer the connections the kernel already queued, before closing.

        The last close of a listening socket resets whatever is still queued;
        the deadline (SIGALRM) still bounds the time this takes.
        """
        cut_at = self.fix_drain_deadline() - CUT_MARGIN
        if cut_at <= monotonic():
            return
        self._cut_at = cut_at
        self._arm_alarm()
        for listener, template in by_fd.values():
            while monotonic() < cut_at and self._accept_one(listener, template):
                pass

    def _clear_wakeups(self) -> None:
        try:
            while os.read(self._wake_r, 512):
                pass
        except BlockingIOError:
            pass

    def _accept_one(self, listener, template) -> bool:
        """Serve one connection, if one is waiting; False if none was."""
        try:
            client, remote = listener.accept()
        except BlockingIOError:
            return False  # another worker took it
        except OSError as error:
            pause = self._accept_errors.pause_after(error)
            if pause:
                # select() would report the listener readable again at once:
                # wait, waking for signals and the master's pipe.
                select.select([self._wake_r, self.control_fd], [], [], pause)
            return False
        self._accept_errors.succeeded()
        accepted_at = monotonic()
        client.setblocking(True)
        if self._nodelay[listener.fileno()]:
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.tls is not None:
            client = handshake(self.tls, client, accepted_at + self.options.header_timeout)
            if client is None:
                return True
        alarm = self._time_request if self.options.request_timeout else None
        connection = Connection(client, remote, self.options, self.state, template, alarm)
        self._connection = connection
        self._busy = True
        try:
            # In a copy of the worker's context: what the request's code sets
            # in a ContextVar is gone for the next, and what was set before
            # serving began (at import, in post_fork) is there for each.
            self._base_context.copy().run(connection.serve, accepted_at)
        except StopNow:
            why = "forced stop" if self._forced else "graceful timeout"
            error_log.warning("worker %d: %s; cut 1 in-flight request", self.pid, why)
            client.close()
            raise
        finally:
            self._busy = False
            self._connection = None
            self._request_deadline = 0.0
            if self.lifecycle.state is State.SERVING:
                self._cut_at = 0.0  # the drain, if one began, re-arms it for the backlog
            self._arm_alarm()
        return True
