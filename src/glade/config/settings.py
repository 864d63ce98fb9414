"""The one table of settings.

Every setting Glade knows is declared here exactly once: its name (which is
also the config-file key), command-line flags, environment variable, type,
default, validation and documentation. The CLI parser, the environment and
file loaders, ``--print-config`` and docs/settings.md are all generated from
this table, so a setting cannot exist in one place and be missing in another.

Rules of the table:
- A parser takes a str (from the CLI or the environment) or a Python value
  (from a file) and returns the value, or raises SettingError whose message
  says what is expected ("expected an integer >= 1"); the loader adds the
  setting, the value and where it came from.
- A setting with ``unsupported`` set is accepted, so that gunicorn config
  files keep working, but not implemented: setting it to anything other than
  its default gets one warning line, never silence and never a crash.
- Hooks are settings too: file-only, no flag, no environment variable.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from glade import syslog
from glade.addresses import parse_address
from glade.errors import SettingError

SECTIONS = (
    "Config",
    "Server socket",
    "Worker processes",
    "Timeouts",
    "Request limits",
    "Application",
    "Proxies and TLS",
    "Process",
    "Logging",
    "Metrics and probes",
    "Server hooks",
)

NOT_YET = "is not supported yet and is ignored"


@dataclass(frozen=True)
class Setting:
    name: str
    section: str
    flags: tuple[str, ...]
    parse: Callable[[Any], Any]
    default: Any
    doc: str
    metavar: str | None = None
    multiple: bool = False  # the flag may repeat; each use adds one value
    is_switch: bool = False  # a flag without a value
    off_flags: tuple[str, ...] = ()  # for a switch on by default: flags that turn it off
    in_file: bool = True  # may be set in a config file
    in_env: bool = True  # may be set by GLADE_<NAME>
    env_aliases: tuple[str, ...] = ()  # conventional variables, below GLADE_<NAME>
    unsupported: str | None = None  # accepted, ignored with this warning
    hook_args: tuple[str, ...] | None = None  # for hooks: gunicorn's arguments
    gunicorn_flags: tuple[str, ...] = ()  # gunicorn's spelling, accepted, not in --help

    @property
    def env_var(self) -> str | None:
        return "GLADE_" + self.name.upper() if self.in_env else None

    @property
    def is_action(self) -> bool:
        """A command (like --print-config), not a value the server uses."""
        return not self.in_file and not self.in_env

    @property
    def expects(self) -> str:
        return getattr(self.parse, "expects", "")


def _expects(text: str):
    """Attach the human description of accepted values to a parser."""

    def decorate(parse):
        parse.expects = text
        return parse

    return decorate


# -- value parsers ------------------------------------------------------------


# The request limits are bytes or counts held as C integers by the compiled
# parser: anything above this is no limit a server can mean.
LIMIT_MAX = 2**31 - 1


def _integer(minimum: int, maximum: int | None = None) -> Callable[[Any], int]:
    what = f"an integer >= {minimum}"
    if maximum is not None:
        what = f"an integer from {minimum} to {maximum}"
    expected = f"expected {what}"

    @_expects(what)
    def parse(value: Any) -> int:
        if isinstance(value, bool):
            raise SettingError(expected)
        if isinstance(value, float):
            if not value.is_integer():
                raise SettingError(expected)
            value = int(value)
        if isinstance(value, str):
            text = value.strip()
            try:
                value = int(text, 0)  # 0x1000 as in gunicorn
            except ValueError:
                try:
                    value = int(text)  # and 010 as people mean it
                except ValueError:
                    raise SettingError(expected) from None
        if not isinstance(value, int) or value < minimum:
            raise SettingError(expected)
        if maximum is not None and value > maximum:
            raise SettingError(expected)
        return value

    return parse


AUTO = "auto"
_at_least_one = _integer(1)


@_expects("an integer >= 1, or auto")
def _workers(value: Any) -> int | str:
    """A number, or AUTO, which the loader turns into one once every source
    is read (WEB_CONCURRENCY may still win over it): cfg.workers is an int."""
    if isinstance(value, str) and value.strip().lower() == AUTO:
        return AUTO
    try:
        return _at_least_one(value)
    except SettingError:
        raise SettingError("expected an integer >= 1, or auto") from None


@_expects("a number of seconds >= 0")
def _seconds(value: Any) -> float:
    expected = "expected a number of seconds >= 0"
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise SettingError(expected)
    try:
        number = float(value)
    except ValueError:
        raise SettingError(expected) from None
    if not number >= 0 or number == float("inf"):
        raise SettingError(expected)
    return number


@_expects("true or false")
def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        text = value.strip().lower()
        if text in ("1", "true", "yes", "on"):
            return True
        if text in ("0", "false", "no", "off", ""):
            return False
    raise SettingError("expected true or false")


@_expects("a string, or none")
def _optional_text(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise SettingError("expected a string")
    return value or None


@_expects("HOST:PORT, [IPV6]:PORT or unix:PATH, or none")
def _optional_address(value: Any) -> str | None:
    text = _optional_text(value)
    if text is not None:
        parse_address(text)
    return text


@_expects("HOST:PORT, or none")
def _udp_address(value: Any) -> str | None:
    text = _optional_text(value)
    if text is not None:
        host, colon, port = text.rpartition(":")
        if not colon or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise SettingError(f"expected HOST:PORT, got {text!r}")
    return text


@_expects("a file path, or - for stderr")
def _error_log_target(value: Any) -> str:
    if value is None:
        return "-"
    if not isinstance(value, str) or not value:
        raise SettingError("expected a file path, or - for stderr")
    return value


@_expects("a string")
def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise SettingError("expected a string")
    return value


@_expects("a list of strings (comma-separated on the command line)")
def _text_list(value: Any) -> list[str]:
    """A list from a file, or a comma-separated string from the CLI or env."""
    if value is None:
        return []
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        return list(value)
    raise SettingError("expected a list of strings, or one comma-separated string")


@_expects("IP addresses or networks like 10.0.0.0/8, comma-separated, or *")
def _peer_list(value: Any) -> list[str]:
    from glade.wsgi.proxy import parse_network

    entries = _text_list(value)
    for entry in entries:
        if entry == "*":
            continue
        try:
            parse_network(entry)
        except ValueError:
            raise SettingError(
                f"{entry!r} is not an IP address or network; "
                "expected addresses or networks like 10.0.0.0/8, or *"
            ) from None
    return entries


@_expects("an address like 127.0.0.1:8000, [::1]:8000 or unix:/run/app.sock, or a list of them")
def _bind_list(value: Any) -> list[str]:
    expected = "expected an address like 127.0.0.1:8000, [::1]:8000 or unix:PATH"
    if isinstance(value, str):
        addresses = [part.strip() for part in value.split(",") if part.strip()]
    elif isinstance(value, (list, tuple)):
        addresses = list(value)
    else:
        raise SettingError(expected)
    if not addresses:
        raise SettingError(expected)
    for address in addresses:
        if not isinstance(address, str) or not address.strip():
            raise SettingError(expected)
        parse_address(address.strip())
    return [address.strip() for address in addresses]


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

# gunicorn workers Glade does not have, and what to use instead.
_OTHER_WORKERS = {
    "gthread": "gevent serves many connections per worker without threads",
    "gunicorn.workers.gthread.threadworker": "gevent serves many connections per worker",
    "eventlet": "gevent is the green-thread worker Glade has",
    "gunicorn.workers.geventlet.eventletworker": "gevent is the green-thread worker Glade has",
    "tornado": "Glade serves WSGI apps only",
    "uvicorn.workers.uvicornworker": "Glade serves WSGI apps only; run an ASGI app with uvicorn",
}


@_expects("gevent or sync (or gunicorn's class path for either)")
def _worker_class(value: Any) -> str:
    text = value.strip().lower() if isinstance(value, str) else None
    if text in _WORKER_CLASSES:
        return _WORKER_CLASSES[text]
    hint = _OTHER_WORKERS.get(text or "")
    raise SettingError("expected gevent or sync" + (f" ({hint})" if hint else ""))


_LOG_LEVELS = ("debug", "info", "warning", "error", "critical")


@_expects("debug, info, warning, error or critical")
def _log_level(value: Any) -> str:
    text = value.strip().lower() if isinstance(value, str) else None
    if text == "warn":
        text = "warning"
    if text in _LOG_LEVELS:
        return text
    raise SettingError("expected one of debug, info, warning, error, critical")


@_expects("text or json")
def _log_format(value: Any) -> str:
    text = value.strip().lower() if isinstance(value, str) else None
    if text in ("text", "json"):
        return text
    raise SettingError("expected text or json")


@_expects(syslog.ADDRESS_FORMS)
def _syslog_address(value: Any) -> str:
    if not isinstance(value, str):
        raise SettingError(f"expected {syslog.ADDRESS_FORMS}")
    text = value.strip()
    syslog.parse_address(text)
    return text


@_expects("a syslog facility: user, daemon, local0 to local7, ...")
def _syslog_facility(value: Any) -> str:
    return syslog.parse_facility(value)


_SCRIPT_NAME = re.compile(r"^(/[^/?#]+)*$")


@_expects("a path prefix like /app, or empty")
def _script_name(value: Any) -> str:
    text = _text(value).rstrip("/")
    if not _SCRIPT_NAME.match(text):
        raise SettingError("expected a path prefix like /app, or empty")
    return text


@_expects("false (Glade runs in the foreground)")
def _daemon(value: Any) -> bool:
    if _boolean(value):
        raise SettingError(
            "expected false: Glade does not daemonize; run it in the foreground "
            "and let systemd (or a container runtime, or supervisord) keep it running"
        )
    return False


@_expects("a list of NAME=VALUE strings")
def _raw_env(value: Any) -> list[str]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)) or not all(
        isinstance(item, str) and "=" in item for item in items
    ):
        raise SettingError("expected a list of NAME=VALUE strings")
    return list(items)


def _user_or_group(kind: str, lookup: Callable[[str], Any]) -> Callable[[Any], str | int | None]:
    @_expects(f"a {kind} name or a numeric id")
    def parse(value: Any) -> str | int | None:
        if value is None or (isinstance(value, int) and not isinstance(value, bool)):
            return value
        if isinstance(value, str) and value.strip():
            text = value.strip()
            if text.isdigit():
                return int(text)
            try:
                lookup(text)
            except KeyError:
                raise SettingError(f"there is no {kind} named {text!r} on this machine") from None
            return text
        raise SettingError(f"expected a {kind} name or a numeric id")

    return parse


def _user_name(name: str):
    import pwd

    return pwd.getpwnam(name)


def _group_name(name: str):
    import grp

    return grp.getgrnam(name)


@_expects("0, 1 or 2, or none, optional or required")
def _cert_reqs(value: Any) -> int:
    names = {"none": 0, "optional": 1, "required": 2}
    if isinstance(value, str):
        text = value.strip().lower()
        if text in names:
            return names[text]
        value = int(text) if text.isdigit() else None
    if isinstance(value, bool) or not isinstance(value, int) or value not in (0, 1, 2):
        raise SettingError("expected 0, 1 or 2 (none, optional or required)")
    return int(value)  # ssl.CERT_REQUIRED is an IntEnum: keep the plain number


@_expects("an integer like 0o022")
def _umask(value: Any) -> int:
    if isinstance(value, str):
        text = value.strip()
        try:
            value = int(text, 0)
        except ValueError:
            try:
                value = int(text, 8)
            except ValueError:
                raise SettingError("expected an octal integer like 0o022") from None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 0o777:
        raise SettingError("expected an octal integer like 0o022 (0 to 0o777)")
    return value


@_expects("a dict (JSON in the environment)")
def _dict(value: Any) -> dict:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise SettingError("expected a dict (a JSON object in the environment)") from None
    if not isinstance(value, dict):
        raise SettingError("expected a dict")
    return value


@_expects("a dict of header name to value, like {'X-FORWARDED-PROTO': 'https'}")
def _header_dict(value: Any) -> dict[str, str]:
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("{"):
            value = _dict(text)
        else:
            value = dict(part.split("=", 1) for part in text.split(",") if "=" in part)
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise SettingError("expected a dict of header to value, like {'X-FORWARDED-SSL': 'on'}")
    return {key.strip().upper(): val.strip() for key, val in value.items()}


_PROXY_PROTOCOL = ("off", "v1", "v2", "auto")


@_expects("off, v1, v2 or auto")
def _proxy_protocol(value: Any) -> str:
    if isinstance(value, bool):
        return "auto" if value else "off"
    text = value.strip().lower() if isinstance(value, str) else None
    if text in ("true", "1", "yes", "on"):
        return "auto"
    if text in ("false", "0", "no", ""):
        return "off"
    if text in _PROXY_PROTOCOL:
        return text
    raise SettingError("expected off, v1, v2 or auto")


def _import_callable(path: str):
    module_name, sep, attribute = path.partition(":")
    if not sep:
        module_name, _, attribute = path.rpartition(".")
    if not module_name or not attribute:
        raise SettingError("expected a function, or an import path like myapp.hooks.on_starting")
    try:
        return getattr(importlib.import_module(module_name), attribute)
    except ImportError as error:
        raise SettingError(f"cannot import {module_name!r}: {error}") from None
    except AttributeError:
        raise SettingError(f"{module_name!r} has no {attribute!r}") from None


def _accepts(function, count: int) -> bool:
    try:
        inspect.signature(function).bind(*range(count))
    except TypeError:
        return False
    except ValueError:  # no signature (some builtins): trust it
        return True
    return True


def _hook(*args: str):
    expected = f"a function taking {len(args)} argument{'s' * (len(args) != 1)} ({', '.join(args)})"

    @_expects(expected + ", or an import path to one")
    def parse(value: Any):
        if value is None:
            return None
        if isinstance(value, str):
            value = _import_callable(value)
        if not callable(value) or not _accepts(value, len(args)):
            raise SettingError("expected " + expected)
        return value

    return parse


@_expects("a function taking 2, 3 or 4 arguments (worker, req, environ, resp)")
def _post_request_hook(value: Any):
    """gunicorn calls post_request with 2, 3 or 4 arguments, depending on the
    hook's own signature; the result here is always called with all four."""
    if value is None:
        return None
    if isinstance(value, str):
        value = _import_callable(value)
    if callable(value):
        for count in (4, 3, 2):
            if _accepts(value, count):
                if count == 4:
                    return value
                return _first_args(value, count)
    raise SettingError(
        "expected a function taking 2, 3 or 4 arguments (worker, req, environ, resp)"
    )


