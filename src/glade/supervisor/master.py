"""The master process: binds, forks workers, and turns signals into a lifecycle.

Signal handlers only queue the signal and wake the main loop (through
`signal.set_wakeup_fd`); the loop dispatches each one to a `handle_<name>`
method, so no real work ever runs inside a handler, and adding a signal is
adding a method. The master never imports gevent: workers patch themselves
after fork.

Replacing workers is always rolling: a worker that must go (reload, upgrade
of the app, max_requests, TTOU) is marked *retiring*, its replacement is
started, and the retiring worker is told to drain only once enough workers
are ready to serve. No request has to wait for a worker to boot.
"""

from __future__ import annotations

import gc
import os
import random
import select
import signal
import socket
import sys
from collections.abc import Callable
from time import monotonic

from glade import extensions, statsd
from glade.addresses import bound_address, parse_address
from glade.app import AppImportError
from glade.hooks import HookFailed, call_hook
from glade.identity import IdentityError
from glade.identity import resolve as resolve_identity
from glade.lifecycle import Lifecycle, State
from glade.logging import LogConfigError, error_log, reopen_log_files, setup_logging
from glade.proctitle import set_title
from glade.supervisor import systemd, upgrade
from glade.supervisor.metrics import (
    RESTART_CAUSES,
    MissingLibrary,
    ServerMetrics,
    require_prometheus_client,
    resident_bytes,
)
from glade.supervisor.pidfile import Pidfile
from glade.supervisor.probes import ProbeServer
from glade.supervisor.sockets import BindError, bind, refuse_new_connections
from glade.supervisor.worker_handle import WorkerHandle, WorkerState
from glade.supervisor.zygote import Zygote, ZygoteFailed, become_subreaper
from glade.tls import TLSError, server_context
from glade.workers.process import run_worker_process

EXIT_OK = 0
EXIT_FAILURE = 1

# How long the master waits past a worker's deadline before SIGKILL. The
# worker cuts its own requests just before the deadline and exits, so this
# backstop only fires for a worker stuck in C code.
KILL_BACKSTOP = 2.0
# After SIGQUIT (or a second Ctrl+C), how long a worker has to stop.
FORCED_STOP_GRACE = 1.0
# Respawn back-off for workers that die soon after they start.
MIN_RESPAWN_DELAY = 0.1
MAX_RESPAWN_DELAY = 5.0
# --max-worker-memory: how often each worker's RSS is read, and how many reads
# in a row above the limit replace it (a short peak does not).
MEMORY_CHECK_EVERY = 1.0
MEMORY_CHECKS_OVER = 3
MIB = 1024 * 1024

HANDLED_SIGNALS = (
    signal.SIGINT,
    signal.SIGTERM,
    signal.SIGQUIT,
    signal.SIGCHLD,
    signal.SIGHUP,
    signal.SIGTTIN,
    signal.SIGTTOU,
    signal.SIGUSR1,
    signal.SIGUSR2,
    signal.SIGWINCH,
)


