"""What every worker does: boot, load the app, report to the master, serve.

A worker talks to its master through one pipe of short text lines:
`ready`, `beat <busy requests>`, `retiring <cause> <why>`, `boot-error
<message>`, and with --metrics-bind `stats <json>` (workers/stats.py). The
beats are the heartbeat (a worker whose beats stop is stuck). The master writes the other
way on a control pipe (the drain deadline); its end of file, or a write
that fails, means the master is gone, and the worker drains and exits.
"""

from __future__ import annotations

import importlib
import os
import random
import signal
import socket
import sys
import sysconfig
import traceback
from time import monotonic

from glade import statsd
from glade.addresses import bound_address
from glade.app import AppImportError, import_app, prepare_path
from glade.hooks import call_hook
from glade.http.parser import Limits
from glade.identity import IdentityError
from glade.identity import switch as switch_identity
from glade.lifecycle import Lifecycle, State
from glade.logging import AccessLog, access_log_wanted, error_log
from glade.tls import TLSError, server_context
from glade.workers.options import ServingOptions, ServingState
from glade.workers.reloader import SourceWatcher
from glade.workers.stats import RequestStats
from glade.wsgi.environ import ErrorStream, environ_template
from glade.wsgi.file_wrapper import FileWrapper
from glade.wsgi.proxy import TrustedPeers, behind_proxy

EXIT_OK = 0
EXIT_BOOT_ERROR = 3
EXIT_ABORTED = 4


