"""The error log and the access log: gunicorn's lines, or JSON lines, and syslog."""

from __future__ import annotations

import copy
import json
import logging
import logging.config
import os
import re
import sys
import time

from glade import statsd
from glade.syslog import SyslogHandler, tag

ERROR_FORMAT = "[%(asctime)s] [%(process)d] [%(levelname)s] %(message)s"
DATE_FORMAT = "%Y-%m-%d %H:%M:%S %z"

error_log = logging.getLogger("glade.error")
access_logger = logging.getLogger("glade.access")

# JSON lines: compact, ASCII, every value escaped by the encoder, so a quote,
# a backslash or a newline in a header or a message can never end a string
# or the line early.
_encode_json = json.JSONEncoder(separators=(",", ":")).encode


# The names a gunicorn logconfig_dict gives the two logs.
GUNICORN_LOGGERS = {"gunicorn.error": "glade.error", "gunicorn.access": "glade.access"}


class LogConfigError(Exception):
    """logconfig_dict cannot be applied; str() says why."""


def _handler(target: str, default_stream) -> logging.Handler:
    if target == "-":
        return logging.StreamHandler(default_stream)
    return logging.FileHandler(target, encoding="utf-8")


def setup_logging(cfg) -> None:
    """Point the error and access logs where the settings say.

    Called in the master and again in each worker after fork, so that a
    reopen (USR1) in one process never touches another's file objects, and
    each process has its own syslog socket.
    """
    for logger in (error_log, access_logger):
        for handler in list(logger.handlers):
            logger.removeHandler(handler)
            handler.close()
        logger.propagate = False
    json_errors = cfg.error_log_format == "json"
    handler = _handler(cfg.errorlog, sys.stderr)
    handler.setFormatter(
        JsonFormatter() if json_errors else logging.Formatter(ERROR_FORMAT, DATE_FORMAT)
    )
    error_log.addHandler(handler)
    error_log.setLevel(cfg.loglevel.upper())
    if cfg.accesslog:
        handler = _handler(cfg.accesslog, sys.stdout)
        handler.setFormatter(logging.Formatter("%(message)s"))
        access_logger.addHandler(handler)
        access_logger.setLevel(logging.INFO)
    if cfg.syslog:
        # gunicorn's lines: `TAG: [pid] message`; a JSON line keeps its own pid.
        text = logging.Formatter("[%(process)d] %(message)s")
        handler = _syslog_handler(cfg, "error", JsonFormatter() if json_errors else text)
        error_log.addHandler(handler)
        if not cfg.disable_redirect_access_to_syslog:
            json_access = cfg.access_log_format.strip().lower() == "json"
            message = logging.Formatter("%(message)s")
            access_logger.addHandler(
                _syslog_handler(cfg, "access", message if json_access else text)
            )
            access_logger.setLevel(logging.INFO)
    if cfg.logconfig_dict:
        apply_logconfig_dict(cfg.logconfig_dict)
    # After logconfig_dict, which would drop it: --statsd-host counts the
    # error log's warnings and errors (gunicorn.log.*).
    statsd.configure(cfg, error_log)


def _syslog_handler(cfg, log: str, formatter: logging.Formatter) -> SyslogHandler:
    handler = SyslogHandler(cfg.syslog_addr, cfg.syslog_facility, report=error_log.warning)
    handler.ident = tag(cfg.syslog_prefix or cfg.proc_name or cfg.wsgi_app or "app", log) + ": "
    handler.setFormatter(formatter)
    return handler


_iso_second: tuple[int, str, str] = (-1, "", "")


