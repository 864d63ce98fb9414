"""The one table of settings.

Every setting Glade knows is declared here exactly once: its name (which is
also the config-file key), command-line flags, environment variable, type,
default, validation and documentation. The CLI parser, the environment and
file loaders, ``--print-config`` and docs/settings.md are all generated from
this table, so a setting cannot exist in one place and be missing in another.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

SECTIONS = (
    "Server socket",
    "Worker processes",
    "Timeouts",
    "Request limits",
    "Application",
    "Logging",
)


class SettingError(ValueError):
    """A value that a setting refuses; the message says what is expected."""


@dataclass(frozen=True)
class Setting:
    name: str
    section: str
    flags: tuple[str, ...]
    parse: Callable[[Any], Any]
    default: Any
    doc: str
    metavar: str | None = None
    multiple: bool = False
    is_switch: bool = False
    cli_only: bool = False
    extra: dict = field(default_factory=dict)

    @property
    def env_var(self) -> str:
        return "GLADE_" + self.name.upper()


# -- value parsers: each takes a str (CLI, env) or a Python value (files) ----


def _integer(minimum: int) -> Callable[[Any], int]:
    def parse(value: Any) -> int:
        if isinstance(value, bool):
            raise SettingError(f"expected an integer >= {minimum}, got {value!r}")
        try:
            number = int(value)
        except (TypeError, ValueError):
            raise SettingError(f"expected an integer >= {minimum}, got {value!r}") from None
        if number < minimum:
            raise SettingError(f"expected an integer >= {minimum}, got {value!r}")
        return number

    parse.expects = f"an integer >= {minimum}"
    return parse


def _seconds(value: Any) -> float:
    if isinstance(value, bool):
        raise SettingError(f"expected a number of seconds >= 0, got {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise SettingError(f"expected a number of seconds >= 0, got {value!r}") from None
    if number < 0 or number != number:
        raise SettingError(f"expected a number of seconds >= 0, got {value!r}")
    return number


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise SettingError(f"expected true or false, got {value!r}")


def _optional_text(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise SettingError(f"expected a string, got {value!r}")
    return value or None


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise SettingError(f"expected a string, got {value!r}")
    return value


def _text_list(value: Any) -> list[str]:
    """A list from a file, or a comma-separated string from the CLI or env."""
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        return list(value)
    raise SettingError(f"expected a list of strings, got {value!r}")


def _bind_list(value: Any) -> list[str]:
    from glade.supervisor.sockets import parse_address

    addresses = [value] if isinstance(value, str) else value
    if not isinstance(addresses, (list, tuple)) or not addresses:
        raise SettingError(f"expected an address like 127.0.0.1:8000, got {value!r}")
    for address in addresses:
        if not isinstance(address, str):
            raise SettingError(f"expected an address like 127.0.0.1:8000, got {address!r}")
        parse_address(address)
    return list(addresses)


_WORKER_CLASSES = {
    "gevent": "gevent",
    "sync": "sync",
    # gunicorn's spelled-out classes, so an existing config keeps working.
    "gunicorn.workers.ggevent.geventworker": "gevent",
    "egg:gunicorn#gevent": "gevent",
    "gunicorn.workers.sync.syncworker": "sync",
    "egg:gunicorn#sync": "sync",
    "glade.contrib.gunicorn.geventworker": "gevent",
}


def _worker_class(value: Any) -> str:
    if isinstance(value, str) and value.strip().lower() in _WORKER_CLASSES:
        return _WORKER_CLASSES[value.strip().lower()]
    raise SettingError(f"expected 'gevent' or 'sync', got {value!r}")


_LOG_LEVELS = ("debug", "info", "warning", "error", "critical")


def _log_level(value: Any) -> str:
    if isinstance(value, str) and value.strip().lower() in _LOG_LEVELS:
        return value.strip().lower()
    raise SettingError(f"expected one of {', '.join(_LOG_LEVELS)}, got {value!r}")


_SCRIPT_NAME = re.compile(r"^(/[^/?#]+)*$")


def _script_name(value: Any) -> str:
    text = _text(value).rstrip("/")
    if not _SCRIPT_NAME.match(text):
        raise SettingError(f"expected a path prefix like /app (or empty), got {value!r}")
    return text


# -- the table ---------------------------------------------------------------

SETTINGS: tuple[Setting, ...] = (
    Setting(
        "bind",
        "Server socket",
        ("-b", "--bind"),
        _bind_list,
        ["127.0.0.1:8000"],
        "Address to listen on: `HOST:PORT`, `[IPV6]:PORT`, or `unix:PATH`. "
        "Repeat the flag to listen on several addresses.",
        metavar="ADDRESS",
        multiple=True,
    ),
    Setting(
        "backlog",
        "Server socket",
        ("--backlog",),
        _integer(1),
        2048,
        "Length of the kernel's queue of connections not yet accepted.",
        metavar="INT",
    ),
    Setting(
        "workers",
        "Worker processes",
        ("-w", "--workers"),
        _integer(1),
        1,
        "Number of worker processes. Each gevent worker serves many connections "
        "at once; start with one per CPU core.",
        metavar="INT",
    ),
    Setting(
        "worker_class",
        "Worker processes",
        ("-k", "--worker-class"),
        _worker_class,
        "gevent",
        "`gevent` (default): many connections per worker on greenlets, the app "
        "monkey-patched before it is imported. `sync`: one request at a time "
        "per worker, no keep-alive; for CPU-bound apps and debugging. "
        "gunicorn's class paths for these two are accepted too.",
        metavar="CLASS",
    ),
    Setting(
        "worker_connections",
        "Worker processes",
        ("--worker-connections",),
        _integer(1),
        1000,
        "Most connections one gevent worker serves at once; further clients "
        "wait in the kernel's backlog.",
        metavar="INT",
    ),
    Setting(
        "max_requests",
        "Worker processes",
        ("--max-requests",),
        _integer(0),
        0,
        "Restart a worker after it has served this many requests (0: never). "
        "Guards against slow memory leaks in the app.",
        metavar="INT",
    ),
    Setting(
        "max_requests_jitter",
        "Worker processes",
        ("--max-requests-jitter",),
        _integer(0),
        0,
        "Add a random 0..N to each worker's max_requests, so that workers do "
        "not all restart at the same moment.",
        metavar="INT",
    ),
    Setting(
        "timeout",
        "Timeouts",
        ("-t", "--timeout"),
        _seconds,
        30.0,
        "Heartbeat timeout: a worker whose event loop has not run for this many "
        "seconds is stuck; the master aborts it (0 disables).",
        metavar="SECONDS",
    ),
    Setting(
        "graceful_timeout",
        "Timeouts",
        ("--graceful-timeout",),
        _seconds,
        30.0,
        "On a graceful stop, how long in-flight requests may run before they are cut.",
        metavar="SECONDS",
    ),
    Setting(
        "keepalive",
        "Timeouts",
        ("--keep-alive",),
        _seconds,
        2.0,
        "How long an idle keep-alive connection waits for its next request "
        "(0 disables keep-alive).",
        metavar="SECONDS",
    ),
    Setting(
        "header_timeout",
        "Timeouts",
        ("--header-timeout",),
        _seconds,
        30.0,
        "How long a client may take to send a complete request head, counted "
        "from its first byte (from the accept for the first request). Slower "
        "clients get 408 and are disconnected.",
        metavar="SECONDS",
    ),
    Setting(
        "body_timeout",
        "Timeouts",
        ("--body-timeout",),
        _seconds,
        60.0,
        "How long the server waits for the next piece of a request body the "
        "app is reading before it gives up on the client.",
        metavar="SECONDS",
    ),
    Setting(
        "limit_request_line",
        "Request limits",
        ("--limit-request-line",),
        _integer(0),
        4094,
        "Longest request line in bytes (0: no limit); longer gets 414.",
        metavar="BYTES",
    ),
    Setting(
        "limit_request_fields",
        "Request limits",
        ("--limit-request-fields",),
        _integer(0),
        100,
        "Most header fields in one request (0: no limit); more gets 431.",
        metavar="INT",
    ),
    Setting(
        "limit_request_field_size",
        "Request limits",
        ("--limit-request-field-size",),
        _integer(0),
        8190,
        "Largest header field (name and value) in bytes (0: no limit); larger gets 431.",
        metavar="BYTES",
    ),
    Setting(
        "limit_request_body",
        "Request limits",
        ("--limit-request-body",),
        _integer(0),
        0,
        "Largest request body in bytes (0: no limit); larger gets 413 before "
        "the app runs (or when a chunked body crosses it).",
        metavar="BYTES",
    ),
    Setting(
        "wsgi_app",
        "Application",
        (),
        _optional_text,
        None,
        "The WSGI application, as `module:name` or `module:factory()`; also "
        "the command's positional argument.",
        metavar="MODULE:APP",
    ),
    Setting(
        "chdir",
        "Application",
        ("--chdir",),
        _optional_text,
        None,
        "Change to this directory before loading the app.",
        metavar="DIR",
    ),
    Setting(
        "pythonpath",
        "Application",
        ("--pythonpath",),
        _text_list,
        [],
        "Comma-separated directories to add to the front of sys.path before loading the app.",
        metavar="DIRS",
    ),
    Setting(
        "script_name",
        "Application",
        ("--script-name",),
        _script_name,
        "",
        "The path prefix the app is mounted at (WSGI `SCRIPT_NAME`). Defaults "
        "to the `SCRIPT_NAME` environment variable, as in gunicorn.",
        metavar="PATH",
    ),
    Setting(
        "errorlog",
        "Logging",
        ("--error-logfile", "--log-file"),
        _text,
        "-",
        "Where the error log goes: a file path, or `-` for stderr.",
        metavar="FILE",
    ),
    Setting(
        "loglevel",
        "Logging",
        ("--log-level",),
        _log_level,
        "info",
        "Error log level: debug, info, warning, error or critical. At debug, "
        "startup errors also show their traceback.",
        metavar="LEVEL",
    ),
    Setting(
        "accesslog",
        "Logging",
        ("--access-logfile",),
        _optional_text,
        None,
        "Where the access log goes: a file path, or `-` for stdout. Off by default.",
        metavar="FILE",
    ),
    Setting(
        "access_log_format",
        "Logging",
        ("--access-log-format",),
        _text,
        '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s"',
        "Access log line, with gunicorn's atoms: `%(h)s` remote address, "
        "`%(t)s` time, `%(r)s` request line, `%(s)s` status, `%(b)s` body bytes, "
        "`%(f)s` referer, `%(a)s` user agent, `%(D)s` microseconds, `%(L)s` "
        "seconds, `%(M)s` milliseconds, `%(m)s` method, `%(U)s` path, `%(q)s` "
        "query, `%(H)s` protocol, `%(p)s` pid, `%({name}i)s` a request header, "
        "`%({name}o)s` a response header, `%({name}e)s` an environ value. "
        "Use `json` for one JSON object per line.",
        metavar="FORMAT",
    ),
)

BY_NAME: dict[str, Setting] = {setting.name: setting for setting in SETTINGS}