class Worker:
    """Base worker; subclasses provide `prepare()` and `serve()`."""

    kind = "base"
    multithread = False
    # How connections bound their waits (see workers/connection.py): the
    # gevent worker sweeps, except over TLS.
    sweeps_deadlines = False
    # How long a close that may leave client bytes unread reads them first.
    linger_seconds = 2.0
    # False: every response closes its connection (the sync worker).
    keeps_alive = True

    def __init__(self, cfg, listeners, age: int, status_fd: int, master_pid: int) -> None:
        """Created in the master just before fork (hooks like pre_fork see it)."""
        self.cfg = cfg
        self.log = error_log
        self.listeners = listeners
        self.age = age
        self.status_fd = status_fd
        self.master_pid = master_pid
        self.pid = master_pid  # until after_fork()
        self.lifecycle = Lifecycle(f"worker age {age}")
        self.tls = None  # the SSLContext, once built in run()
        self.watcher: SourceWatcher | None = None  # --reload
        self.preloaded_app = None  # --preload (sync worker): imported by the master
        self.app = None
        self.options: ServingOptions | None = None  # built once the app is loaded
        self.state = ServingState(self.request_done)
        self.requests_served = 0
        # --metrics-bind: what this worker counts for the master's /metrics.
        self.stats = RequestStats() if cfg.metrics_bind else None
        self.max_requests = 0
        if cfg.max_requests:
            self.max_requests = cfg.max_requests + random.randint(0, cfg.max_requests_jitter)
        self.drain_deadline: float | None = None
        self.master_gone = False
        self.control_fd = -1  # the master writes `drain <deadline>` here before SIGTERM
        # The master's `drain <deadline> last`: the listeners close for good
        # with this drain, and new handshakes are already refused.
        self.listeners_closing = False
        self._announced_deadline: float | None = None
        self._retiring_reported = False

    @staticmethod
    def preload_in_master() -> None:
        """Import, before the first fork, what every worker will need anyway."""

    def after_fork(self) -> None:
        self.pid = os.getpid()
        self.lifecycle.who = f"worker {self.pid}"

    @property
    def alive(self) -> bool:
        """gunicorn's name, for hooks: True until the worker starts to stop."""
        return self.lifecycle.state in (State.BOOTING, State.SERVING)

    def request_done(self) -> None:
        self.requests_served += 1
        limit = self.max_requests
        if limit and self.requests_served >= limit and not self._retiring_reported:
            # The master starts a replacement and, once it is ready, drains
            # this worker: until then it keeps serving.
            self._retiring_reported = True
            self.report(
                f"retiring max_requests served {self.requests_served} requests (max_requests)"
            )

    # -- boot --------------------------------------------------------------

    def run(self) -> int:
        """The whole life of the worker process; returns its exit status."""
        # From the first moment: an app whose import hangs past --timeout is
        # aborted too, and says where it hung.
        self.install_abort_handler()
        try:
            self.prepare()
            # After patching (gevent's ssl), before the switch (the key may be root's).
            self.tls = server_context(self.cfg)
            switch_identity(self.cfg)  # before any code of the app's runs
            app = self.preloaded_app if self.preloaded_app is not None else load_app(self.cfg)
            self.options = self.serving_options(app)
            call_hook(self.cfg, "post_worker_init", self)
            if self.cfg.reload:
                self.watcher = SourceWatcher(self.cfg.reload_extra_files)
        except (AppImportError, IdentityError, TLSError) as error:
            self.report(f"boot-error {error}")  # each one's text is the line to show
            return EXIT_BOOT_ERROR
        except BootTimedOut:
            return EXIT_BOOT_ERROR  # already logged and reported by the handler
        except Exception as error:
            # Anything else while booting: one line, the traceback at debug level.
            error_log.debug("worker %d failed to boot:\n%s", self.pid, _short_trace())
            self.report(
                f"boot-error the worker failed to boot: {type(error).__name__}: {error}"
                + _raised_where()
            )
            return EXIT_BOOT_ERROR
        self.templates = [self.environ_template_for(listener) for listener in self.listeners]
        try:
            return self.serve()
        except WorkerAborted:
            return EXIT_ABORTED
        finally:
            self.report_stats()  # the last counts: the master keeps them
            statsd.flush()

    def environ_template_for(self, listener) -> dict:
        address = listener.getsockname()
        server_address = address[:2] if isinstance(address, tuple) else bound_address(listener)
        return environ_template(
            server_address=server_address,
            url_scheme="http" if self.tls is None else "https",
            script_name=self.cfg.script_name,
            multithread=self.multithread,
            multiprocess=self.cfg.workers > 1,
            errors=ErrorStream(),
            file_wrapper=FileWrapper,
        )

    def serving_options(self, app) -> ServingOptions:
        """What every connection of this worker reads, built once the app is
        loaded (bench/connection_path.py builds its connections the same way)."""
        self.app = behind_proxy(
            app,
            self.cfg.secure_scheme_headers,
            self.cfg.forwarded_allow_ips,
            client_headers=self.cfg.proxy_headers,
            host_headers=self.cfg.proxy_host_headers,
        )
        cfg = self.cfg
        plain_tcp = self.tls is None
        metrics_to_statsd = statsd.client()  # --statsd-host: this worker's own socket
        return ServingOptions(
            app=self.app,
            limits=Limits(
                request_line=cfg.limit_request_line,
                request_fields=cfg.limit_request_fields,
                request_field_size=cfg.limit_request_field_size,
                request_head=cfg.limit_request_head,
                request_body=cfg.limit_request_body,
            ),
            header_timeout=cfg.header_timeout or 3600.0,
            first_byte_timeout=cfg.first_byte_timeout,
            header_min_rate=cfg.header_min_rate,
            request_timeout=cfg.request_timeout,
            keepalive=cfg.keepalive if self.keeps_alive else 0,
            body_timeout=cfg.body_timeout or 3600.0,
            linger_seconds=self.linger_seconds,
            # The sweeper wakes a wait by shutting the socket down, and
            # OpenSSL takes that end of file as fatal: no 408 could follow.
            sweeps_deadlines=self.sweeps_deadlines and plain_tcp,
            can_sendfile=plain_tcp,  # the kernel would send the file unencrypted
            proxy_protocol=cfg.proxy_protocol,
            proxy_peers=TrustedPeers(cfg.proxy_allow_ips),
            access_log=AccessLog(cfg.access_log_format) if access_log_wanted(cfg) else None,
            on_request=_each_of(
                self.stats.record if self.stats is not None else None,
                metrics_to_statsd.request if metrics_to_statsd is not None else None,
            ),
            on_cut=self.stats.count_cut if self.stats is not None else None,
            pre_request=getattr(cfg, "pre_request", None),
            post_request=getattr(cfg, "post_request", None),
            hook_config=cfg,
            hook_worker=self,
        )

    def prepare(self) -> None:
        """Runs before the app is imported (the gevent worker patches here)."""

    def serve(self) -> int:
        raise NotImplementedError

    def request_stop(self, why: str, *, graceful: bool) -> None:
        raise NotImplementedError

    # -- talking to the master ---------------------------------------------

    def report(self, line: str) -> None:
        data = (line.replace("\n", " ") + "\n").encode("utf-8", "replace")
        try:
            os.write(self.status_fd, data)
        except BlockingIOError:
            pass  # the master is behind on reading; the next beat will do
        except OSError:
            self.master_gone = True

    def beat(self) -> None:
        """Heartbeat; also notices a master that disappeared."""
        self.report(f"beat {self.state.busy()}")
        self.report_stats()
        statsd.flush()  # --statsd-host: the request lines of the last second
        if self.watcher is not None and self.lifecycle.state is State.SERVING:
            changed = self.watcher.changed()
            if changed:
                self.report(f"retiring reload {os.path.relpath(changed)} changed (--reload)")
        if os.getppid() != self.master_pid:
            self.master_gone = True

    def report_stats(self) -> None:
        """This worker's counts for the master's /metrics, when it serves them."""
        stats = self.stats
        if stats is not None:
            state = self.state
            self.report("stats " + stats.snapshot(len(state.connections), state.busy()))

    def begin_drain(self, why: str) -> None:
        self.fix_drain_deadline()
        self.lifecycle.move(State.DRAINING, why)

    def fix_drain_deadline(self) -> float:
        """The drain's deadline, set once: the master's, or graceful_timeout from now."""
        if self.drain_deadline is None:
            self.drain_deadline = self.master_deadline() or monotonic() + self.cfg.graceful_timeout
        return self.drain_deadline

    def master_deadline(self) -> float | None:
        """The drain deadline the master sent with its SIGTERM, if it sent one.

        The master owns the deadline (CLOCK_MONOTONIC is the same clock in
        every process), so the worker cuts its requests just before the moment
        the master would otherwise kill it. A TERM sent by hand carries none.
        """
        self.read_control()
        return self._announced_deadline

    def read_control(self) -> None:
        """Read what the master wrote on the control pipe.

        End of file means the master is gone: the pipe's write end closed
        with it, so a worker watching this fd learns of it at once.
        """
        while True:
            try:
                data = os.read(self.control_fd, 4096)
            except BlockingIOError:
                return
            except OSError:
                self.master_gone = True
                return
            if not data:
                self.master_gone = True
                return
            for line in data.decode("ascii", "replace").splitlines():
                kind, *values = line.split()
                if kind == "drain" and values:
                    try:
                        self._announced_deadline = float(values[0])
                    except ValueError:
                        continue
                    self.listeners_closing = values[1:] == ["last"]

    def install_abort_handler(self) -> None:
        """SIGABRT from the master means the event loop stopped running.

        A plain Python handler, not one through gevent's loop: the loop is
        exactly what is stuck. Python runs it in the main thread at the next
        bytecode, that is, inside the greenlet that is blocking everything,
        so the frame it receives is the culprit's.
        """
        signal.signal(signal.SIGABRT, self._on_abort)

    def _on_abort(self, signum, frame) -> None:
        signal.signal(signal.SIGABRT, signal.SIG_DFL)
        if self.lifecycle.state is State.BOOTING:
            self._abort_boot(frame)
        error_log.critical(
            "worker %d was stuck (no event-loop run for %.0f s, --timeout); "
            "the code that blocked it:\n%s",
            self.pid,
            self.cfg.timeout,
            "".join(traceback.format_stack(frame)).rstrip(),
        )
        other = self.other_stacks(frame)
        if other:
            error_log.critical("worker %d: the other greenlets:\n%s", self.pid, other)
        call_hook(self.cfg, "worker_abort", self)
        raise WorkerAborted

    def _abort_boot(self, frame) -> None:
        """The app took longer than --timeout to load: say where it was, then stop."""
        stuck = _app_stack(self.booting_frame(frame))
        error_log.critical(
            "worker %d did not finish booting within %.0f s (--timeout); "
            "the app was loading here:\n%s",
            self.pid,
            self.cfg.timeout,
            "".join(stuck.format()).rstrip(),
        )
        self.report(
            f"boot-error the app did not finish loading within {self.cfg.timeout:.0f} s "
            f"(--timeout){_where(stuck)}"
        )
        call_hook(self.cfg, "worker_abort", self)
        raise BootTimedOut(EXIT_BOOT_ERROR)

    def booting_frame(self, frame):
        """The frame of the code that is loading the app (the gevent worker's
        signal handler may run in the hub instead)."""
        return frame

    def other_stacks(self, blocking_frame) -> str:
        return ""


