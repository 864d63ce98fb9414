"""Syslog as gunicorn's `--log-syslog` spells it: the address, the facility, the tag.

A leaf module: the settings table checks `syslog_addr` and
`syslog_facility` with it, and glade.logging builds the handlers.

The handler is the standard library's SysLogHandler (priorities, framing,
the datagram-then-stream try on a UNIX socket), with two changes, because a
log destination that is down must cost log lines, never the server:
- it connects at its first line, never while the logs are set up: the
  master sets them up again on a reload, and again after a failed one,
  and a syslog daemon restarting at that moment must not stop either;
- a failed send drops the line, says so once in the error log (until a
  line goes through again), and connects again at most once a second,
  instead of printing a traceback for every line.
A host name is resolved when the socket is made, not for every datagram.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import re
import socket
import sys
import time
from collections.abc import Callable

from glade.errors import SettingError

FACILITIES = logging.handlers.SysLogHandler.facility_names
DEFAULT_PORT = 514

ADDRESS_FORMS = "udp://HOST:PORT, tcp://HOST:PORT or unix://PATH"


def default_address(platform: str = sys.platform) -> str:
    """gunicorn's default: the local daemon's socket where one is standard, else UDP."""
    if platform == "darwin":
        return "unix:///var/run/syslog"
    if platform.startswith(("freebsd", "dragonfly")):
        return "unix:///var/run/log"
    if platform.startswith("openbsd"):
        return "unix:///dev/log"
    return f"udp://localhost:{DEFAULT_PORT}"


def parse_address(text: str) -> tuple[int | None, str | tuple[str, int]]:
    """(socket type, address) from `udp://HOST:PORT`, `tcp://HOST:PORT` or
    `unix://PATH` (`#dgram` or `#stream` after the path picks the type; without
    it, datagram then stream, as SysLogHandler tries). HOST defaults to
    localhost and PORT to 514, as in gunicorn. SettingError otherwise."""
    scheme, sep, rest = text.partition("://")
    scheme = scheme.lower()
    if not sep or scheme not in ("udp", "tcp", "unix"):
        raise SettingError(f"expected {ADDRESS_FORMS}")
    if scheme == "unix":
        path, _, kind = rest.partition("#")
        types = {"": None, "dgram": socket.SOCK_DGRAM, "stream": socket.SOCK_STREAM}
        if not path or kind.lower() not in types:
            raise SettingError("expected unix://PATH, unix://PATH#dgram or #stream")
        return types[kind.lower()], path
    if rest.startswith("["):
        host, bracket, port = rest[1:].partition("]")
        if not bracket or (port and not port.startswith(":")):
            raise SettingError(f"expected {scheme}://[IPV6]:PORT")
        port = port[1:]
    else:
        host, _, port = rest.partition(":")
    if port and not (port.isdigit() and 0 < int(port) < 65536):
        raise SettingError(f"expected {scheme}://HOST:PORT with a port from 1 to 65535")
    kind = socket.SOCK_DGRAM if scheme == "udp" else socket.SOCK_STREAM
    return kind, (host or "localhost", int(port) if port else DEFAULT_PORT)


def parse_facility(value) -> str:
    """A facility name (user, daemon, local0 ... local7, ...), lowercased."""
    name = value.strip().lower() if isinstance(value, str) else None
    if name not in FACILITIES:
        raise SettingError("expected a syslog facility: user, daemon, local0 to local7, ...")
    return name


def tag(prefix: str, log: str) -> str:
    """`glade.PREFIX.LOG`, the program name syslog files the lines under; only
    letters, digits, `_`, `-` and `.`, since `:`, `[` or a space would end it."""
    name = re.sub(r"[^\w.-]+", ".", prefix).strip(".") or "app"
    return f"glade.{name}.{log}"


# (pid, target) of the destinations this process cannot reach: said once per
# outage, whichever of the two logs meets it first. The pid: a worker starts
# with a copy of its master's set.
_outages: set[tuple[int, str]] = set()


class SyslogHandler(logging.handlers.SysLogHandler):
    """SysLogHandler that connects at its first line and again after a failure,
    and drops the lines it cannot send."""

    RETRY_SECONDS = 1.0
    TCP_TIMEOUT = 2.0

    def __init__(self, target: str, facility: str, report: Callable[[str], None]) -> None:
        # Not SysLogHandler.__init__: it connects at once, and raises when a
        # TCP syslog is down. The attributes it sets are the ones emit() reads.
        # Connecting at the first line also means a worker's socket is made
        # after gevent has patched the socket module, and the master opens
        # none for the access log it never writes.
        logging.Handler.__init__(self)
        self.target = target
        self.socktype, self.address = parse_address(target)
        self.facility = FACILITIES[facility]
        self.unixsocket = isinstance(self.address, str)
        self.socket = None
        self.timeout = None  # read by newer Pythons' _connect_unixsocket
        self._host_port = self.address
        self._report = report
        self._retry_at = 0.0
        self._sent = False

    def _connect(self) -> None:
        if time.monotonic() < self._retry_at:
            return
        try:
            if self.unixsocket:
                self._connect_unixsocket(self.address)  # sets socket and socktype
            else:
                self.socket = self._inet_socket()
        except OSError as error:
            self.socket = None
            self._failed(error)

    def _inet_socket(self) -> socket.socket:
        host, port = self._host_port
        family, kind, proto, _, address = socket.getaddrinfo(host, port, 0, self.socktype)[0]
        sock = socket.socket(family, kind, proto)
        try:
            if kind == socket.SOCK_STREAM:
                sock.settimeout(self.TCP_TIMEOUT)
                sock.connect(address)
        except OSError:
            sock.close()
            raise
        self.address = address  # numeric: no name lookup for every datagram
        return sock

    def emit(self, record: logging.LogRecord) -> None:
        if self.socket is None:
            self._connect()
            if self.socket is None:
                return  # dropped; said once
        self._sent = True
        super().emit(record)  # calls handleError() when it cannot send
        if self._sent:
            _outages.discard((os.getpid(), self.target))

    def handleError(self, record: logging.LogRecord) -> None:
        error = sys.exc_info()[1]
        if not isinstance(error, OSError):
            super().handleError(record)  # a bad log call, not a bad destination
            return
        self._sent = False
        if self.socket is not None:
            self.socket.close()
            self.socket = None
        self._failed(error)

    def _failed(self, error: OSError) -> None:
        self._retry_at = time.monotonic() + self.RETRY_SECONDS
        outage = (os.getpid(), self.target)
        if outage not in _outages:
            _outages.add(outage)  # first: the line below comes back through here
            reason = error.strerror or str(error) or type(error).__name__
            self._report(
                f"syslog at {self.target}: {reason}; its log lines are lost until it answers"
            )

    def close(self) -> None:
        if self.socket is not None:
            self.socket.close()
            self.socket = None
        logging.Handler.close(self)
