"""Server hooks with gunicorn's names and call signatures.

A hook is a setting whose value is a callable (usually a function in the
config file; the settings table lists them with their arguments and checks
each one's signature when the config loads). `call_hook` runs it; an
exception is logged with the hook's name and where it was raised, and the
server goes on. Only on_starting and when_ready are fatal: a server whose
startup hooks failed must not start half-prepared.

The objects hooks receive, with the attributes gunicorn's hooks use:
- server (the master): ``log``, ``cfg``, ``pid``, ``num_workers``;
- worker: ``pid``, ``age``, ``log``, ``cfg``, ``alive``.
"""

from __future__ import annotations

import os
import traceback

from glade.logging import error_log

# Hooks whose failure must stop startup rather than be logged and ignored.
FATAL_HOOKS = frozenset({"on_starting", "when_ready"})


class HookFailed(Exception):
    """A fatal hook raised; str() is the line to show."""


def call_hook(cfg, name: str, *args) -> None:
    hook = getattr(cfg, name, None)
    if hook is None:
        return
    try:
        hook(*args)
    except Exception as error:
        where = _raised_at(error)
        if name in FATAL_HOOKS:
            raise HookFailed(
                f"the {name} hook failed{where}: {type(error).__name__}: {error}"
            ) from error
        # The hook's own traceback (without this frame): a bug in the config
        # file, which its author needs to see.
        trace = "".join(traceback.format_exception(type(error), error, error.__traceback__.tb_next))
        error_log.error("The %s hook failed%s:\n%s", name, where, trace.rstrip())


def _raised_at(error: BaseException) -> str:
    """' at FILE:LINE' of the innermost frame of the hook's own code."""
    trace = error.__traceback__.tb_next if error.__traceback__ else None
    if trace is None:
        return ""
    first_file = trace.tb_frame.f_code.co_filename
    line = trace.tb_lineno
    while trace is not None:
        if trace.tb_frame.f_code.co_filename == first_file:
            line = trace.tb_lineno
        trace = trace.tb_next
    relative = os.path.relpath(first_file) if os.path.isabs(first_file) else first_file
    shown = first_file if relative.startswith("..") else relative
    return f" at {shown}:{line}"


class RequestView:
    """The `req` that pre_request and post_request hooks get, as gunicorn's.

    Built only when one of those hooks is set, so requests do not pay for it.
    """

    def __init__(self, request, remote) -> None:
        target = request.target.decode("latin-1")
        self.method = request.method
        self.uri = target
        self.path, _, self.query = target.partition("?")
        self.version = tuple(int(part) for part in request.http_version.split("."))
        self.headers = [
            (name.decode("latin-1").upper(), value.decode("latin-1"))
            for name, value in request.headers
        ]
        self.remote_addr = remote

    def __repr__(self) -> str:
        return f"<Request {self.method} {self.uri}>"


class ResponseView:
    """The `resp` that post_request hooks get: status, headers, bytes sent."""

    def __init__(self, writer) -> None:
        self.status = writer.status or ""
        self.status_code = writer.status_code
        self.headers = list(writer.headers)
        self.sent = writer.bytes_sent
        self.response_length = writer.bytes_sent