def _each_of(*callbacks):
    """One callable that calls each callback given (None when none is), so
    that a request pays for the metrics that are on and for nothing else."""
    present = [callback for callback in callbacks if callback is not None]
    if len(present) < 2:
        return present[0] if present else None
    first, second = present

    def both(method: str, status: int, seconds: float) -> None:
        first(method, status, seconds)
        second(method, status, seconds)

    return both


class WorkerAborted(BaseException):
    """Raised in the greenlet that blocked the event loop, after its stack is logged.

    A BaseException so that the app's own `except Exception` cannot swallow it
    on the way up to the connection, which answers 500 if it still can.
    """


def load_app(cfg):
    """The app, imported as --chdir and --pythonpath say.

    Any failure is an AppImportError whose text is the one line to show:
    the error and the app's line it came from (the traceback is logged at
    debug level).
    """
    prepare_path(cfg.chdir, cfg.pythonpath)
    try:
        return import_app(cfg.wsgi_app)
    except AppImportError:
        raise
    except Exception as error:
        error_log.debug("process %d: the app failed to load:\n%s", os.getpid(), _short_trace())
        raise AppImportError(
            f"the app failed to load: {type(error).__name__}: {error}" + _raised_where()
        ) from None


class BootTimedOut(SystemExit):
    """Raised where the app's import hangs, after its stack is logged.

    A SystemExit, not an Exception: when the import waits on a patched
    socket, the handler runs in gevent's hub, which hands a SystemExit to the
    main greenlet (the one importing) without printing a traceback.
    """


