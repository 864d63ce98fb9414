"""The PROXY protocol header (v1 text, v2 binary), sans-IO.

A TCP load balancer (HAProxy, AWS NLB, stunnel) that cannot add HTTP
headers sends one of these before the first request instead, to say who
the client is. Specification: https://www.haproxy.org/download/2.9/doc/proxy-protocol.txt

`parse(data, mode)` looks at the first bytes of a connection and says: not
a PROXY header, need more bytes, or here is the header and how many bytes
it took. It never reads a socket.
"""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass

V2_SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"
V1_PREFIX = b"PROXY "
V1_MAX_LINE = 107  # the specification's bound, CRLF included
V2_HEADER = 16


class ProxyProtocolError(ValueError):
    """A malformed header; str() says what was wrong."""


class NeedData:
    """Not enough bytes yet to decide."""


NEED_DATA = NeedData()


@dataclass(frozen=True)
class ProxyHeader:
    """What the proxy said. `client` and `destination` are (address, port),
    or None for a health check (v2 LOCAL) or an unknown family."""

    protocol: str  # TCP4, TCP6, LOCAL, UNKNOWN
    client: tuple[str, int] | None
    destination: tuple[str, int] | None


def parse(data: bytes, mode: str):
    """(ProxyHeader, bytes used), (None, 0) when `data` does not start with
    a header `mode` accepts, or NEED_DATA. Raises ProxyProtocolError."""
    if mode in ("v2", "auto"):
        if data[:12] == V2_SIGNATURE:
            return _parse_v2(data)
        if len(data) < 12 and V2_SIGNATURE.startswith(data):
            return NEED_DATA
    if mode in ("v1", "auto"):
        if data[:6] == V1_PREFIX:
            return _parse_v1(data)
        if len(data) < 6 and V1_PREFIX.startswith(data):
            return NEED_DATA
    return None, 0


def _parse_v1(data: bytes):
    end = data.find(b"\r\n", 0, V1_MAX_LINE)
    if end < 0:
        if len(data) >= V1_MAX_LINE:
            raise ProxyProtocolError("PROXY v1 line longer than 107 bytes")
        return NEED_DATA
    fields = data[:end].decode("ascii", "replace").split(" ")
    used = end + 2
    if len(fields) >= 2 and fields[1] == "UNKNOWN":
        return ProxyHeader("UNKNOWN", None, None), used
    if len(fields) != 6 or fields[1] not in ("TCP4", "TCP6"):
        raise ProxyProtocolError("malformed PROXY v1 line")
    family = socket.AF_INET if fields[1] == "TCP4" else socket.AF_INET6
    client = (_address(family, fields[2]), _port(fields[4]))
    destination = (_address(family, fields[3]), _port(fields[5]))
    return ProxyHeader(fields[1], client, destination), used


def _address(family: int, text: str) -> str:
    try:
        return socket.inet_ntop(family, socket.inet_pton(family, text))
    except OSError:
        raise ProxyProtocolError(f"bad address {text!r} in PROXY v1 line") from None


def _port(text: str) -> int:
    if not text.isdigit() or int(text) > 65535 or (len(text) > 1 and text[0] == "0"):
        raise ProxyProtocolError(f"bad port {text!r} in PROXY v1 line")
    return int(text)


def _parse_v2(data: bytes):
    if len(data) < V2_HEADER:
        return NEED_DATA
    version_command, family_protocol, length = struct.unpack("!BBH", data[12:16])
    if version_command >> 4 != 2:
        raise ProxyProtocolError("PROXY v2 header with an unknown version")
    command = version_command & 0x0F
    if command > 1:
        raise ProxyProtocolError("PROXY v2 header with an unknown command")
    used = V2_HEADER + length
    if len(data) < used:
        return NEED_DATA
    if command == 0:  # LOCAL: the proxy's own connection (a health check)
        return ProxyHeader("LOCAL", None, None), used
    body = data[V2_HEADER:used]
    family, transport = family_protocol >> 4, family_protocol & 0x0F
    if family == 0 or transport != 1:  # UNSPEC, or not a stream: addresses unusable
        return ProxyHeader("UNKNOWN", None, None), used
    if family == 1 and length >= 12:
        client = (socket.inet_ntop(socket.AF_INET, body[0:4]), _u16(body, 8))
        destination = (socket.inet_ntop(socket.AF_INET, body[4:8]), _u16(body, 10))
        return ProxyHeader("TCP4", client, destination), used
    if family == 2 and length >= 36:
        client = (socket.inet_ntop(socket.AF_INET6, body[0:16]), _u16(body, 32))
        destination = (socket.inet_ntop(socket.AF_INET6, body[16:32]), _u16(body, 34))
        return ProxyHeader("TCP6", client, destination), used
    if family == 3:  # AF_UNIX addresses: nothing a WSGI app can use
        return ProxyHeader("UNKNOWN", None, None), used
    raise ProxyProtocolError("PROXY v2 header too short for its address family")


def _u16(body: bytes, offset: int) -> int:
    return struct.unpack("!H", body[offset : offset + 2])[0]
