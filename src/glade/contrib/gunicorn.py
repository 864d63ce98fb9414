"""A gunicorn worker class that stops the way Glade does.

    gunicorn -k glade.contrib.gunicorn.GeventWorker app:app

gunicorn's master still binds, forks, watches and replaces the workers, and
runs its hooks; each worker serves HTTP/1.1 with Glade's own connection code
(httptools, one greenlet per connection) and drains like Glade's workers
(DESIGN.md, section 1). Nothing here patches gunicorn.

How this worker reads its signals:

    TERM              drain: stop accepting, close idle keep-alive connections
                      now, answer in-flight requests with `Connection: close`,
                      cut what is left just before graceful_timeout, log how many
    INT               the first Ctrl+C: drain, as TERM
    QUIT, <= 2 s      the master's echo of that same Ctrl+C: ignored (once)
      after that INT
    INT while         a second Ctrl+C, or Ctrl+C during a TERM drain: stop now
      stopping
    QUIT otherwise    stop now (`kill -QUIT <master>`): in-flight requests are
                      cut and counted
    USR1              reopen log files
    ABRT              heartbeat late: log every greenlet's stack, run
                      worker_abort, exit 1

Why the window: gunicorn's master answers INT with QUIT to every worker, so
one Ctrl+C in a terminal reaches a worker twice, as INT from the terminal
(sent to the whole process group) and, milliseconds later, as QUIT from the
master. The terminal's INT is already pending in the worker before the master
has read its own copy, so a QUIT with no INT just before it was sent on
purpose and means "stop now". Only the master forwards QUIT, once per INT it
handles, hence one echo per Ctrl+C.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import traceback
from datetime import timedelta
from time import monotonic

try:
    import gunicorn
    from gunicorn.glogging import Logger as _GunicornLogger
    from gunicorn.http.wsgi import WSGIErrorsWrapper
    from gunicorn.instrument.statsd import Statsd as _GunicornStatsd
    from gunicorn.workers.base import Worker as _GunicornWorker
except ImportError as _error:  # only people who use this module need gunicorn
    raise ImportError(
        "glade.contrib.gunicorn is a worker class for gunicorn, which is not installed; "
        "install it with: pip install 'glade[gunicorn]'"
    ) from _error

from glade import SERVER_SOFTWARE, extensions
from glade.config.settings import SETTINGS
from glade.errors import SettingError
from glade.http.parser import Limits
from glade.lifecycle import Lifecycle, State
from glade.logging import error_log
from glade.statsd import log_counter
from glade.workers.options import ServingOptions, ServingState
from glade.wsgi.environ import environ_template
from glade.wsgi.file_wrapper import FileWrapper
from glade.wsgi.proxy import behind_proxy

__all__ = ["GeventWorker"]

# A QUIT this soon after the INT that started a drain is the master's echo of
# the same Ctrl+C (it forwards QUIT within milliseconds; 2 s covers a busy box).
ECHO_WINDOW = 2.0
BEAT_INTERVAL = 1.0
# The worker cuts what is left this long before graceful_timeout, counted from
# the signal, so that it has exited before the master's SIGKILL could fire.
CUT_MARGIN = 0.5
# How long cut greenlets get to unwind before the worker exits anyway.
KILL_WAIT = 0.25
_GLADE_SETTINGS = {setting.name: setting for setting in SETTINGS}
_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT)


class GeventWorker(_GunicornWorker):
    """gunicorn's worker interface outside; Glade's serving and draining inside."""

    @classmethod
    def check_config(cls, cfg, log) -> None:
        """Runs in the master at start: name the settings this worker does not
        use, and say so when Glade's compiled hot path cannot run."""
        warn, line = extensions.summary()
        if warn:
            log.warning("%s", line)
        if cfg.threads > 1:
            log.warning(
                "threads=%d is ignored: this worker gives each connection a greenlet", cfg.threads
            )
        if getattr(cfg, "proxy_protocol", False) not in (False, None, "off", "none"):
            log.warning("proxy_protocol is not supported by glade.contrib.gunicorn")
        if cfg.preload_app:
            log.warning(
                "preload_app imports the app in the master, before gevent patches the "
                "standard library: call gevent.monkey.patch_all() first in the app module"
            )

    # -- boot, in the worker process ------------------------------------

    def init_process(self) -> None:
        # Until gevent's handlers are installed (init_signals), a plain handler
        # records TERM, INT and QUIT: the fork inherited the master's handlers,
        # and a TERM sent while a replacement worker boots must not be lost.
        self._signals: list[tuple[int, float]] = []
        for signum in _STOP_SIGNALS:
            signal.signal(signum, self._record_early)
        # Patch before gunicorn loads the app (in super().init_process()), so
        # the app's first line already sees cooperative sockets and sleeps.
        from gevent import monkey

        monkey.patch_all()
        import gevent
        from gevent import hub

        hub.reinit()  # a fresh loop after fork, as gunicorn's own gevent worker does
        self._gevent = gevent
        self._stop_why: str | None = None
        self._stop_at = 0.0
        self._force = False
        self._echo_until: float | None = None
        self._worker_int_called = False
        self._started_requests = 0
        self.state = ServingState(self.request_done)
        self.server = None  # the GeventServer, once serving
        self.lifecycle = Lifecycle(f"worker {self.pid}")
        _route_glade_log(self.log)
        super().init_process()

    def init_signals(self) -> None:
        """Called by gunicorn's init_process; replaces its handlers.

        TERM, INT and QUIT go through gevent's loop: a handler runs as a
        normal callback and only records the signal; run() decides. ABRT is a
        plain Python handler because it must work when a greenlet that never
        yields has starved the loop.
        """
        ours = {signal.SIGTERM, signal.SIGINT, signal.SIGQUIT, signal.SIGUSR1, signal.SIGABRT}
        for signum in self.SIGNALS:
            if signum not in ours:
                signal.signal(signum, signal.SIG_DFL)
        signal.signal(signal.SIGWINCH, signal.SIG_IGN)
        gevent = self._gevent
        self._signal_handlers = [
            gevent.signal_handler(signum, self._record_signal, signum) for signum in _STOP_SIGNALS
        ]
        self._signal_handlers.append(gevent.signal_handler(signal.SIGUSR1, self.log.reopen_files))
        signal.signal(signal.SIGABRT, self._abort)

    def _record_early(self, signum: int, frame) -> None:
        self._signals.append((signum, monotonic()))

    def _record_signal(self, signum: int) -> None:
        self._signals.append((signum, monotonic()))
        if self.server is not None:
            self.server.wake.set()

    def _abort(self, signum, frame) -> None:
        self.alive = False
        try:
            from glade.workers.gevent_serving import greenlet_stacks

            stacks = "the running stack:\n" + "".join(traceback.format_stack(frame)).rstrip()
            stacks += "\n" + greenlet_stacks()
        except Exception as error:  # the dump is a courtesy; the exit is the point
            stacks = f"(stacks unavailable: {error})"
        self.log.error("worker %s: SIGABRT (heartbeat late); %s", self.pid, stacks)
        self.cfg.worker_abort(self)
        # gevent carries SystemExit from any greenlet to the main one, which
        # unwinds through gunicorn's worker_exit hook; status 1 as gunicorn's.
        sys.exit(1)

    # -- serving ----------------------------------------------------------

    def run(self) -> None:
        from glade.workers.gevent_serving import GeventServer

        cfg = self.cfg
        tls = None
        if cfg.is_ssl:
            from gunicorn.sock import ssl_context

            tls = ssl_context(cfg)
        server = self.server = GeventServer(
            self._serving_options(plain_tcp=tls is None),
            self.state,
            max_connections=cfg.worker_connections,
            tls=tls,
            suppress_ragged_eofs=cfg.suppress_ragged_eofs,
            shares_listeners=cfg.workers > 1,
        )
        templates = [
            self._environ_template(listener.sock, "https" if tls else "http")
            for listener in self.sockets
        ]
        server.start([listener.sock for listener in self.sockets], templates)
        # gunicorn hands the worker half its --timeout as self.timeout: beat
        # at least that often, so that a slow drain is never taken for a hang.
        self._beat_interval = min(BEAT_INTERVAL, self.timeout or BEAT_INTERVAL)
        self.lifecycle.move(State.SERVING)
        while True:
            server.wake.clear()
            self._read_signals()
            if self._stop_why is not None:
                break
            self.notify()
            if self.ppid != os.getppid():
                self._request_stop("the master process is gone", graceful=True)
            elif not self.alive:  # gunicorn's flag, set by its reloader or a hook
                self._request_stop("alive was set to False", graceful=True)
            else:
                server.wake.wait(self._beat_interval)
        self.lifecycle.move(State.DRAINING, self._stop_why)
        who = f"worker {self.pid}"
        if self._force:
            server.stop_accepting(take_backlog=False)
        else:
            cut_at = self._stop_at + max(0.0, cfg.graceful_timeout - CUT_MARGIN)
            server.drain(
                cut_at,
                beat=self.notify,
                forced=self._forced,
                who=who,
                beat_every=self._beat_interval,
                # gunicorn's master cannot say whether the other workers go on
                # serving (HUP, max_requests): their queue is left to them.
                take_backlog=False,
            )
        # gunicorn's SIGKILL comes at graceful_timeout: unwind within the margin.
        server.cut("forced stop" if self._force else "graceful timeout", who, unwind=KILL_WAIT)
        self.lifecycle.move(State.STOPPED)
        self._ignore_late_signals()

    def _forced(self) -> bool:
        self._read_signals()
        return self._force

    def _ignore_late_signals(self) -> None:
        """A duplicate TERM (systemd signals the whole cgroup, and the master
        signals too), or gunicorn's QUIT echoing a Ctrl+C, must not kill the
        process while it runs worker_exit and Python shuts down.

        The signals are blocked meanwhile: stopping gevent's watcher puts
        back the default action (libev does), and a QUIT landing between
        that and SIG_IGN would kill the worker. One left pending while
        blocked is dropped once it is ignored.
        """
        late = {*_STOP_SIGNALS, signal.SIGUSR1}
        signal.pthread_sigmask(signal.SIG_BLOCK, late)
        for handler in self._signal_handlers:
            handler.cancel()
        for signum in late:
            signal.signal(signum, signal.SIG_IGN)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, late)

    def _environ_template(self, sock, url_scheme: str) -> dict:
        address = sock.getsockname()
        template = environ_template(
            server_address=address[:2] if isinstance(address, tuple) else str(address),
            url_scheme=url_scheme,
            script_name=os.environ.get("SCRIPT_NAME", ""),
            multithread=True,
            multiprocess=self.cfg.workers > 1,
            errors=WSGIErrorsWrapper(self.cfg),
            file_wrapper=FileWrapper,
        )
        template["SERVER_SOFTWARE"] = f"{SERVER_SOFTWARE} gunicorn/{gunicorn.__version__}"
        return template

    def _serving_options(self, *, plain_tcp: bool) -> ServingOptions:
        """What every connection reads: gunicorn's settings, and Glade's
        defaults for what gunicorn has no setting for."""
        cfg = self.cfg
        return ServingOptions(
            app=self._counting_requests(
                behind_proxy(self.wsgi, cfg.secure_scheme_headers, cfg.forwarded_allow_ips)
            ),
            limits=Limits(
                request_line=cfg.limit_request_line,
                request_fields=cfg.limit_request_fields,
                request_field_size=cfg.limit_request_field_size,
                request_head=_glade_setting("limit_request_head"),
                request_body=0,
            ),
            header_timeout=_glade_setting("header_timeout") or 3600.0,
            first_byte_timeout=_glade_setting("first_byte_timeout"),
            header_min_rate=_glade_setting("header_min_rate"),
            request_timeout=_glade_setting("request_timeout"),
            keepalive=float(cfg.keepalive),
            body_timeout=_glade_setting("body_timeout") or 3600.0,
            sweeps_deadlines=plain_tcp,
            can_sendfile=bool(cfg.sendfile) and plain_tcp,
            access_log=_AccessLog(self.log) if _wants_each_request(self.log) else None,
            pre_request=_hook_if_set(cfg, "pre_request"),
            post_request=_hook_if_set(cfg, "post_request"),
            hook_config=cfg,
            hook_worker=self,
        )

    # -- requests -------------------------------------------------------------

    def _counting_requests(self, app):
        """With max_requests: the app, wrapped so that the max_requests-th
        request starts the drain: its response says `Connection: close`, so
        its client does not send another request on a connection that is
        about to close.
        """
        if self.max_requests >= sys.maxsize:  # gunicorn's value for "no limit"
            return app

        def app_counting_requests(environ, start_response):
            self._started_requests += 1
            if self._started_requests >= self.max_requests:
                self.state.draining = True
            return app(environ, start_response)

        app_counting_requests.__wrapped__ = app  # where_in_app() names the app, not this
        return app_counting_requests

    def request_done(self) -> None:
        self.nr += 1
        if self.nr >= self.max_requests and self._stop_why is None:
            self.log.info("Autorestarting worker after current request.")
            self._request_stop("max_requests", graceful=True)

    # -- stopping -------------------------------------------------------------

    def _request_stop(self, why: str, *, graceful: bool) -> None:
        if self._stop_why is None:
            self._stop_why = why
            self._stop_at = monotonic()
            self.alive = False
        if not graceful:
            self._force = True
        if self.server is not None:
            self.server.wake.set()

    def _read_signals(self) -> None:
        """Turn the recorded signals into a decision (see the module docstring)."""
        batch, self._signals = self._signals, []
        # One loop iteration can run the callbacks of a Ctrl+C's INT and of its
        # echoed QUIT in either order: read the INTs of a batch first.
        batch.sort(key=lambda item: item[0] != signal.SIGINT)
        quit_hook = False
        for signum, received_at in batch:
            if signum == signal.SIGTERM:
                self._request_stop("SIGTERM", graceful=True)
            elif signum == signal.SIGINT:
                quit_hook = True
                # Worded as Glade's master words the same Ctrl+C.
                if self._stop_why is None:
                    self.log.info(
                        "worker %s: Shutting down: draining %d requests (Ctrl+C again to force)",
                        self.pid,
                        self.state.busy(),
                    )
                    self._request_stop("SIGINT", graceful=True)
                    self._echo_until = received_at + ECHO_WINDOW
                else:
                    self.log.info("worker %s: Forced stop (second SIGINT)", self.pid)
                    self._request_stop("second SIGINT", graceful=False)
            elif signum == signal.SIGQUIT:
                if self._echo_until is not None and received_at <= self._echo_until:
                    self._echo_until = None
                    self.log.debug(
                        "worker %s: SIGQUIT from the master for the same Ctrl+C", self.pid
                    )
                    continue
                quit_hook = True
                self._request_stop("SIGQUIT", graceful=False)
        if quit_hook and not self._worker_int_called:
            self._worker_int_called = True
            self.cfg.worker_int(self)  # gunicorn runs it for INT and QUIT