class Master:
    def __init__(
        self,
        cfg,
        reload_config: Callable[[], object] | None = None,
        argv: list[str] | None = None,
    ) -> None:
        self.cfg = cfg
        self.reload_config = reload_config
        self.argv = list(sys.argv[1:] if argv is None else argv)
        self.pid = os.getpid()
        self.log = error_log  # gunicorn's name, for hooks
        self.lifecycle = Lifecycle("master")
        self.listeners: list[socket.socket] = []
        self.owned_unix_paths: set[str] = set()
        self.workers: dict[int, WorkerHandle] = {}
        self.num_workers = cfg.workers
        self.generation = 1
        self.next_age = 1
        self.signal_queue: list[int] = []
        self.interrupts = 0
        self.exit_code = EXIT_OK
        self.respawn_delay = MIN_RESPAWN_DELAY
        self.respawn_not_before = 0.0
        self.drain_at: float | None = None  # end of the shutdown delay
        self.reloading: tuple[int, object] | None = None  # (old generation, old cfg)
        self.upgrade_child: int | None = None
        self.upgraded_from = upgrade.upgraded_from()
        # systemd's socket activation: the sockets outlive this master.
        self.socket_activated = False
        # Set when a stop begins and the listeners close for good with it.
        self.listeners_closing = False
        self.pidfile: Pidfile | None = None
        self.raw_env = RawEnv()
        self.preloaded_app = None
        self.metrics = ServerMetrics()
        self.zygote: Zygote | None = None  # --preload with gevent
        self.retired_zygotes: set[int] = set()  # replaced ones, still to be reaped
        self.probes: ProbeServer | None = None  # --metrics-bind
        self.memory_checked_at = 0.0
        self._wake_r = self._wake_w = -1

    # -- startup -----------------------------------------------------------

    def run(self) -> int:
        try:
            setup_logging(self.cfg)
        except LogConfigError as error:
            sys.stderr.write(f"glade: error: {error}\n")
            return EXIT_FAILURE
        self.raw_env.apply(self.cfg.raw_env)
        set_title("master", self.cfg)
        zygote_mode = self.cfg.preload_app and self.cfg.worker_class == "gevent"
        if self.cfg.preload_app and not zygote_mode and not self._preload():
            return EXIT_FAILURE
        try:
            server_context(self.cfg)  # only to check the files before anything listens
            call_hook(self.cfg, "on_starting", self)
            self._open_listeners()
            self._open_probes()
            if zygote_mode:
                self.zygote = self._start_zygote(self.cfg)
            self._write_pidfile()
            call_hook(self.cfg, "when_ready", self)
        except (BindError, HookFailed, MissingLibrary, OSError, TLSError, ZygoteFailed) as error:
            if isinstance(error, ZygoteFailed):
                error = f"--preload: {error}; stopping"
            error_log.error("%s", error)
            self._close_listeners()
            if self.probes is not None:
                self.probes.close()
            return EXIT_FAILURE
        self._install_signals()
        error_log.info("Starting glade %s", _version())
        for listener in self.listeners:
            error_log.info("Listening at: %s (%d)", _url(listener, self.cfg), self.pid)
        if self.probes is not None:
            error_log.info("Metrics and probes at: %s", _url(self.probes.listener, self.cfg))
        error_log.info("Using worker: %s", self.cfg.worker_class)
        warn, line = extensions.summary()
        (error_log.warning if warn else error_log.info)("%s", line)
        try:
            self._loop()
        finally:
            self._cleanup()
            call_hook(self.cfg, "on_exit", self)
        return self.exit_code

    def _preload(self) -> bool:
        """--preload: the sync worker's app is imported once, here, and shared
        by every worker after fork. False if it cannot be loaded.

        Not for the gevent worker: gevent must patch the standard library
        before the app is imported, and the master never imports gevent; a
        zygote does it instead (_start_zygote).
        """
        from glade.workers.base import load_app

        try:
            self.preloaded_app = load_app(self.cfg)
        except AppImportError as error:
            error_log.error("%s", error)
            error_log.error("--preload: the app could not be loaded; stopping")
            return False
        error_log.info("Preloaded the app: %s", self.cfg.wsgi_app)
        return True

    def _open_listeners(self) -> None:
        inherited = systemd.listen_fds()
        if inherited:
            self.listeners = inherited
            self.socket_activated = upgrade.socket_activated(self.upgraded_from)
            error_log.info("Using %d inherited listening sockets", len(inherited))
            return
        self.listeners = self._bind_all(self.cfg.bind, {})

    def _bind_all(self, addresses: list[str], existing: dict[str, socket.socket]):
        listeners = []
        try:
            identity = resolve_identity(self.cfg)
        except IdentityError as error:
            raise BindError(str(error)) from None
        owner = None
        if identity.changes_anything:  # a UNIX socket file goes to the workers' user
            owner = (
                -1 if identity.uid is None else identity.uid,
                -1 if identity.gid is None else identity.gid,
            )
        try:
            for text in addresses:
                if text in existing:
                    listeners.append(existing[text])
                    continue
                address = parse_address(text)
                cfg = self.cfg
                listeners.append(bind(address, cfg.backlog, cfg.umask, owner, cfg.reuse_port))
                if address.family == socket.AF_UNIX:
                    self.owned_unix_paths.add(address.host)
        except BindError:
            for listener in listeners:
                if listener not in existing.values():
                    listener.close()
            raise
        return listeners

    def _open_probes(self) -> None:
        """--metrics-bind: /metrics, /livez and /readyz, served by this loop."""
        text = self.cfg.metrics_bind
        if not text:
            return
        require_prometheus_client()
        address = parse_address(text)
        try:
            sock = bind(address, 64, reuse_port=address.family != socket.AF_UNIX)
        except BindError:
            if address.family != socket.AF_UNIX or not self.upgraded_from:
                raise
            # The old master of an upgrade still holds the path: take it over.
            os.unlink(address.host)
            sock = bind(address, 64)
        sock.set_inheritable(False)
        self.probes = ProbeServer(sock, self._probe_answer)

    def _probe_answer(self, path: str) -> tuple[int, str, bytes]:
        if path == "/livez":
            ok, text = self._live()
        elif path == "/readyz":
            ok, text = self._ready()
        elif path == "/metrics":
            from prometheus_client import CONTENT_TYPE_LATEST

            body = self.metrics.exposition(self.workers.values(), self.listeners)
            return 200, CONTENT_TYPE_LATEST, body
        else:
            return 404, "text/plain", b"/metrics, /livez or /readyz\n"
        return (200 if ok else 503), "text/plain", text.encode() + b"\n"

    def _live(self) -> tuple[bool, str]:
        """The master's loop runs (it answers this), and every serving worker beats."""
        timeout = self.cfg.timeout
        if timeout:
            now = monotonic()
            for worker in self.workers.values():
                serving = worker.state in (WorkerState.READY, WorkerState.RETIRING)
                if serving and worker.booted and now - worker.last_beat > timeout:
                    return False, f"worker {worker.pid} has not beaten for {timeout:g} s"
        return True, "live"

    def _ready(self) -> tuple[bool, str]:
        """Serving, with a ready worker, and no stop begun (the shutdown delay
        included: traffic must move away before the listeners close)."""
        if self.drain_at is not None:
            return False, "not ready: stopping (shutdown delay)"
        if self.lifecycle.state is not State.SERVING:
            return False, f"not ready: {self.lifecycle.state.value}"
        ready = sum(1 for w in self.workers.values() if w.state is WorkerState.READY)
        if not ready:
            return False, "not ready: no worker is ready"
        return True, f"ready: {ready} workers"

    def _start_zygote(self, cfg) -> Zygote:
        """--preload with gevent: fork a zygote that patches, imports the app
        and forks the workers (workers/zygote.py); once it is ready."""
        become_subreaper()

        def become_zygote(sock: socket.socket) -> None:
            self._shed_master_state()
            from glade.workers.gevent import GeventWorker
            from glade.workers.zygote import run_zygote

            run_zygote(cfg, self, sock, GeventWorker, self.listeners)

        zygote = Zygote.start(become_zygote, cfg.timeout)
        error_log.info("The zygote %d has imported the app (--preload)", zygote.pid)
        return zygote

    def _replace_zygote(self, zygote: Zygote | None) -> None:
        old = self.zygote
        self.zygote = zygote
        if old is not None:
            self.retired_zygotes.add(old.pid)
            old.stop()

    def _write_pidfile(self) -> None:
        path = getattr(self.cfg, "pidfile", None)
        if not path:
            return
        if self.upgraded_from and _alive(self.upgraded_from):
            path += upgrade.NEW_SUFFIX  # the old master still runs and owns the plain name
        self.pidfile = Pidfile(path)
        self.pidfile.write(self.pid)

    def _install_signals(self) -> None:
        self._wake_r, self._wake_w = os.pipe()
        for fd in (self._wake_r, self._wake_w):
            os.set_blocking(fd, False)
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
            statsd.send_workers_gauge(self._active)  # --statsd-host: gunicorn.workers
            self._wait_for_events(self._next_timeout())
            if self.probes is not None:
                self.probes.expire()
            while self.signal_queue:
                signum = self.signal_queue.pop(0)
                name = signal.Signals(signum).name[3:].lower()
                getattr(self, f"handle_{name}")()
            self._check_timers()

    def _next_timeout(self) -> float:
        timeout = 1.0
        for moment in (self.drain_at, self.respawn_not_before or None):
            if moment is not None:
                timeout = min(timeout, moment - monotonic())
        for worker in self.workers.values():
            if worker.kill_at is not None:
                timeout = min(timeout, worker.kill_at - monotonic())
        return max(timeout, 0.01)

    def _wait_for_events(self, timeout: float) -> None:
        by_fd = {w.status_fd: w for w in self.workers.values()}
        probes = self.probes
        probe_fds = [probes.fileno(), *probes.client_fds()] if probes is not None else []
        try:
            readable, _, _ = select.select([self._wake_r, *by_fd, *probe_fds], [], [], timeout)
        except InterruptedError:
            return
        for fd in readable:
            if fd == self._wake_r:
                _drain_fd(fd)
            elif fd in by_fd:
                self._read_status(by_fd[fd])
            else:
                probes.ready(fd)

    def _read_status(self, worker: WorkerHandle) -> None:
        try:
            data = os.read(worker.status_fd, 65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            return
        if not data:
            return  # the worker closed its end; SIGCHLD tells the rest
        worker.buffer += data
        *lines, worker.buffer = worker.buffer.split(b"\n")
        now = monotonic()
        for raw in lines:
            kind, _, rest = raw.decode("utf-8", "replace").partition(" ")
            worker.last_beat = now
            if kind == "beat":
                worker.busy = int(rest) if rest.isdigit() else 0
            elif kind == "ready":
                worker.ready_at = now
                if worker.state is WorkerState.BOOTING:
                    worker.move(WorkerState.READY)
                self._on_worker_ready(worker)
            elif kind == "retiring":
                cause, _, why = rest.partition(" ")
                if cause not in RESTART_CAUSES:
                    cause, why = "max_requests", rest
                self._retire(worker, why or "asked to be replaced", cause)
            elif kind == "stats":
                worker.stats = self.metrics.parse_snapshot(rest) or worker.stats
            elif kind == "boot-error":
                worker.boot_error = rest

    # -- workers -------------------------------------------------------------

    def _maintain_workers(self) -> None:
        if self.lifecycle.state not in (State.BOOTING, State.SERVING):
            return
        active = self._active()
        if len(active) > self.num_workers:
            for worker in sorted(active, key=lambda w: w.age)[: len(active) - self.num_workers]:
                self._retire(worker, "fewer workers wanted", "scale")
        missing = self.num_workers - len(active)
        if missing > 0 and monotonic() >= self.respawn_not_before:
            self.respawn_not_before = 0.0
            for _ in range(missing):
                self._spawn()
        self._stop_replaced_workers()

    def _retire(self, worker: WorkerHandle, why: str, cause: str) -> None:
        """Replace the worker the rolling way; `cause` counts it (RESTART_CAUSES)."""
        if worker.state not in (WorkerState.BOOTING, WorkerState.READY):
            return
        error_log.info("Replacing worker %d: %s", worker.pid, why)
        worker.move(WorkerState.RETIRING)
        self.metrics.restart(cause)

    def _active(self) -> list[WorkerHandle]:
        """The workers that count toward the wanted number: active ones of
        the current generation (a failed reload's are given up)."""
        generation = self.generation
        return [w for w in self.workers.values() if w.active and w.generation == generation]

    def _retiring(self) -> list[WorkerHandle]:
        return [w for w in self.workers.values() if w.state is WorkerState.RETIRING]

    def _stop_replaced_workers(self) -> None:
        """Drain retiring workers once enough of their successors are ready."""
        retiring = self._retiring()
        if not retiring:
            return
        ready = sum(1 for w in self.workers.values() if w.state is WorkerState.READY)
        if ready >= self.num_workers:
            for worker in retiring:
                self._stop_worker(worker, graceful=True)

    def _spawn(self) -> None:
        from glade.workers.gevent import GeventWorker
        from glade.workers.sync import SyncWorker

        worker_class = GeventWorker if self.cfg.worker_class == "gevent" else SyncWorker
        worker_class.preload_in_master()
        status_r, status_w = os.pipe()
        control_r, control_w = os.pipe()
        for fd in (status_r, control_w):
            os.set_blocking(fd, False)
        age = self.next_age
        self.next_age += 1
        worker = worker_class(self.cfg, self.listeners, age, status_w, self.pid)
        worker.control_fd = control_r
        worker.preloaded_app = self.preloaded_app
        call_hook(self.cfg, "pre_fork", self, worker)
        if self.zygote is not None:
            pid = self._fork_from_zygote(age, status_w, control_r)
            os.close(status_w)
            os.close(control_r)
            if pid is None:
                os.close(status_r)
                os.close(control_w)
                return
        else:
            pid = self._fork_worker(worker, status_r, status_w, control_r, control_w)
        now = monotonic()
        handle = self.workers[pid] = WorkerHandle(
            pid, age, self.generation, status_r, control_w, started=now, last_beat=now
        )
        handle.worker = worker
        if self.cfg.max_worker_lifetime:
            jitter = random.uniform(0, self.cfg.max_worker_lifetime_jitter)
            handle.retire_at = now + self.cfg.max_worker_lifetime + jitter

    def _fork_from_zygote(self, age: int, status_w: int, control_r: int) -> int | None:
        """A worker forked by the zygote; a zygote that fails is replaced once.
        None when no worker could be started (the next spawn tries again)."""
        for attempt in (1, 2):
            try:
                return self.zygote.fork_worker(age, status_w, control_r)
            except ZygoteFailed as error:
                error_log.error("--preload: %s; starting a new zygote", error)
                if attempt == 2:
                    break
                try:
                    self._replace_zygote(self._start_zygote(self.cfg))
                except ZygoteFailed as boot_error:
                    error_log.error("--preload: %s", boot_error)
                    break
        self.respawn_not_before = monotonic() + self.respawn_delay
        self.respawn_delay = min(self.respawn_delay * 2, MAX_RESPAWN_DELAY)
        return None

    def _fork_worker(
        self, worker, status_r: int, status_w: int, control_r: int, control_w: int
    ) -> int:
        """Fork a worker from this process; its pid."""
        sys.stdout.flush()
        sys.stderr.flush()
        # Ignored before fork so that the child never has a moment in which
        # Ctrl+C could reach it with the default handler; the master
        # restores its own handler right after.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        # Frozen objects are never scanned by the worker's garbage collector,
        # which would otherwise write to every inherited object and so copy
        # its page: about 1.5 MB less private memory per worker. The master
        # unfreezes its own right after, so its collector still sees them.
        gc.freeze()
        pid = os.fork()
        if pid == 0:
            self._become_worker(worker, status_r, control_w)
        gc.unfreeze()
        signal.signal(signal.SIGINT, self._queue_signal)
        os.close(status_w)
        os.close(control_r)
        return pid

    def _become_worker(self, worker, status_r: int, control_w: int) -> None:
        """In the child: shed the master's state and run the worker. Never returns."""
        try:
            self._shed_master_state()
            for fd in (status_r, control_w):
                os.close(fd)
        except BaseException:
            error_log.critical("worker %d could not start", os.getpid(), exc_info=True)
            os._exit(1)
        run_worker_process(worker, self.cfg, self)

    def _shed_master_state(self) -> None:
        """In a child of the master (a worker, or the zygote): signals meant for
        the master (a terminal sends INT and HUP to the whole group) are
        ignored; TERM, QUIT, USR1 and CHLD get their defaults, which the
        child's own handlers replace; the master's descriptors are closed."""
        signal.set_wakeup_fd(-1)
        for signum in HANDLED_SIGNALS:
            if signum in (signal.SIGTERM, signal.SIGQUIT, signal.SIGUSR1, signal.SIGCHLD):
                signal.signal(signum, signal.SIG_DFL)
            else:
                signal.signal(signum, signal.SIG_IGN)
        for fd in (self._wake_r, self._wake_w):
            if fd >= 0:
                os.close(fd)
        for other in self.workers.values():
            os.close(other.status_fd)
            os.close(other.control_fd)
        if self.probes is not None:
            self.probes.close()
        if self.zygote is not None:
            self.zygote.close_in_child()

    def _stop_worker(self, worker: WorkerHandle, *, graceful: bool) -> None:
        """Graceful: drain by the deadline the master owns. Otherwise: stop now."""
        now = monotonic()
        if graceful:
            if worker.told_to_stop:
                return
            deadline = now + self.cfg.graceful_timeout
            last = " last" if self.listeners_closing else ""
            _write_line(worker.control_fd, f"drain {deadline:.6f}{last}")
            worker.kill_at = deadline + KILL_BACKSTOP
            signum = signal.SIGTERM
        else:
            worker.kill_at = min(
                worker.kill_at or now + 60, now + FORCED_STOP_GRACE + KILL_BACKSTOP
            )
            signum = signal.SIGQUIT
        if not worker.told_to_stop:
            worker.move(WorkerState.STOPPING)
        _kill(worker.pid, signum)

    def _check_timers(self) -> None:
        now = monotonic()
        if self.drain_at is not None and now >= self.drain_at:
            self.drain_at = None
            self._begin_stop("shutdown delay over")
        timeout = self.cfg.timeout
        for worker in list(self.workers.values()):
            aborting = worker.state is WorkerState.ABORTING
            if worker.kill_at is not None and now >= worker.kill_at:
                if aborting:
                    error_log.error(
                        "Worker %d did not answer SIGABRT (blocked inside C code?); "
                        "killing it with SIGKILL",
                        worker.pid,
                    )
                else:
                    error_log.error("Worker %d missed its deadline; killing it", worker.pid)
                _kill(worker.pid, signal.SIGKILL)
                worker.kill_at = None
            elif not timeout or aborting:
                continue
            elif worker.booted and now - worker.last_beat > timeout:
                error_log.critical(
                    "WORKER TIMEOUT: worker %d has not run its event loop for %.1f s; "
                    "aborting it (its stack follows from the worker)",
                    worker.pid,
                    now - worker.last_beat,
                )
                self._abort(worker, now)
            elif (
                not worker.booted
                and worker.state in (WorkerState.BOOTING, WorkerState.RETIRING)
                and now - worker.started > timeout
            ):
                error_log.critical(
                    "WORKER TIMEOUT: worker %d has not finished booting in %.1f s; "
                    "aborting it (where the app's import hangs follows from the worker)",
                    worker.pid,
                    now - worker.started,
                )
                self._abort(worker, now)
        self._recycle(now)
        if self.upgraded_from and os.getppid() != self.upgraded_from:
            self._promote()
        if self.lifecycle.draining and not self.workers:
            self.lifecycle.move(State.STOPPED, "all workers exited")

    def _recycle(self, now: float) -> None:
        """--max-worker-lifetime and --max-worker-memory: replace, the rolling
        way, a serving worker that is too old or stays too big."""
        if not self.lifecycle.serving:
            return
        limit = self.cfg.max_worker_memory * MIB
        check_memory = limit and now - self.memory_checked_at >= MEMORY_CHECK_EVERY
        if check_memory:
            self.memory_checked_at = now
        for worker in list(self.workers.values()):
            if worker.state is not WorkerState.READY:
                continue
            if worker.retire_at is not None and now >= worker.retire_at:
                self._retire(
                    worker,
                    f"served for {now - worker.started:.0f} s (--max-worker-lifetime)",
                    "lifetime",
                )
                continue
            if not check_memory:
                continue
            rss = resident_bytes(worker.pid) or 0
            if rss <= limit:
                worker.checks_over_memory = 0
                continue
            worker.checks_over_memory += 1
            if worker.checks_over_memory >= MEMORY_CHECKS_OVER:
                self._retire(
                    worker,
                    f"its memory, {rss / MIB:.0f} MiB, stayed above --max-worker-memory "
                    f"{self.cfg.max_worker_memory} MiB",
                    "memory",
                )

    def _abort(self, worker: WorkerHandle, now: float) -> None:
        """SIGABRT makes a stuck worker log its stack and exit; SIGKILL follows if it cannot.

        A stuck worker that was serving is replaced at once; one stuck booting
        is not, since its exit is a boot error, which decides what comes next.
        """
        if worker.booted and worker.state is not WorkerState.STOPPING:
            self.metrics.restart("timeout")
        worker.move(WorkerState.ABORTING)
        worker.kill_at = now + KILL_BACKSTOP
        _kill(worker.pid, signal.SIGABRT)

    def _reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            if pid == self.upgrade_child:
                self._on_upgrade_exit(status)
                continue
            if self.zygote is not None and pid == self.zygote.pid:
                error_log.error(
                    "The zygote %d exited (%s); the next worker starts a new one",
                    pid,
                    _describe_exit(os.waitstatus_to_exitcode(status)),
                )
                continue
            if pid in self.retired_zygotes:
                self.retired_zygotes.discard(pid)
                continue
            worker = self.workers.pop(pid, None)
            if worker is None:
                continue
            self._read_status(worker)
            os.close(worker.status_fd)
            os.close(worker.control_fd)
            self.metrics.worker_gone(worker.stats)
            self._on_worker_exit(worker, status)
            if worker.worker is not None:
                worker.worker.pid = pid  # in the master it still held the master's pid
                call_hook(self.cfg, "child_exit", self, worker.worker)

    def _on_worker_exit(self, worker: WorkerHandle, status: int) -> None:
        from glade.workers.base import EXIT_BOOT_ERROR

        code = os.waitstatus_to_exitcode(status)
        if worker.boot_error is not None or code == EXIT_BOOT_ERROR:
            self._on_boot_error(worker, worker.boot_error or "a worker failed to boot")
            return
        if worker.state is WorkerState.ABORTING and not worker.booted:
            reason = f"the app did not finish loading within {self.cfg.timeout:.0f} s (--timeout)"
            self._on_boot_error(worker, reason)
            return
        if worker.state is WorkerState.ABORTING:
            how = f"status {code}" if code >= 0 else signal.Signals(-code).name
            error_log.error("Stuck worker %d is gone (%s); starting a new one", worker.pid, how)
            return
        if worker.state is WorkerState.STOPPING:
            if code == 0:
                error_log.info("Worker %d exited", worker.pid)
            elif not worker.booted:
                error_log.info("Worker %d stopped while booting", worker.pid)
            else:
                error_log.warning("Worker %d stopped (%s)", worker.pid, _describe_exit(code))
            return
        error_log.error("Worker %d died unexpectedly (%s)", worker.pid, _describe_exit(code))
        self.metrics.restart("crash")
        if monotonic() - worker.started < 1.0:
            self.respawn_not_before = monotonic() + self.respawn_delay
            self.respawn_delay = min(self.respawn_delay * 2, MAX_RESPAWN_DELAY)

    def _on_worker_ready(self, worker: WorkerHandle) -> None:
        error_log.info("Booted worker %d (age %d)", worker.pid, worker.age)
        self.respawn_delay = MIN_RESPAWN_DELAY
        current = self._active()
        all_ready = len(current) >= self.num_workers and all(
            w.state is WorkerState.READY for w in current
        )
        if self.lifecycle.state is State.BOOTING and all_ready:
            self.lifecycle.move(State.SERVING, f"{len(current)} workers ready")
            systemd.notify("READY=1", f"STATUS=serving with {len(current)} workers")
        elif self.reloading is not None and all_ready:
            self.reloading = None
            error_log.info("Reload complete: %d new workers serving", len(current))
            systemd.notify("READY=1", f"STATUS=serving with {len(current)} workers")
        self._stop_replaced_workers()

    def _on_boot_error(self, worker: WorkerHandle, reason: str) -> None:
        self.metrics.boot_failures += 1
        if worker.generation != self.generation:
            return  # a worker of a reload already given up
        if self.reloading is not None and worker.generation == self.generation:
            old_generation, old_cfg = self.reloading
            self.reloading = None
            error_log.error("Reload failed: %s", reason)
            error_log.error("The running workers keep serving the previous app and config")
            self.cfg, self.generation = old_cfg, old_generation
            self.num_workers = old_cfg.workers
            self.raw_env.apply(old_cfg.raw_env)  # for the old app's respawned workers
            for other in self.workers.values():
                if other.generation == old_generation:
                    other.keep()
                elif not other.told_to_stop:
                    self._stop_worker(other, graceful=False)
            systemd.notify("READY=1", "STATUS=reload failed; serving the previous app")
            return
        if self.cfg.reload and self.lifecycle.state is State.SERVING:
            # --reload: the code being edited does not load yet. The workers
            # with the previous code keep serving; the next change retries.
            error_log.error("%s", reason)
            error_log.error("The changed app did not load; the running workers keep serving")
            # Keep the newest of the retiring workers, as many as are missing:
            # an older one may still run code from before the last good edit.
            missing = self.num_workers - len(self._active())
            retiring = self._retiring()
            for other in sorted(retiring, key=lambda w: w.age, reverse=True)[: max(missing, 0)]:
                other.keep()
            self._stop_replaced_workers()
            self.respawn_not_before = monotonic() + self.respawn_delay
            self.respawn_delay = min(self.respawn_delay * 2, MAX_RESPAWN_DELAY)
            return
        if self.lifecycle.state in (State.BOOTING, State.SERVING):
            error_log.error("%s", reason)
            error_log.error("A worker could not boot; stopping")
            self.exit_code = EXIT_FAILURE
            self._begin_stop("a worker could not boot")

    # -- signal handlers (called from the main loop, never from a handler) -----

    def handle_chld(self) -> None:
        self._reap()

    def handle_int(self) -> None:
        """Ctrl+C: the first drains (no shutdown delay: a person is waiting), the second forces."""
        self.interrupts += 1
        if self.interrupts == 1 and not self.lifecycle.draining:
            busy = sum(w.busy for w in self.workers.values())
            print(
                f"Shutting down: draining {busy} requests (Ctrl+C again to force)",
                file=sys.stderr,
                flush=True,
            )
            self._begin_stop("SIGINT")
        else:
            self._force_stop("second SIGINT")

    def handle_term(self) -> None:
        if self.lifecycle.draining or self.drain_at is not None:
            return
        delay = getattr(self.cfg, "shutdown_delay", 0) or 0
        if delay > 0 and self.lifecycle.serving:
            error_log.info(
                "SIGTERM: still serving for %.1f s (shutdown_delay), then draining", delay
            )
            systemd.notify(f"STATUS=stopping in {delay:g} s")
            self.drain_at = monotonic() + delay
            return
        self._begin_stop("SIGTERM")

    def handle_quit(self) -> None:
        self._force_stop("SIGQUIT")

    def handle_hup(self) -> None:
        """Reload config and app; the new workers are ready before the old ones drain."""
        if self.lifecycle.state is not State.SERVING or self.reloading is not None:
            error_log.warning("SIGHUP ignored: the server is %s", self.lifecycle.state.value)
            return
        systemd.notify("RELOADING=1", f"MONOTONIC_USEC={int(monotonic() * 1_000_000)}")
        error_log.info("SIGHUP: reloading the config and the app")
        old_cfg = self.cfg
        try:
            new_cfg = self.reload_config() if self.reload_config else old_cfg
            setup_logging(new_cfg)  # a logconfig_dict that cannot be applied stops here
            if new_cfg.bind != old_cfg.bind:
                existing = {
                    text: sock for text, sock in zip(old_cfg.bind, self.listeners, strict=False)
                }
                listeners = self._bind_all(new_cfg.bind, existing)
                for sock in self.listeners:
                    if sock not in listeners:
                        sock.close()
                self.listeners = listeners
                for listener in listeners:
                    error_log.info("Listening at: %s (%d)", _url(listener, new_cfg), self.pid)
            # --preload with gevent: the new code is imported by a new zygote.
            zygote = None
            if new_cfg.preload_app and new_cfg.worker_class == "gevent":
                zygote = self._start_zygote(new_cfg)
        except Exception as error:  # a ConfigError, a BindError, a ZygoteFailed or the file's own
            setup_logging(old_cfg)
            error_log.error("Reload failed: %s; keeping the running config", error)
            systemd.notify("READY=1")
            return
        self.cfg = new_cfg
        self._replace_zygote(zygote)
        set_title("master", new_cfg)
        self.raw_env.apply(new_cfg.raw_env)
        call_hook(new_cfg, "on_reload", self)
        self.reloading = (self.generation, old_cfg)
        self.generation += 1
        self.num_workers = new_cfg.workers
        for worker in self.workers.values():
            self._retire(worker, "reload", "reload")

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
        error_log.info("SIGUSR1: reopening log files")
        reopen_log_files()
        for worker in self.workers.values():
            _kill(worker.pid, signal.SIGUSR1)

    def handle_winch(self) -> None:
        """Drain every worker but keep the master and its sockets; HUP brings workers back."""
        if not self.lifecycle.serving:
            return
        error_log.info("SIGWINCH: draining all workers; SIGHUP starts them again")
        self._set_worker_count(0, "SIGWINCH")
        for worker in self.workers.values():
            self._retire(worker, "SIGWINCH", "scale")

    def handle_usr2(self) -> None:
        """Binary upgrade: exec a new master that inherits the listening sockets."""
        if self.upgrade_child is not None or not self.lifecycle.serving:
            error_log.warning("SIGUSR2 ignored: an upgrade is running or the server is stopping")
            return
        if self.upgraded_from is not None:
            error_log.warning("SIGUSR2 ignored: this master has not yet replaced the old one")
            return
        call_hook(self.cfg, "pre_exec", self)
        if self.pidfile is not None:
            self.pidfile.rename(self.pidfile.path + upgrade.OLD_SUFFIX)
        pid = upgrade.start_new_master(
            self.listeners, self.argv, self.pid, socket_activated=self.socket_activated
        )
        self.upgrade_child = pid
        self.owned_unix_paths.clear()  # the new master serves those paths now
        error_log.info("SIGUSR2: started a new master %d; send SIGTERM here to finish", pid)

    def _on_upgrade_exit(self, status: int) -> None:
        self.upgrade_child = None
        error_log.error(
            "The new master from SIGUSR2 exited (%s); this master keeps serving",
            _describe_exit(os.waitstatus_to_exitcode(status)),
        )
        if self.pidfile is not None and self.pidfile.path.endswith(upgrade.OLD_SUFFIX):
            self.pidfile.rename(self.pidfile.path[: -len(upgrade.OLD_SUFFIX)])

    def _promote(self) -> None:
        error_log.info("The old master %d is gone; this master takes over", self.upgraded_from)
        self.upgraded_from = None
        if self.pidfile is not None and self.pidfile.path.endswith(upgrade.NEW_SUFFIX):
            self.pidfile.rename(self.pidfile.path[: -len(upgrade.NEW_SUFFIX)])

    # -- stopping --------------------------------------------------------------

    def _begin_stop(self, why: str) -> None:
        if self.lifecycle.draining or self.lifecycle.stopped:
            return
        self.drain_at = None
        self.lifecycle.move(State.DRAINING, why)
        systemd.notify("STOPPING=1", f"STATUS=draining ({why})")
        # The master's copies close first: the kernel keeps queueing new
        # connections for as long as any worker still holds the socket, and
        # each worker accepts what is queued before it closes its own copy.
        # When the sockets close for good, no new handshake may begin first:
        # one completed after a worker's last accept would be reset.
        if self._listeners_close_for_good():
            # Workers may keep accepting a moment only if nothing new can
            # arrive: TCP listeners filtered, UNIX socket files removed.
            closed_to_new = [
                refuse_new_connections(listener) or self._unlinks_on_close(listener)
                for listener in self.listeners
            ]
            self.listeners_closing = all(closed_to_new)
        self._close_listeners()
        for worker in self.workers.values():
            self._stop_worker(worker, graceful=True)
        if not self.workers:
            self.lifecycle.move(State.STOPPED, why)

    def _listeners_close_for_good(self) -> bool:
        """Not under socket activation (systemd keeps the sockets and their
        queues), and no other master of an upgrade shares them."""
        if self.socket_activated or self.upgrade_child is not None:
            return False
        return not (self.upgraded_from and _alive(self.upgraded_from))

    def _force_stop(self, why: str) -> None:
        if not self.lifecycle.draining:
            self._begin_stop(why)
        error_log.info("Forced stop (%s)", why)
        for worker in self.workers.values():
            self._stop_worker(worker, graceful=False)

    def _unlinks_on_close(self, listener: socket.socket) -> bool:
        """A UNIX socket whose file this master removes when it closes it."""
        if listener.family != socket.AF_UNIX:
            return False
        try:
            return listener.getsockname() in self.owned_unix_paths
        except OSError:
            return False

    def _close_listeners(self) -> None:
        for listener in self.listeners:
            try:
                if listener.family == socket.AF_UNIX:
                    path = listener.getsockname()
                    if path in self.owned_unix_paths and os.path.exists(path):
                        os.unlink(path)
                listener.close()
            except OSError:
                pass
        self.listeners = []

    def _cleanup(self) -> None:
        self._close_listeners()
        self._replace_zygote(None)
        if self.probes is not None:
            self.probes.close()
            self.probes = None
        for worker in self.workers.values():
            _kill(worker.pid, signal.SIGKILL)
        if self.pidfile is not None:
            self.pidfile.remove(self.pid)
        error_log.info("Shutting down: master")


class RawEnv:
    """`raw_env` (gunicorn's `-e NAME=VALUE`), set in the environment workers inherit.

    A reload applies the new list in full: a name dropped from it gets back
    the value it had before Glade set it (or is unset), so the new workers
    see exactly what the new config says.
    """

    def __init__(self) -> None:
        self._before: dict[str, str | None] = {}  # name -> value before Glade set it

    def apply(self, items: list[str]) -> None:
        wanted = dict(item.partition("=")[::2] for item in items)
        for name in [name for name in self._before if name not in wanted]:
            previous = self._before.pop(name)
            if previous is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = previous
        for name, value in wanted.items():
            self._before.setdefault(name, os.environ.get(name))
            os.environ[name] = value


def _kill(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        pass


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _write_line(fd: int, line: str) -> None:
    try:
        os.write(fd, (line + "\n").encode("ascii"))
    except OSError:
        pass  # the worker is gone; SIGCHLD will say so


def _drain_fd(fd: int) -> None:
    try:
        while os.read(fd, 4096):
            pass
    except (BlockingIOError, InterruptedError):
        pass


def _describe_exit(code: int) -> str:
    if code < 0:
        name = signal.Signals(-code).name
        return f"killed by {name}" + (", perhaps out of memory" if name == "SIGKILL" else "")
    return f"exit status {code}"


def _url(listener, cfg) -> str:
    address = bound_address(listener)
    scheme = "https" if cfg.certfile else "http"
    return address if address.startswith("unix:") else f"{scheme}://{address}"


def _version() -> str:
    from glade import __version__

    return __version__