def _first_args(function, count: int):
    @functools.wraps(function)
    def call(*args):
        return function(*args[:count])

    return call


# -- the table ------------------------------------------------------------------


def hook(name: str, args: tuple[str, ...], doc: str, parse=None) -> Setting:
    return Setting(
        name,
        "Server hooks",
        (),
        parse or _hook(*args),
        None,
        doc,
        in_env=False,
        hook_args=args,
    )


SETTINGS: tuple[Setting, ...] = (
    # -- Config ---------------------------------------------------------------
    Setting(
        "config",
        "Config",
        ("-c", "--config"),
        _optional_text,
        None,
        "The config file: a Python file whose module-level names are settings "
        "(like gunicorn's `gunicorn.conf.py`), `python:MODULE` to import one, or "
        "a TOML file (`glade.toml`, or the `[tool.glade]` table of "
        "`pyproject.toml`). Without it, the first of `glade.conf.py`, `glade.toml` "
        "and a `pyproject.toml` with a `[tool.glade]` table found in the working "
        "directory is used.",
        metavar="FILE",
        in_file=False,
    ),
    Setting(
        "check_config",
        "Config",
        ("--check-config",),
        _boolean,
        False,
        "Load the config and the app, report problems, and exit 0 (all good) or 1 without serving.",
        is_switch=True,
        in_file=False,
        in_env=False,
    ),
    Setting(
        "print_config",
        "Config",
        ("--print-config",),
        _boolean,
        False,
        "Print the effective value of every setting and where it came from "
        "(default, file and line, environment variable or flag), then exit.",
        is_switch=True,
        in_file=False,
        in_env=False,
    ),
    # -- Server socket ----------------------------------------------------------
    Setting(
        "bind",
        "Server socket",
        ("-b", "--bind"),
        _bind_list,
        ["127.0.0.1:8000"],
        "Address to listen on: `HOST:PORT`, `[IPV6]:PORT`, or `unix:PATH`. "
        "Repeat the flag to listen on several addresses. When no source sets "
        "it and the `PORT` environment variable is set, Glade listens on "
        "`0.0.0.0:$PORT`.",
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
        "reuse_port",
        "Server socket",
        ("--reuse-port",),
        _boolean,
        False,
        "Set SO_REUSEPORT on the TCP listening sockets, so that other processes "
        "(another Glade, during a blue-green switch) may listen on the same port; "
        "the kernel spreads new connections over all of them.",
        is_switch=True,
    ),
    # -- Worker processes ---------------------------------------------------------
    Setting(
        "workers",
        "Worker processes",
        ("-w", "--workers"),
        _workers,
        1,
        "Number of worker processes, or `auto` for one per CPU this process may "
        "use. Each gevent worker serves many connections at once, so one per CPU "
        "is the usual count. `auto` counts what a container is given, where "
        "`os.cpu_count()` counts the host's cores: the CPU quota of the "
        "process's cgroup or of any parent (`cpu.max` on cgroup v2, "
        "`cpu.cfs_quota_us` on v1; the smallest counts), rounded up, and no "
        "more than the CPUs it may run on (its affinity mask), which is the "
        "count when there is no quota. A `WEB_CONCURRENCY` set to a number wins "
        "over `auto`. `auto` is worked out when the config is loaded, at start "
        "and on every `HUP`; `--print-config` shows the number and why. When the "
        "cgroup file system is not mounted at `/sys/fs/cgroup`, "
        "`GLADE_CGROUP_ROOT` says where it is.",
        metavar="INT",
        env_aliases=("WEB_CONCURRENCY",),
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
        "Most connections one gevent worker serves at once. When it is full, "
        "connections that keep it waiting for a request (idle keep-alive ones "
        "and new ones that have sent nothing yet, quiet for 0.5 s or more, and "
        "ones whose head has been arriving for over a second) are closed, "
        "oldest first, to make room, "
        "as nginx does; when none is waiting, further clients wait in the "
        "kernel's backlog.",
        metavar="INT",
    ),
    Setting(
        "threads",
        "Worker processes",
        ("--threads",),
        _integer(1),
        1,
        "gunicorn's threads per worker. Accepted and ignored: a gevent worker "
        "runs each connection in a greenlet (see worker_connections).",
        metavar="INT",
        unsupported="is ignored: a gevent worker runs each connection in a greenlet "
        "(see worker_connections)",
    ),
    Setting(
        "block_warn_ms",
        "Worker processes",
        ("--block-warn-ms",),
        _integer(0),
        500,
        "Log the stack of the code that keeps a gevent worker's event loop "
        "from running for longer than this many milliseconds (0: off): "
        "blocking calls that monkey-patching missed show up here.",
        metavar="MS",
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
        "max_worker_memory",
        "Worker processes",
        ("--max-worker-memory",),
        _integer(0),
        0,
        "Replace a worker whose memory (RSS) stays above this many MiB (0: "
        "never): its successor is ready first, then it drains, so no request "
        "fails. Checked about once a second; a worker must stay above the limit "
        "for three checks in a row.",
        metavar="MIB",
    ),
    Setting(
        "max_worker_lifetime",
        "Worker processes",
        ("--max-worker-lifetime",),
        _seconds,
        0.0,
        "Replace a worker once it has served this long (0: never), the same rolling way.",
        metavar="SECONDS",
    ),
    Setting(
        "max_worker_lifetime_jitter",
        "Worker processes",
        ("--max-worker-lifetime-jitter",),
        _seconds,
        0.0,
        "Add a random 0..N seconds to each worker's lifetime, so that workers "
        "do not all restart at the same moment.",
        metavar="SECONDS",
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
    # -- Timeouts -------------------------------------------------------------------
    Setting(
        "timeout",
        "Timeouts",
        ("-t", "--timeout"),
        _seconds,
        30.0,
        "Heartbeat timeout: a worker whose event loop has not run for this many "
        "seconds is stuck, and so is one still loading the app after this long; "
        "the master aborts it and the worker logs where it was (0 disables).",
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
        "(0 disables keep-alive). While a worker drains, an idle connection "
        "closes after 0.5 s of quiet instead.",
        metavar="SECONDS",
    ),
    Setting(
        "shutdown_delay",
        "Timeouts",
        ("--shutdown-delay",),
        _seconds,
        0.0,
        "On SIGTERM, keep serving this many seconds before closing the "
        "listeners and draining, so that a load balancer stops sending new "
        "requests first (Kubernetes, ECS). Ctrl+C does not wait.",
        metavar="SECONDS",
    ),
    Setting(
        "request_timeout",
        "Timeouts",
        ("--request-timeout",),
        _seconds,
        0.0,
        "End a request that runs longer than this (0: never): the client gets "
        "503 (or the connection closes if the response has started), the stack "
        "of the code it was in is logged, the app's finally blocks run, and the "
        "worker keeps serving. A request stuck in code that never yields to "
        "gevent is caught by --timeout instead.",
        metavar="SECONDS",
    ),
    Setting(
        "first_byte_timeout",
        "Timeouts",
        ("--first-byte-timeout",),
        _seconds,
        5.0,
        "How long a new connection may stay silent before its first byte: "
        "connections that never send anything are closed without a response "
        "(they would hold a worker's slots for --header-timeout otherwise). "
        "0 leaves them to --header-timeout.",
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
        "header_min_rate",
        "Timeouts",
        ("--header-min-rate",),
        _integer(0),
        500,
        "Slowest pace a request head may arrive at, in bytes per second, on "
        "average once it has taken 5 s; a head that pauses for 5 s is cut too. "
        "Either gets 408 (a slowloris client is gone within seconds, not after "
        "--header-timeout). 0 leaves heads to --header-timeout alone.",
        metavar="BYTES",
    ),
    Setting(
        "body_timeout",
        "Timeouts",
        ("--body-timeout",),
        _seconds,
        60.0,
        "How long a client may make no progress: send nothing of a request "
        "body the app is reading (408), or read nothing of a response (the "
        "response is cut, with a log line). A slow but steady client is "
        "never cut.",
        metavar="SECONDS",
    ),
    # -- Request limits ---------------------------------------------------------------
    Setting(
        "limit_request_line",
        "Request limits",
        ("--limit-request-line",),
        _integer(0, LIMIT_MAX),
        4094,
        "Longest request line in bytes (0: no limit); longer gets 414.",
        metavar="BYTES",
    ),
    Setting(
        "limit_request_fields",
        "Request limits",
        ("--limit-request-fields",),
        _integer(0, LIMIT_MAX),
        100,
        "Most header fields in one request (0: no limit); more gets 431.",
        metavar="INT",
    ),
    Setting(
        "limit_request_field_size",
        "Request limits",
        ("--limit-request-field-size",),
        _integer(0, LIMIT_MAX),
        8190,
        "Largest header field (name and value) in bytes (0: no limit); larger gets 431.",
        metavar="BYTES",
        gunicorn_flags=("--limit-request-field_size",),
    ),
    Setting(
        "limit_request_head",
        "Request limits",
        ("--limit-request-head",),
        _integer(0, LIMIT_MAX),
        32768,
        "Largest request head (request line and header fields) in bytes, "
        "without the optional whitespace around values (0: no limit); larger "
        "gets 431. It bounds the memory a client can hold with an unfinished "
        "head: about this much per connection.",
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
    # -- Metrics and probes -------------------------------------------------------------
    Setting(
        "metrics_bind",
        "Metrics and probes",
        ("--metrics-bind",),
        _optional_address,
        None,
        "Address (`HOST:PORT` or `unix:PATH`) where the master serves "
        "`/metrics` (Prometheus), `/livez` and `/readyz`; off when unset. "
        "Needs the `metrics` extra (`pip install 'glade[metrics]'`). See "
        "docs/operations.md.",
        metavar="ADDRESS",
    ),
    Setting(
        "statsd_host",
        "Metrics and probes",
        ("--statsd-host",),
        _udp_address,
        None,
        "Send gunicorn's StatsD metrics (`gunicorn.requests`, "
        "`gunicorn.request.duration`, ...) to this UDP `HOST:PORT`; off when unset.",
        metavar="HOST:PORT",
    ),
    Setting(
        "statsd_prefix",
        "Metrics and probes",
        ("--statsd-prefix",),
        _text,
        "",
        "Prefix of every StatsD metric name (a dot is added after it).",
        metavar="PREFIX",
    ),
    Setting(
        "dogstatsd_tags",
        "Metrics and probes",
        ("--dogstatsd-tags",),
        _text,
        "",
        "Comma-separated DogStatsD tags (`key:value,...`) added to every StatsD metric.",
        metavar="TAGS",
    ),
    # -- Application ------------------------------------------------------------------
    Setting(
        "wsgi_app",
        "Application",
        (),
        _optional_text,
        None,
        "The WSGI application, as `module:name` or `module:factory()`; also "
        "the command's positional argument. A factory's arguments must be "
        "literals: `module:factory('production', debug=True)`. An app that "
        "cannot be called with `(environ, start_response)`, such as a factory "
        "named without its parentheses, stops the server when it is loaded "
        "(and fails `--check-config`) with a line that says what to write.",
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
        env_aliases=("SCRIPT_NAME",),
    ),
    Setting(
        "raw_env",
        "Application",
        ("-e", "--env"),
        _raw_env,
        [],
        "Environment variables to set for the app, as `NAME=VALUE`; repeat the flag for "
        "more. Set in the master, so every worker sees them; a reload applies the new "
        "list, and a name it no longer has gets back its value from before Glade set it.",
        metavar="NAME=VALUE",
        multiple=True,
    ),
    Setting(
        "preload_app",
        "Application",
        ("--preload",),
        _boolean,
        False,
        "Import the app once and fork the workers from it, so that they share its "
        "memory; an app that cannot load stops the server before it serves. Sync "
        "worker: the master imports it, and a reload (HUP) keeps the preloaded code. "
        "gevent worker: a zygote process forked from the master patches with gevent, "
        "imports the app and forks the workers (the master never imports gevent); a "
        "reload starts a new zygote with the new code.",
        is_switch=True,
    ),
    Setting(
        "reload",
        "Application",
        ("--reload",),
        _boolean,
        False,
        "For development: when a file of the app (any loaded module, or one of "
        "reload_extra_files) changes, new workers take over with the new code, and "
        "the old ones finish their requests first. If the new code fails to load, "
        "the error is logged and the old workers keep serving until the next change.",
        is_switch=True,
    ),
    Setting(
        "reload_extra_files",
        "Application",
        ("--reload-extra-file",),
        _text_list,
        [],
        "More files to watch with reload (templates, settings files); repeat the flag.",
        metavar="FILE",
        multiple=True,
    ),
    # -- Proxies and TLS ----------------------------------------------------------------
    Setting(
        "forwarded_allow_ips",
        "Proxies and TLS",
        ("--forwarded-allow-ips",),
        _peer_list,
        ["127.0.0.1", "::1"],
        "Front-end addresses (or networks, like `10.0.0.0/8`) trusted to set the "
        "secure_scheme_headers, the client's address (--proxy-headers) and the host "
        "headers (--proxy-host-headers), comma-separated; `*` trusts every peer. "
        "Peers on a UNIX socket are always trusted. Only list the proxies in front "
        "of Glade: any client can send these headers.",
        metavar="ADDRESSES",
        env_aliases=("FORWARDED_ALLOW_IPS",),
    ),
    Setting(
        "proxy_headers",
        "Proxies and TLS",
        ("--proxy-headers",),
        _boolean,
        True,
        "From a peer in forwarded_allow_ips, take the client's address for "
        "REMOTE_ADDR (and the access log's `%(h)s`) from `X-Forwarded-For`, or "
        "RFC 7239 `Forwarded`: the right-most hop that is not itself a trusted "
        "proxy. The headers stay in the environ as they came. On by default, as "
        "in uvicorn; `--no-proxy-headers` turns it off.",
        is_switch=True,
        off_flags=("--no-proxy-headers",),
    ),
    Setting(
        "proxy_host_headers",
        "Proxies and TLS",
        ("--proxy-host-headers",),
        _boolean,
        False,
        "From a peer in forwarded_allow_ips, take the host, port and path prefix "
        "from `X-Forwarded-Host`, `X-Forwarded-Port` and `X-Forwarded-Prefix` "
        "(HTTP_HOST and SERVER_NAME, SERVER_PORT, the front of SCRIPT_NAME), as "
        "werkzeug's ProxyFix does. Off by default: most proxies pass the Host on.",
        is_switch=True,
    ),
    Setting(
        "secure_scheme_headers",
        "Proxies and TLS",
        (),
        _header_dict,
        {"X-FORWARDED-PROTOCOL": "ssl", "X-FORWARDED-PROTO": "https", "X-FORWARDED-SSL": "on"},
        "Headers, and their values, by which a trusted front-end says the "
        "request came over HTTPS: from a peer in forwarded_allow_ips, a listed "
        "header makes `wsgi.url_scheme` https when it has the listed value and http "
        "otherwise; listed headers that disagree get a 400. `{}` turns this off. "
        "In the environment: `NAME=VALUE,NAME=VALUE` or JSON.",
    ),
    Setting(
        "proxy_protocol",
        "Proxies and TLS",
        ("--proxy-protocol",),
        _proxy_protocol,
        "off",
        "Read the PROXY protocol header a TCP load balancer (HAProxy, AWS NLB, "
        "stunnel) sends before the first request: off, v1 (text), v2 (binary) or "
        "auto (either). A connection without one is served as it is. The header "
        "sets REMOTE_ADDR and REMOTE_PORT to the client's, and adds PROXY_PROTOCOL, "
        "PROXY_ADDR and PROXY_PORT (the address the client connected to), as gunicorn does.",
        metavar="MODE",
    ),
    Setting(
        "proxy_allow_ips",
        "Proxies and TLS",
        ("--proxy-allow-from",),
        _peer_list,
        ["127.0.0.1", "::1"],
        "Peers allowed to send a PROXY header (addresses or networks, comma-separated; "
        "`*` for any). A header from anyone else gets 403 and the connection is closed.",
        metavar="ADDRESSES",
    ),
    Setting(
        "certfile",
        "Proxies and TLS",
        ("--certfile",),
        _optional_text,
        None,
        "Serve HTTPS on every listener with this certificate (PEM; the chain may "
        "follow it, and the private key too when keyfile is not set). Checked at "
        "startup: a missing file or a key that does not match stops the server.",
        metavar="FILE",
    ),
    Setting(
        "keyfile",
        "Proxies and TLS",
        ("--keyfile",),
        _optional_text,
        None,
        "The certificate's private key (PEM), when it is not in certfile. Read by "
        "each worker before it switches to `user`, so it may stay readable by root "
        "alone.",
        metavar="FILE",
    ),
    Setting(
        "ca_certs",
        "Proxies and TLS",
        ("--ca-certs",),
        _optional_text,
        None,
        "CA certificates (PEM) that client certificates are verified against; see cert_reqs.",
        metavar="FILE",
    ),
    Setting(
        "cert_reqs",
        "Proxies and TLS",
        ("--cert-reqs",),
        _cert_reqs,
        0,
        "Client certificates: 0 (none asked for), 1 (verified if sent) or 2 "
        "(required); `none`, `optional` and `required` work too, and so does "
        "`ssl.CERT_REQUIRED` in a Python file.",
        metavar="N",
    ),
    Setting(
        "ciphers",
        "Proxies and TLS",
        ("--ciphers",),
        _optional_text,
        None,
        "OpenSSL cipher list for TLS 1.2 (TLS 1.3 suites are OpenSSL's); "
        "Python's secure default when not set.",
        metavar="CIPHERS",
    ),
    # -- Process ------------------------------------------------------------------------
    Setting(
        "daemon",
        "Process",
        ("-D", "--daemon"),
        _daemon,
        False,
        "Refused: Glade runs in the foreground. Let systemd (or a container "
        "runtime, or supervisord) run it in the background and restart it.",
        is_switch=True,
    ),
    Setting(
        "pidfile",
        "Process",
        ("-p", "--pid"),
        _optional_text,
        None,
        "Write the master's PID to this file at startup; remove it at exit. "
        "During a binary upgrade (SIGUSR2) the old master's file is renamed "
        "with `.oldbin` appended.",
        metavar="FILE",
    ),
    Setting(
        "user",
        "Process",
        ("-u", "--user"),
        _user_or_group("user", _user_name),
        None,
        "Run the workers as this user (name or id). Each worker switches right after "
        "fork, before it imports the app; the master keeps its own user, and must be "
        "root to do this. Without `group`, the workers take the user's own group.",
        metavar="USER",
    ),
    Setting(
        "group",
        "Process",
        ("-g", "--group"),
        _user_or_group("group", _group_name),
        None,
        "Run the workers with this group (name or id).",
        metavar="GROUP",
    ),
    Setting(
        "initgroups",
        "Process",
        ("--initgroups",),
        _boolean,
        False,
        "Give the workers the supplementary groups of `user` (from the group "
        "database). Without it they keep no supplementary group at all.",
        is_switch=True,
    ),
    Setting(
        "umask",
        "Process",
        ("-m", "--umask"),
        _umask,
        0,
        "The file mode mask a UNIX socket is created with. 0, as in gunicorn, lets "
        "every local user connect; 0o007 only the socket's user and group (with "
        "`user` or `group` set, the socket file is given to them).",
        metavar="INT",
    ),
    Setting(
        "proc_name",
        "Process",
        ("-n", "--name"),
        _optional_text,
        None,
        "The name in the process titles shown by ps and top, `glade: master [NAME]` "
        "and `glade: worker [NAME]`; the app's name by default. Titles need the "
        "setproctitle package (`pip install 'glade[setproctitle]'`).",
        metavar="NAME",
    ),
    # -- Logging ---------------------------------------------------------------------------
    Setting(
        "errorlog",
        "Logging",
        ("--error-logfile", "--log-file"),
        _error_log_target,
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
        "`json`: one JSON object per line, with `time` (ISO 8601, milliseconds), "
        "`remote_addr` (the client, as a trusted proxy reports it), `peer_addr` (the "
        "connection's other end), `method`, `path`, `query`, `protocol`, `status`, "
        "`bytes`, `duration_us`, `referer`, `user_agent` and `request_id` "
        "(`X-Request-ID`, or else `X-Correlation-ID`). See docs/operations.md.",
        metavar="FORMAT",
        gunicorn_flags=("--access-logformat",),
    ),
    Setting(
        "error_log_format",
        "Logging",
        ("--error-log-format",),
        _log_format,
        "text",
        "`text`: gunicorn's lines, `[time] [pid] [LEVEL] message`. `json`: one JSON "
        "object per line, with `time` (ISO 8601, milliseconds and UTC offset), `level`, "
        "`pid`, `logger`, `message`, and `exception` (the traceback as text) when there "
        "is one, in the master and in every worker. See docs/operations.md.",
        metavar="FORMAT",
    ),
    Setting(
        "syslog",
        "Logging",
        ("--log-syslog",),
        _boolean,
        False,
        "Send the error log, and the access log unless "
        "`disable_redirect_access_to_syslog`, to syslog at `syslog_addr` too, as gunicorn "
        "does. The lines are tagged `glade.PREFIX.error` and `glade.PREFIX.access`.",
        is_switch=True,
    ),
    Setting(
        "syslog_addr",
        "Logging",
        ("--log-syslog-to",),
        _syslog_address,
        syslog.default_address(),
        "Where syslog listens: `udp://HOST:PORT`, `tcp://HOST:PORT` or `unix://PATH` "
        "(`unix://PATH#dgram` or `#stream` to pick the socket type; without it, datagram "
        "then stream). gunicorn's default: `udp://localhost:514`, but "
        "`unix:///var/run/syslog` on macOS, `unix:///var/run/log` on FreeBSD and "
        "`unix:///dev/log` on OpenBSD. A syslog that cannot be reached costs its lines, "
        "and one warning in the error log, never the server.",
        metavar="SYSLOG_ADDR",
    ),
    Setting(
        "syslog_prefix",
        "Logging",
        ("--log-syslog-prefix",),
        _optional_text,
        None,
        "The PREFIX in the syslog tag `glade.PREFIX.error`; `proc_name`, or the app's "
        "name, by default.",
        metavar="SYSLOG_PREFIX",
    ),
    Setting(
        "syslog_facility",
        "Logging",
        ("--log-syslog-facility",),
        _syslog_facility,
        "user",
        "The syslog facility of every line: user, daemon, local0 to local7, ...",
        metavar="SYSLOG_FACILITY",
    ),
    Setting(
        "disable_redirect_access_to_syslog",
        "Logging",
        ("--disable-redirect-access-to-syslog",),
        _boolean,
        False,
        "With `syslog`, keep the access log out of it.",
        is_switch=True,
    ),
    Setting(
        "logconfig_dict",
        "Logging",
        (),
        _dict,
        {},
        "A `logging.config.dictConfig` dict (JSON in the environment), applied after "
        "the log settings above. Its `gunicorn.error` and `gunicorn.access` loggers "
        "are Glade's error and access logs (`glade.error` and `glade.access` work "
        "too); configuring the access logger turns the access log on. A logger it "
        "configures gets its handlers instead of Glade's, the JSON format and syslog "
        'included; `{"()": "glade.logging.JsonFormatter"}` is the JSON format as '
        "a formatter. A dict that cannot be applied stops the server at start, or "
        "fails a reload.",
    ),
    # -- Server hooks --------------------------------------------------------------------
    hook(
        "on_starting",
        ("server",),
        "Called in the master before it binds and forks. An exception stops startup.",
    ),
    hook(
        "on_reload",
        ("server",),
        "Called in the master when it reloads (SIGHUP), before the new workers start.",
    ),
    hook(
        "when_ready",
        ("server",),
        "Called in the master once the sockets are bound, before the first "
        "workers start. An exception stops startup.",
    ),
    hook(
        "pre_fork",
        ("server", "worker"),
        "Called in the master just before a worker is forked.",
    ),
    hook(
        "post_fork",
        ("server", "worker"),
        "Called in the new worker process right after the fork, before it loads the app.",
    ),
    hook(
        "post_worker_init",
        ("worker",),
        "Called in the worker once it has loaded the app.",
    ),
    hook(
        "worker_int",
        ("worker",),
        "Called in the worker when it is told to stop at once (SIGQUIT).",
    ),
    hook(
        "worker_abort",
        ("worker",),
        "Called in the worker when the master aborts it for a missed heartbeat (SIGABRT).",
    ),
    hook(
        "pre_exec",
        ("server",),
        "Called in the master before it re-executes itself for a binary upgrade (SIGUSR2).",
    ),
    hook(
        "pre_request",
        ("worker", "req"),
        "Called in the worker before the app handles a request.",
    ),
    hook(
        "post_request",
        ("worker", "req", "environ", "resp"),
        "Called in the worker after a request; the hook may take only the first "
        "2 or 3 of the arguments, as in gunicorn.",
        parse=_post_request_hook,
    ),
    hook(
        "child_exit",
        ("server", "worker"),
        "Called in the master after a worker process has exited.",
    ),
    hook(
        "worker_exit",
        ("server", "worker"),
        "Called in the worker process just before it exits.",
    ),
    hook(
        "nworkers_changed",
        ("server", "new_value", "old_value"),
        "Called in the master when the number of workers changes (SIGTTIN, SIGTTOU).",
    ),
    hook(
        "on_exit",
        ("server",),
        "Called in the master just before it exits.",
    ),
)

BY_NAME: dict[str, Setting] = {setting.name: setting for setting in SETTINGS}

HOOKS: tuple[str, ...] = tuple(s.name for s in SETTINGS if s.hook_args is not None)

# gunicorn settings that Glade does not have, each with the values that mean
# "as gunicorn's default" (so setting them that way changes nothing and needs
# no warning). Any other value is reported with one warning line.
ALWAYS = object()
GUNICORN_ONLY: dict[str, tuple] = {
    "reload_engine": ("auto",),
    "spew": (False,),
    "sendfile": (None, True),
    "worker_tmp_dir": (None,),
    "tmp_upload_dir": (None,),
    "capture_output": (False,),
    "logger_class": ("gunicorn.glogging.Logger",),
    "logconfig": (None,),
    "logconfig_json": (None,),
    "enable_stdio_inheritance": (False,),
    "enable_backlog_metric": (False,),
    "default_proc_name": (ALWAYS,),
    "paste": (None,),
    "raw_paste_global_conf": ([], ()),
    "ssl_context": (ALWAYS,),
    "protocol": ("http",),
    "uwsgi_allow_ips": (ALWAYS,),
    "ssl_version": (ALWAYS,),
    "suppress_ragged_eofs": (True,),
    "do_handshake_on_connect": (False,),
    "http_protocols": ("h1", ["h1"]),
    "http2_cleartext": ("off", False, None),
    "http2_max_concurrent_streams": (ALWAYS,),
    "http2_initial_window_size": (ALWAYS,),
    "http2_max_frame_size": (ALWAYS,),
    "http2_max_header_list_size": (ALWAYS,),
    "permit_obsolete_folding": (False,),
    "strip_header_spaces": (False,),
    "permit_unconventional_http_method": (False,),
    "permit_unconventional_http_version": (False,),
    "casefold_http_method": (False,),
    "forwarder_headers": ("SCRIPT_NAME,PATH_INFO",),
    "header_map": ("drop",),
    "asgi_loop": ("auto",),
    "asgi_lifespan": ("auto",),
    "asgi_disconnect_grace_period": (ALWAYS,),
    "websocket_max_message_size": (ALWAYS,),
    "http_parser": ("auto",),
    "root_path": ("",),
    "dirty_apps": ([], ()),
    "dirty_workers": (0,),
    "dirty_timeout": (ALWAYS,),
    "dirty_threads": (ALWAYS,),
    "dirty_graceful_timeout": (ALWAYS,),
    "on_dirty_starting": (ALWAYS,),
    "dirty_post_fork": (ALWAYS,),
    "dirty_worker_init": (ALWAYS,),
    "dirty_worker_exit": (ALWAYS,),
    "control_socket": (ALWAYS,),
    "control_socket_mode": (ALWAYS,),
    "control_socket_disable": (False,),
}

# Why a gunicorn-only setting is ignored, when there is more to say than NOT_YET.
GUNICORN_ONLY_REASONS: dict[str, str] = {
    "worker_tmp_dir": "is not needed (Glade's heartbeat is a pipe, not a file) and is ignored",
    "capture_output": NOT_YET,
}


def gunicorn_only_is_default(name: str, value: Any) -> bool:
    """True when a gunicorn-only setting keeps gunicorn's default behaviour."""
    harmless = GUNICORN_ONLY[name]
    return any(option is not ALWAYS and option == value for option in harmless)


def format_default(setting: Setting) -> str:
    """The default as the docs and --help show it."""
    value = setting.default
    if setting.hook_args is not None or value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, list):
        return ",".join(value) if value else "none"
    if isinstance(value, dict):
        return json.dumps(value) if value else "{}"
    if value == "":
        return '""'
    return str(value)