def iso_time(now: float) -> str:
    """`2026-11-26T17:00:00.123+01:00`: local time, milliseconds, UTC offset.

    The part up to the seconds, and the offset, are computed once per second:
    the access log asks for this on every request.
    """
    global _iso_second
    second = int(now)
    cached = _iso_second
    if cached[0] != second:
        t = time.localtime(second)
        sign = "+" if t.tm_gmtoff >= 0 else "-"
        hours, minutes = divmod(abs(t.tm_gmtoff) // 60, 60)
        cached = _iso_second = (
            second,
            time.strftime("%Y-%m-%dT%H:%M:%S", t),
            f"{sign}{hours:02d}:{minutes:02d}",
        )
    return f"{cached[1]}.{int((now - second) * 1000):03d}{cached[2]}"


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line whatever the message holds.

    `time`, `level`, `pid`, `logger`, `message`, and, when the record has
    them, `exception` (the traceback, as text) and `stack`. Every value goes
    through the JSON encoder, and the line is ASCII. A logconfig_dict may
    use it for any logger: `{"()": "glade.logging.JsonFormatter"}`.
    """

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": iso_time(record.created),
            "level": record.levelname,
            "pid": record.process,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return _encode_json(entry)


def apply_logconfig_dict(config: dict) -> None:
    """gunicorn's logconfig_dict, given to `logging.config.dictConfig`.

    Its `gunicorn.error` and `gunicorn.access` loggers configure Glade's error
    and access logs, so a gunicorn.conf.py's logging works unchanged. As in
    gunicorn, loggers it does not name are left alone unless it says otherwise.
    """
    config = copy.deepcopy(config)
    config.setdefault("version", 1)
    config.setdefault("disable_existing_loggers", False)
    loggers = config.get("loggers", {})
    for gunicorn_name, glade_name in GUNICORN_LOGGERS.items():
        if gunicorn_name in loggers and glade_name not in loggers:
            loggers[glade_name] = loggers[gunicorn_name]
    try:
        logging.config.dictConfig(config)
    except (ValueError, TypeError, AttributeError, ImportError) as error:
        cause = f" ({error.__cause__})" if error.__cause__ else ""
        raise LogConfigError(f"setting 'logconfig_dict': {error}{cause}") from None


def access_log_wanted(cfg) -> bool:
    """An access log file, syslog (as in gunicorn), or a logconfig_dict that
    configures the access logger."""
    if cfg.accesslog or (cfg.syslog and not cfg.disable_redirect_access_to_syslog):
        return True
    loggers = (cfg.logconfig_dict or {}).get("loggers", {})
    return "gunicorn.access" in loggers or "glade.access" in loggers


def reopen_log_files() -> None:
    """USR1: logrotate moved the files; start writing to new ones.

    The new file is opened before the old one is closed: a worker running as
    another user may not be allowed to open it (logrotate's `create` names
    the owner), and then it keeps writing to the file it has, and says so.
    """
    for logger in (error_log, access_logger):
        for handler in logger.handlers:
            if isinstance(handler, logging.FileHandler):
                try:
                    stream = handler._open()
                except OSError as error:
                    failure = f"cannot reopen {handler.baseFilename}: {error.strerror or error}"
                    error_log.warning("%s; still writing to the previous file", failure)
                    continue
                handler.acquire()
                try:
                    previous, handler.stream = handler.stream, stream
                    if previous:
                        previous.close()
                finally:
                    handler.release()


_ATOM = re.compile(r"%\((\{[^}]*\}[ioe]|[a-zA-Z]+)\)s")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_clf_second: tuple[int, str] = (-1, "")


def _clf_time(now: float) -> str:
    """`[26/Nov/2026:17:00:00 +0100]`, computed once per second."""
    global _clf_second
    second = int(now)
    if _clf_second[0] != second:
        t = time.localtime(second)
        sign = "+" if t.tm_gmtoff >= 0 else "-"
        hours, minutes = divmod(abs(t.tm_gmtoff) // 60, 60)
        _clf_second = (
            second,
            f"[{t.tm_mday:02d}/{_MONTHS[t.tm_mon - 1]}/{t.tm_year}:"
            f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} {sign}{hours:02d}{minutes:02d}]",
        )
    return _clf_second[1]


def _dash(*_) -> str:
    return "-"


def _user(environ: dict) -> str:
    auth = environ.get("HTTP_AUTHORIZATION", "")
    if auth[:6].lower() == "basic ":
        import base64
        import binascii

        try:
            decoded = base64.b64decode(auth[6:].strip()).decode("latin-1")
        except (binascii.Error, ValueError):
            return "-"
        return decoded.partition(":")[0] or "-"
    return "-"


def _request_line(environ) -> str:
    query = environ.get("QUERY_STRING")
    path = environ.get("RAW_URI") or environ.get("PATH_INFO", "")
    if query and "?" not in path:
        path += "?" + query
    return f"{environ['REQUEST_METHOD']} {path} {environ['SERVER_PROTOCOL']}"


# Each atom: (environ, status, response headers, body bytes, seconds) -> text.
_ATOMS = {
    "h": lambda e, s, o, b, d: e.get("REMOTE_ADDR") or "-",
    "l": lambda e, s, o, b, d: "-",
    "u": lambda e, s, o, b, d: _user(e),
    "t": lambda e, s, o, b, d: _clf_time(time.time()),
    "r": lambda e, s, o, b, d: _request_line(e),
    "m": lambda e, s, o, b, d: e["REQUEST_METHOD"],
    "U": lambda e, s, o, b, d: e.get("SCRIPT_NAME", "") + e.get("PATH_INFO", ""),
    "q": lambda e, s, o, b, d: e.get("QUERY_STRING", ""),
    "H": lambda e, s, o, b, d: e.get("SERVER_PROTOCOL", ""),
    "s": lambda e, s, o, b, d: str(s),
    "B": lambda e, s, o, b, d: str(b),
    "b": lambda e, s, o, b, d: str(b) if b else "-",
    "f": lambda e, s, o, b, d: e.get("HTTP_REFERER", "-"),
    "a": lambda e, s, o, b, d: e.get("HTTP_USER_AGENT", "-"),
    "T": lambda e, s, o, b, d: str(int(d)),
    "D": lambda e, s, o, b, d: str(int(d * 1_000_000)),
    "M": lambda e, s, o, b, d: str(int(d * 1000)),
    "L": lambda e, s, o, b, d: f"{d:.6f}",
    "p": lambda e, s, o, b, d: f"<{os.getpid()}>",
}


def _named_atom(atom: str):
    """`{name}i` (request header), `{name}o` (response header), `{name}e` (environ)."""
    name, kind = atom[1:-2], atom[-1]
    if kind == "i":
        key = "HTTP_" + name.upper().replace("-", "_")
        return lambda e, s, o, b, d: e.get(key, "-")
    if kind == "o":
        lowered = name.lower()
        return lambda e, s, o, b, d: next((v for k, v in o if k.lower() == lowered), "-")
    return lambda e, s, o, b, d: str(e.get(name, "-"))


def _readable(value: str | None) -> str | None:
    """Request text as a person wrote it: a WSGI string carries the bytes that
    came as latin-1, so a UTF-8 path or header is decoded as UTF-8 (bytes that
    are not UTF-8 become `\\xNN`). ASCII, the usual case, costs one check."""
    if value is None or value.isascii():
        return value
    try:
        return value.encode("latin-1").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:  # not a WSGI string: middleware put text there
        return value


def json_record(environ, status_code: int, body_bytes: int, duration: float) -> dict:
    """The JSON access log's fields for one request (docs/operations.md#logs).

    `remote_addr` is the client (REMOTE_ADDR: the address a trusted proxy
    reported, or the PROXY protocol's), `peer_addr` the other end of the
    connection (the proxy, or the client itself). A field with nothing to
    say is null.
    """
    get = environ.get
    remote = get("REMOTE_ADDR") or None
    return {
        "time": iso_time(time.time()),
        "remote_addr": remote,
        "peer_addr": get("glade.peer_addr", remote) or None,
        "method": environ["REQUEST_METHOD"],
        "path": _readable(get("SCRIPT_NAME", "") + get("PATH_INFO", "")),
        "query": _readable(get("QUERY_STRING", "")),
        "protocol": get("SERVER_PROTOCOL", ""),
        "status": status_code,
        "bytes": body_bytes,
        "duration_us": int(duration * 1_000_000),
        "referer": _readable(get("HTTP_REFERER")),
        "user_agent": _readable(get("HTTP_USER_AGENT")),
        "request_id": _readable(get("HTTP_X_REQUEST_ID") or get("HTTP_X_CORRELATION_ID")),
    }


class AccessLog:
    """Formats one line per request.

    The format is read once: each atom it uses is bound to its function, so
    a request computes only those atoms and looks nothing up by name. The
    line goes to the logger without the caller lookup `logger.info()` does
    (the access log's records have no use for the line that made them).
    """

    def __init__(self, fmt: str) -> None:
        self.json = fmt.strip().lower() == "json"
        self.format = fmt
        self.atoms = () if self.json else tuple(dict.fromkeys(_ATOM.findall(fmt)))
        self._functions = tuple(
            (atom, _named_atom(atom) if atom.startswith("{") else _ATOMS.get(atom, _dash))
            for atom in self.atoms
        )

    def atom_values(self, environ, status_code, response_headers, body_bytes, duration) -> dict:
        return {
            atom: function(environ, status_code, response_headers, body_bytes, duration)
            for atom, function in self._functions
        }

    def line(self, environ, status_code, response_headers, body_bytes, duration) -> str:
        if self.json:
            return _encode_json(json_record(environ, status_code, body_bytes, duration))
        return self.format % {
            atom: function(environ, status_code, response_headers, body_bytes, duration)
            for atom, function in self._functions
        }

    def log(self, environ, status_code, response_headers, body_bytes, duration) -> None:
        if access_logger.isEnabledFor(logging.INFO):
            line = self.line(environ, status_code, response_headers, body_bytes, duration)
            access_logger.handle(
                access_logger.makeRecord(access_logger.name, logging.INFO, "", 0, line, None, None)
            )