_GLADE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
_IMPORTLIB_DIR = os.path.dirname(importlib.__file__) + os.sep
# Where installed code lives: the innermost frame outside these is the app's own.
_LIBRARY_DIRS = tuple(
    {os.path.join(sysconfig.get_path(name), "") for name in ("stdlib", "platstdlib", "purelib")}
)


def _app_frames(frames) -> list:
    """The frames worth showing: not Glade's, not the import machinery's."""
    shown = [
        frame
        for frame in frames
        if not frame.filename.startswith((_GLADE_DIR, _IMPORTLIB_DIR, "<frozen"))
    ]
    return shown or list(frames)


def _app_stack(frame) -> traceback.StackSummary:
    """The stack that leads to `frame`, as far as it is the app's."""
    if frame is None:
        return traceback.StackSummary()
    return traceback.StackSummary.from_list(_app_frames(traceback.extract_stack(frame)))


def _short_trace() -> str:
    """The traceback of the exception being handled, without Glade's frames."""
    kind, value, trace = sys.exc_info()
    lines = traceback.format_list(_app_frames(traceback.extract_tb(trace)))
    lines += traceback.format_exception_only(kind, value)
    return "Traceback (most recent call last):\n" + "".join(lines).rstrip()


def _raised_where() -> str:
    """` (at app.py:3)`: where the exception being handled left the app's code."""
    return _where(_app_frames(traceback.extract_tb(sys.exc_info()[2])))


def _where(frames) -> str:
    """` (at app.py:3)`: the innermost frame in the app's own files (not in the
    standard library or an installed package), else the innermost of all."""
    if not frames:
        return ""
    own = [frame for frame in frames if not frame.filename.startswith(_LIBRARY_DIRS)]
    frame = (own or frames)[-1]
    return f" (at {os.path.relpath(frame.filename)}:{frame.lineno})"


# Linux copies TCP_NODELAY from a listening socket to the sockets it
# accepts, which saves a setsockopt per connection; elsewhere each accepted
# socket gets it.
NODELAY_INHERITED = sys.platform.startswith("linux")


def needs_nodelay(sock) -> bool:
    """Prepare a listener: True if its accepted sockets still need TCP_NODELAY.

    Small responses written without TCP_NODELAY can stall 40 ms on delayed ACK.
    """
    if sock.family not in (socket.AF_INET, socket.AF_INET6):
        return False
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except OSError:
        return True
    return not NODELAY_INHERITED


def ignore_terminal_interrupt() -> None:
    """Workers ignore SIGINT: Ctrl+C reaches the whole process group, and the
    master alone decides what it means (drain, or force on the second one)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
