"""The master process: binds, forks workers, and turns signals into a lifecycle.

Signal handlers only queue the signal and wake the main loop (through
`signal.set_wakeup_fd`); the loop dispatches each one to a `handle_<name>`
method, so no real work ever runs inside a handler. The master never
imports gevent: workers patch themselves after fork.
"""

from __future__ import annotations

import errno
import os
import select
import signal
import socket
import sys
from dataclasses import dataclass, field
from time import monotonic

from glade.hooks import HookFailed, call_hook
from glade.lifecycle import Lifecycle, State
from glade.logging import error_log, reopen_log_files, setup_logging
from glade.supervisor.sockets import BindError, bind, bound_address, parse_address

EXIT_OK = 0
EXIT_FAILURE = 1

# How long the master waits past the graceful deadline before SIGKILL. The
# worker cuts its own requests just before the deadline and exits, so this
# backstop only fires for a worker stuck in C code.
KILL_BACKSTOP = 2.0
# Respawn back-off for workers that die soon after they start.
MIN_RESPAWN_DELAY = 0.1
MAX_RESPAWN_DELAY = 5.0
FORCED_STOP_GRACE = 1.0

HANDLED_SIGNALS = (
    signal.SIGINT,
    signal.SIGTERM,
    signal.SIGQUIT,
    signal.SIGCHLD,
    signal.SIGTTIN,
    signal.SIGTTOU,
    signal.SIGUSR1,
)


@dataclass
class WorkerHandle:
    """What the master knows about one worker process."""

    pid: int
    age: int
    status_fd: int
    started: float
    last_beat: float
    ready: bool = False
    busy: int = 0
    boot_error: str | None = None
    stop_sent: float | None = None
    kill_at: float | None = None
    buffer: bytes = field(default=b"", repr=False)
    worker: object = field(default=None, repr=False)  # the Worker object, for hooks