def _glade_setting(name: str):
    """A Glade setting gunicorn has no flag for: GLADE_<NAME> from the
    environment (`--env GLADE_BODY_TIMEOUT=120`, or the service's), else its
    default. A value the setting refuses stops the worker with its message."""
    setting = _GLADE_SETTINGS[name]
    raw = os.environ.get(setting.env_var)
    if raw is None:
        return setting.default
    try:
        return setting.parse(raw)
    except SettingError as error:
        raise SettingError(f"{setting.env_var}={raw!r}: {error}") from None


def _hook_if_set(cfg, name: str):
    """The hook, or None while it is gunicorn's default (then requests do not
    pay for building its arguments)."""
    setting = cfg.settings.get(name)
    if setting is None or setting.get() is setting.default:
        return None
    return setting.get()


# -- gunicorn's logging, reached through Glade's interfaces --------------------


class _ForwardTo(logging.Handler):
    """Glade's log lines, written by gunicorn's error logger; with gunicorn's
    StatsD logger, counted in gunicorn.log.* as its own lines are."""

    def __init__(self, target: logging.Logger, gunicorn_log) -> None:
        super().__init__()
        self.target = target
        self.statsd = gunicorn_log if isinstance(gunicorn_log, _GunicornStatsd) else None

    def emit(self, record: logging.LogRecord) -> None:
        self.target.handle(record)
        if self.statsd is not None:
            name = log_counter(record)
            if name is not None:
                self.statsd.increment(name, 1)


