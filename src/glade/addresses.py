"""Listening addresses as the settings spell them (`HOST:PORT`, `[IPV6]:PORT`,
`:PORT`, `HOST` or `unix:PATH`), and a bound socket's address spelled the same way.

A leaf module: the settings table checks `bind` with it, and the master
binds what it returns, without config/ and supervisor/ importing each other.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass

from glade.errors import SettingError


@dataclass(frozen=True)
class Address:
    family: socket.AddressFamily
    host: str  # for AF_UNIX: the path
    port: int = 0

    def __str__(self) -> str:
        if self.family == socket.AF_UNIX:
            return f"unix:{self.host}"
        if self.family == socket.AF_INET6:
            return f"[{self.host}]:{self.port}"
        return f"{self.host}:{self.port}"


def parse_address(text: str) -> Address:
    """`HOST:PORT`, `[IPV6]:PORT`, `:PORT`, `HOST` (port 8000) or `unix:PATH`."""
    if text.startswith("unix:"):
        path = text[len("unix:") :]
        if not path:
            raise SettingError(f"expected unix:PATH, got {text!r}")
        return Address(socket.AF_UNIX, path)
    if text.startswith("["):
        host, sep, rest = text[1:].partition("]")
        if not sep or (rest and not rest.startswith(":")):
            raise SettingError(f"expected [IPV6]:PORT, got {text!r}")
        return Address(socket.AF_INET6, host, _port(rest[1:] if rest else "8000", text))
    host, sep, port = text.rpartition(":")
    if not sep:
        host, port = text, "8000"
    if ":" in host:
        raise SettingError(f"an IPv6 address needs brackets, like [::1]:8000; got {text!r}")
    return Address(socket.AF_INET, host or "0.0.0.0", _port(port, text))


def _port(text: str, whole: str) -> int:
    if not text.isdigit() or not 0 <= int(text) <= 65535:
        raise SettingError(f"expected a port number 0-65535 in {whole!r}")
    return int(text)


def bound_address(sock: socket.socket) -> str:
    """The address as a user would type it, with the real port for port 0."""
    name = sock.getsockname()
    if sock.family == socket.AF_UNIX:
        return f"unix:{name}"
    if sock.family == socket.AF_INET6:
        return f"[{name[0]}]:{name[1]}"
    return f"{name[0]}:{name[1]}"
