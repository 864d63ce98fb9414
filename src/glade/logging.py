"""The error log and the access log (gunicorn's atoms, or JSON lines)."""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import time

ERROR_FORMAT = "[%(asctime)s] [%(process)d] [%(levelname)s] %(message)s"
DATE_FORMAT = "%Y-%m-%d %H:%M:%S %z"

error_log = logging.getLogger("glade.error")
access_logger = logging.getLogger("glade.access")


def _handler(target: str, default_stream) -> logging.Handler:
    if target == "-":
        return logging.StreamHandler(default_stream)
    return logging.FileHandler(target, encoding="utf-8")


def setup_logging(cfg) -> None:
    """Point the error and access logs where the settings say.

    Called in the master and again in each worker after fork, so that a
    reopen (USR1) in one process never touches another's file objects.
    """
    for logger in (error_log, access_logger):
        for handler in list(logger.handlers):
            logger.removeHandler(handler)
            handler.close()
        logger.propagate = False
    handler = _handler(cfg.errorlog, sys.stderr)
    handler.setFormatter(logging.Formatter(ERROR_FORMAT, DATE_FORMAT))
    error_log.addHandler(handler)
    error_log.setLevel(cfg.loglevel.upper())
    if cfg.accesslog:
        handler = _handler(cfg.accesslog, sys.stdout)
        handler.setFormatter(logging.Formatter("%(message)s"))
        access_logger.addHandler(handler)
        access_logger.setLevel(logging.INFO)


def reopen_log_files() -> None:
    """USR1: logrotate moved the files; start writing to new ones."""
    for logger in (error_log, access_logger):
        for handler in logger.handlers:
            if isinstance(handler, logging.FileHandler):
                handler.acquire()
                try:
                    if handler.stream:
                        handler.stream.close()
                    handler.stream = handler._open()
                finally:
                    handler.release()


_ATOM = re.compile(r"%\((\{[^}]*\}[ioe]|[a-zA-Z]+)\)s")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_JSON_FIELDS = ("h", "t", "m", "U", "q", "H", "s", "b", "f", "a", "D")
_JSON_NAMES = {
    "h": "remote_addr",
    "t": "time",
    "m": "method",
    "U": "path",
    "q": "query",
    "H": "protocol",
    "s": "status",
    "b": "bytes",
    "f": "referer",
    "a": "user_agent",
    "D": "duration_us",
}


def _clf_time(now: float) -> str:
    t = time.localtime(now)
    offset = -(time.altzone if t.tm_isdst > 0 else time.timezone)
    sign = "+" if offset >= 0 else "-"
    hours, minutes = divmod(abs(offset) // 60, 60)
    return (
        f"[{t.tm_mday:02d}/{_MONTHS[t.tm_mon - 1]}/{t.tm_year}:"
        f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} {sign}{hours:02d}{minutes:02d}]"
    )


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


class AccessLog:
    """Formats one line per request; only the atoms the format uses are computed."""

    def __init__(self, fmt: str) -> None:
        self.json = fmt.strip().lower() == "json"
        self.format = fmt
        self.atoms = _JSON_FIELDS if self.json else tuple(dict.fromkeys(_ATOM.findall(fmt)))

    def atom_values(self, environ, status_code, response_headers, body_bytes, duration) -> dict:
        values = {}
        for atom in self.atoms:
            values[atom] = self._atom(
                atom, environ, status_code, response_headers, body_bytes, duration
            )
        return values

    @staticmethod
    def _atom(atom, environ, status_code, response_headers, body_bytes, duration):
        if atom == "h":
            return environ.get("REMOTE_ADDR") or "-"
        if atom == "l":
            return "-"
        if atom == "u":
            return _user(environ)
        if atom == "t":
            return _clf_time(time.time())
        if atom == "r":
            query = environ.get("QUERY_STRING")
            path = environ.get("RAW_URI") or environ.get("PATH_INFO", "")
            if query and "?" not in path:
                path += "?" + query
            return f"{environ['REQUEST_METHOD']} {path} {environ['SERVER_PROTOCOL']}"
        if atom == "m":
            return environ["REQUEST_METHOD"]
        if atom == "U":
            return environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
        if atom == "q":
            return environ.get("QUERY_STRING", "")
        if atom == "H":
            return environ.get("SERVER_PROTOCOL", "")
        if atom == "s":
            return str(status_code)
        if atom == "B":
            return str(body_bytes)
        if atom == "b":
            return str(body_bytes) if body_bytes else "-"
        if atom == "f":
            return environ.get("HTTP_REFERER", "-")
        if atom == "a":
            return environ.get("HTTP_USER_AGENT", "-")
        if atom == "T":
            return str(int(duration))
        if atom == "D":
            return str(int(duration * 1_000_000))
        if atom == "M":
            return str(int(duration * 1000))
        if atom == "L":
            return f"{duration:.6f}"
        if atom == "p":
            return f"<{os.getpid()}>"
        if atom.startswith("{"):
            name, kind = atom[1:-2].lower(), atom[-1]
            if kind == "i":
                return environ.get("HTTP_" + name.upper().replace("-", "_"), "-")
            if kind == "o":
                for header, value in response_headers:
                    if header.lower() == name:
                        return value
                return "-"
            return str(environ.get(atom[1:-2], "-"))
        return "-"

    def log(self, environ, status_code, response_headers, body_bytes, duration) -> None:
        values = self.atom_values(environ, status_code, response_headers, body_bytes, duration)
        if self.json:
            record = {_JSON_NAMES[key]: value for key, value in values.items()}
            record["status"] = status_code
            record["bytes"] = body_bytes
            record["duration_us"] = int(duration * 1_000_000)
            line = json.dumps(record, separators=(",", ":"))
        else:
            line = self.format % values
        access_logger.info(line)