def _route_glade_log(gunicorn_log) -> None:
    """Glade's error log (connections, lifecycle) goes to gunicorn's error log."""
    target = getattr(gunicorn_log, "error_log", None)
    if not isinstance(target, logging.Logger):
        target = logging.getLogger("gunicorn.error")
    for handler in list(error_log.handlers):
        error_log.removeHandler(handler)
    error_log.addHandler(_ForwardTo(target, gunicorn_log))
    error_log.propagate = False
    error_log.setLevel(target.getEffectiveLevel())


def _wants_each_request(gunicorn_log) -> bool:
    """gunicorn's logger must hear of every request: it writes an access log,
    or its class does more in access() (gunicorn's StatsD logger sends the
    request metrics there, access log or not)."""
    return _access_log_enabled(gunicorn_log) or type(gunicorn_log).access is not (
        _GunicornLogger.access
    )


def _access_log_enabled(gunicorn_log) -> bool:
    enabled = getattr(gunicorn_log, "access_log_enabled", None)  # gunicorn >= 25
    if enabled is not None:
        return bool(enabled)
    cfg = gunicorn_log.cfg
    return bool(
        cfg.accesslog
        or cfg.logconfig
        or getattr(cfg, "logconfig_dict", None)
        or getattr(cfg, "logconfig_json", None)
        or (cfg.syslog and not cfg.disable_redirect_access_to_syslog)
    )


class _Response:
    __slots__ = ("headers", "sent", "status")

    def __init__(self, status: str, headers: list, sent: int) -> None:
        self.status = status
        self.headers = headers
        self.sent = sent


class _AccessLog:
    """Glade's access-log call, written by gunicorn's logger (its format,
    its files, statsd)."""

    def __init__(self, gunicorn_log) -> None:
        self._log = gunicorn_log

    def log(self, environ, status_code, response_headers, body_bytes, duration) -> None:
        response = _Response(str(status_code), response_headers, body_bytes)
        self._log.access(response, _request_headers(environ), environ, timedelta(seconds=duration))


def _request_headers(environ: dict) -> list[tuple[str, str]]:
    """The request's headers as gunicorn's access log reads them, from the environ."""
    headers = []
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            headers.append((key[5:].replace("_", "-"), value))
        elif key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            headers.append((key.replace("_", "-"), value))
    return headers