class Master:
    def __init__(self, cfg) -> None:
        self.cfg = cfg
        self.pid = os.getpid()
        self.log = error_log  # gunicorn's name, for hooks
        self.lifecycle = Lifecycle("master")
        self.listeners: list = []
        self.workers: dict[int, WorkerHandle] = {}
        self.num_workers = cfg.workers
        self.next_age = 1
        self.signal_queue: list[int] = []
        self.interrupts = 0
        self.exit_code = EXIT_OK
        self.respawn_delay = MIN_RESPAWN_DELAY
        self.respawn_not_before = 0.0
        self.stop_deadline: float | None = None
        self._wake_r = self._wake_w = -1

    # -- startup -----------------------------------------------------------

    @property
    def worker_count(self) -> int:
        return self.num_workers

    def run(self) -> int:
        setup_logging(self.cfg)
        try:
            call_hook(self.cfg, "on_starting", self)
            self._bind()
            call_hook(self.cfg, "when_ready", self)
        except (BindError, HookFailed) as error:
            error_log.error("%s", error)
            self._close_listeners()
            return EXIT_FAILURE
        self._install_signals()
        error_log.info("Starting glade %s", _version())
        for listener in self.listeners:
            error_log.info("Listening at: %s (%d)", _url(listener), self.pid)
        error_log.info("Using worker: %s", self.cfg.worker_class)
        try:
            self._loop()
        finally:
            self._cleanup()
            call_hook(self.cfg, "on_exit", self)
        return self.exit_code

    def _bind(self) -> None:
        for text in self.cfg.bind:
            self.listeners.append(bind(parse_address(text), self.cfg.backlog))

    def _install_signals(self) -> None:
        self._wake_r, self._wake_w = os.pipe()
        for fd in (self._wake_r, self._wake_w):
            os.set_blocking(fd, False)
            os.set_inheritable(fd, False)
        signal.set_wakeup_fd(self._wake_w, warn_on_full_buffer=False)
        for signum in HANDLED_SIGNALS:
            signal.signal(signum, self._queue_signal)

    def _queue_signal(self, signum, frame) -> None:
        # Only record it: the main loop does the work (see the module docstring).
        self.signal_queue.append(signum)

    # -- the main loop -------------------------------------------------------

    def _loop(self) -> None:
        while not self.lifecycle.stopped:
            self._maintain_workers()
            self._wait_for_events(self._next_timeout())
            while self.signal_queue:
                signum = self.signal_queue.pop(0)
                name = signal.Signals(signum).name[3:].lower()
                getattr(self, f"handle_{name}")()
            self._check_workers()

    def _next_timeout(self) -> float:
        timeout = 1.0
        if self.stop_deadline is not None:
            timeout = min(timeout, max(self.stop_deadline - monotonic(), 0.0))
        if self.respawn_not_before:
            timeout = min(timeout, max(self.respawn_not_before - monotonic(), 0.0))
        return max(timeout, 0.01)

    def _wait_for_events(self, timeout: float) -> None:
        fds = [self._wake_r, *(w.status_fd for w in self.workers.values())]
        try:
            readable, _, _ = select.select(fds, [], [], timeout)
        except InterruptedError:
            return
        for fd in readable:
            if fd == self._wake_r:
                _drain_fd(fd)
        by_fd = {w.status_fd: w for w in self.workers.values()}
        for fd in readable:
            if fd in by_fd:
                self._read_status(by_fd[fd])

    def _read_status(self, worker: WorkerHandle) -> None:
        try:
            data = os.read(worker.status_fd, 4096)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            return  # the worker closed its end; SIGCHLD tells the rest
        worker.buffer += data
        *lines, worker.buffer = worker.buffer.split(b"\n")
        now = monotonic()
        for raw in lines:
            line = raw.decode("utf-8", "replace")
            kind, _, rest = line.partition(" ")
            worker.last_beat = now
            if kind == "ready":
                worker.ready = True
                self._on_worker_ready(worker)
            elif kind == "beat":
                worker.busy = int(rest) if rest.isdigit() else 0
            elif kind == "boot-error":
                worker.boot_error = rest

    def _on_worker_ready(self, worker: WorkerHandle) -> None:
        error_log.info("Booted worker %d (age %d)", worker.pid, worker.age)
        if self.lifecycle.state is State.BOOTING and all(
            w.ready for w in self.workers.values() if w.stop_sent is None
        ):
            self.lifecycle.move(State.SERVING, f"{len(self.workers)} workers ready")
        self.respawn_delay = MIN_RESPAWN_DELAY

    # -- workers -------------------------------------------------------------

    def _maintain_workers(self) -> None:
        if self.lifecycle.state not in (State.BOOTING, State.SERVING):
            return
        active = [w for w in self.workers.values() if w.stop_sent is None]
        if len(active) > self.num_workers:
            for worker in sorted(active, key=lambda w: w.age)[: len(active) - self.num_workers]:
                self._stop_worker(worker, signal.SIGTERM)
        missing = self.num_workers - len(active)
        if missing > 0 and monotonic() >= self.respawn_not_before:
            self.respawn_not_before = 0.0
            for _ in range(missing):
                self._spawn()

    def _spawn(self) -> None:
        from glade.workers.gevent import GeventWorker
        from glade.workers.sync import SyncWorker

        worker_class = GeventWorker if self.cfg.worker_class == "gevent" else SyncWorker
        status_r, status_w = os.pipe()
        os.set_blocking(status_r, False)
        age = self.next_age
        self.next_age += 1
        worker = worker_class(self.cfg, self.listeners, age, status_w, self.pid)
        call_hook(self.cfg, "pre_fork", self, worker)
        sys.stdout.flush()
        sys.stderr.flush()
        # Ignored before fork so the child never has a moment where Ctrl+C
        # would kill it; the master restores its own handler right after.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        pid = os.fork()
        if pid == 0:
            self._become_worker(worker, status_r, status_w)
        signal.signal(signal.SIGINT, self._queue_signal)
        os.close(status_w)
        now = monotonic()
        self.workers[pid] = WorkerHandle(pid, age, status_r, started=now, last_beat=now)
        self.workers[pid].worker = worker

    def _become_worker(self, worker, status_r: int, status_w: int) -> None:
        """In the child: shed the master's state and run the worker. Never returns."""
        code = 1
        try:
            signal.set_wakeup_fd(-1)
            for signum in HANDLED_SIGNALS:
                if signum != signal.SIGINT:
                    signal.signal(signum, signal.SIG_DFL)
            os.close(status_r)
            os.close(self._wake_r)
            os.close(self._wake_w)
            for other in self.workers.values():
                os.close(other.status_fd)
            os.set_blocking(status_w, False)
            setup_logging(self.cfg)
            worker.after_fork()
            call_hook(self.cfg, "post_fork", self, worker)
            code = worker.run()
            call_hook(self.cfg, "worker_exit", self, worker)
        except SystemExit as exit_request:
            code = exit_request.code if isinstance(exit_request.code, int) else 1
        except BaseException:
            error_log.critical("worker %d crashed", os.getpid(), exc_info=True)
            code = 1
        finally:
            try:
                sys.stdout.flush()
                sys.stderr.flush()
            finally:
                os._exit(code)

    def _stop_worker(self, worker: WorkerHandle, signum: int) -> None:
        now = monotonic()
        if worker.stop_sent is None or signum != signal.SIGTERM:
            worker.stop_sent = now
            if signum == signal.SIGTERM:
                worker.kill_at = now + self.cfg.graceful_timeout + KILL_BACKSTOP
            else:
                worker.kill_at = now + FORCED_STOP_GRACE + KILL_BACKSTOP
            _kill(worker.pid, signum)

    def _check_workers(self) -> None:
        now = monotonic()
        timeout = self.cfg.timeout
        for worker in list(self.workers.values()):
            if worker.kill_at is not None and now >= worker.kill_at:
                error_log.error("worker %d did not stop in time; sending SIGKILL", worker.pid)
                _kill(worker.pid, signal.SIGKILL)
                worker.kill_at = now + 5.0
            elif (
                timeout
                and worker.ready
                and worker.stop_sent is None
                and now - worker.last_beat > timeout
            ):
                error_log.critical(
                    "worker %d timed out (no heartbeat for %.0f s); aborting it",
                    worker.pid,
                    now - worker.last_beat,
                )
                worker.stop_sent = now
                worker.kill_at = now + KILL_BACKSTOP
                _kill(worker.pid, signal.SIGABRT)
        if self.lifecycle.draining and not self.workers:
            self.lifecycle.move(State.STOPPED, "all workers exited")

    def _reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            worker = self.workers.pop(pid, None)
            if worker is None:
                continue
            self._read_status(worker)
            os.close(worker.status_fd)
            self._on_worker_exit(worker, status)
            if worker.worker is not None:
                worker.worker.pid = pid
                call_hook(self.cfg, "child_exit", self, worker.worker)

    def _on_worker_exit(self, worker: WorkerHandle, status: int) -> None:
        from glade.workers.base import EXIT_BOOT_ERROR

        code = os.waitstatus_to_exitcode(status)
        if worker.boot_error is not None or code == EXIT_BOOT_ERROR:
            reason = worker.boot_error or "the worker failed to boot"
            if self.lifecycle.state in (State.BOOTING, State.SERVING):
                error_log.error("%s", reason)
                error_log.error("A worker could not boot; stopping the server")
                self.exit_code = EXIT_FAILURE
                self._begin_stop("a worker could not boot", signal.SIGQUIT)
            return
        if worker.stop_sent is not None:
            if code == 0:
                error_log.info("Worker %d exited", worker.pid)
            elif code < 0:
                error_log.warning(
                    "Worker %d was killed by %s", worker.pid, signal.Signals(-code).name
                )
            return
        if code < 0:
            name = signal.Signals(-code).name
            extra = " (perhaps out of memory)" if -code == signal.SIGKILL else ""
            error_log.error("Worker %d was killed by %s%s", worker.pid, name, extra)
        else:
            error_log.error("Worker %d exited unexpectedly with status %d", worker.pid, code)
        if monotonic() - worker.started < 1.0:
            self.respawn_not_before = monotonic() + self.respawn_delay
            self.respawn_delay = min(self.respawn_delay * 2, MAX_RESPAWN_DELAY)

    # -- signal handlers (called from the main loop, never from a handler) -----

    def handle_chld(self) -> None:
        self._reap()

    def handle_int(self) -> None:
        self.interrupts += 1
        if self.interrupts == 1 and self.lifecycle.state is not State.DRAINING:
            busy = sum(w.busy for w in self.workers.values())
            print(
                f"Shutting down: draining {busy} requests (Ctrl+C again to force)",
                file=sys.stderr,
                flush=True,
            )
            self._begin_stop("SIGINT", signal.SIGTERM)
        else:
            self._force_stop("second SIGINT")

    def handle_term(self) -> None:
        if self.lifecycle.state is not State.DRAINING:
            self._begin_stop("SIGTERM", signal.SIGTERM)

    def handle_quit(self) -> None:
        self._force_stop("SIGQUIT")

    def handle_ttin(self) -> None:
        self._set_worker_count(self.num_workers + 1, "SIGTTIN")

    def handle_ttou(self) -> None:
        self._set_worker_count(max(self.num_workers - 1, 1), "SIGTTOU")

    def _set_worker_count(self, count: int, why: str) -> None:
        old, self.num_workers = self.num_workers, count
        error_log.info("%s: %d workers", why, count)
        if count != old:
            call_hook(self.cfg, "nworkers_changed", self, count, old)

    def handle_usr1(self) -> None:
        reopen_log_files()
        for worker in self.workers.values():
            _kill(worker.pid, signal.SIGUSR1)

    # -- stopping --------------------------------------------------------------

    def _begin_stop(self, why: str, signum: int) -> None:
        if self.lifecycle.state is State.DRAINING:
            return
        self.lifecycle.move(State.DRAINING, why)
        self._close_listeners()
        for worker in self.workers.values():
            self._stop_worker(worker, signum)
        if not self.workers:
            self.lifecycle.move(State.STOPPED, why)

    def _force_stop(self, why: str) -> None:
        if self.lifecycle.state is not State.DRAINING:
            self._begin_stop(why, signal.SIGQUIT)
            return
        error_log.info("Forced stop (%s)", why)
        for worker in self.workers.values():
            worker.stop_sent = None
            self._stop_worker(worker, signal.SIGQUIT)

    def _close_listeners(self) -> None:
        for listener in self.listeners:
            try:
                if listener.family == socket.AF_UNIX:
                    path = listener.getsockname()
                    if path and os.path.exists(path):
                        os.unlink(path)
                listener.close()
            except OSError:
                pass
        self.listeners = []

    def _cleanup(self) -> None:
        self._close_listeners()
        for worker in self.workers.values():
            _kill(worker.pid, signal.SIGKILL)
        error_log.info("Shutting down: master")


def _kill(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        pass


def _drain_fd(fd: int) -> None:
    try:
        while os.read(fd, 4096):
            pass
    except (BlockingIOError, InterruptedError):
        pass
    except OSError as error:
        if error.errno != errno.EAGAIN:
            raise


def _url(listener) -> str:
    address = bound_address(listener)
    return address if address.startswith("unix:") else f"http://{address}"


def _version() -> str:
    from glade import __version__

    return __version__
