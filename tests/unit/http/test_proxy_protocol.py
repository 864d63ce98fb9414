"""The PROXY protocol header, v1 and v2, whole and byte by byte."""

from __future__ import annotations

import socket
import struct

import pytest

from glade.http.proxy_protocol import (
    NEED_DATA,
    V2_SIGNATURE,
    ProxyHeader,
    ProxyProtocolError,
    parse,
)

REQUEST = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"


def v2(command: int, family_protocol: int, body: bytes) -> bytes:
    return V2_SIGNATURE + struct.pack("!BBH", 0x20 | command, family_protocol, len(body)) + body


def v2_inet(client=("203.0.113.7", 51000), destination=("10.0.0.5", 443), tlvs=b"") -> bytes:
    body = socket.inet_aton(client[0]) + socket.inet_aton(destination[0])
    return v2(1, 0x11, body + struct.pack("!HH", client[1], destination[1]) + tlvs)


def v2_inet6() -> bytes:
    body = socket.inet_pton(socket.AF_INET6, "2001:db8::1") + socket.inet_pton(
        socket.AF_INET6, "2001:db8::2"
    )
    return v2(1, 0x21, body + struct.pack("!HH", 40000, 80))


CASES = [
    (
        b"PROXY TCP4 203.0.113.7 10.0.0.5 51000 443\r\n",
        "v1",
        ProxyHeader("TCP4", ("203.0.113.7", 51000), ("10.0.0.5", 443)),
    ),
    (
        b"PROXY TCP6 2001:db8::1 2001:db8::2 40000 80\r\n",
        "auto",
        ProxyHeader("TCP6", ("2001:db8::1", 40000), ("2001:db8::2", 80)),
    ),
    (b"PROXY UNKNOWN\r\n", "v1", ProxyHeader("UNKNOWN", None, None)),
    (
        b"PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n",
        "auto",
        ProxyHeader("UNKNOWN", None, None),
    ),
    (v2_inet(), "v2", ProxyHeader("TCP4", ("203.0.113.7", 51000), ("10.0.0.5", 443))),
    (
        v2_inet(tlvs=b"\x04\x00\x03abc"),  # a TLV after the addresses is skipped
        "auto",
        ProxyHeader("TCP4", ("203.0.113.7", 51000), ("10.0.0.5", 443)),
    ),
    (v2_inet6(), "auto", ProxyHeader("TCP6", ("2001:db8::1", 40000), ("2001:db8::2", 80))),
    (v2(0, 0x00, b""), "v2", ProxyHeader("LOCAL", None, None)),  # a health check
    (v2(1, 0x00, b""), "v2", ProxyHeader("UNKNOWN", None, None)),
]


@pytest.mark.parametrize(("header", "mode", "expected"), CASES)
def test_headers_whole_and_byte_by_byte(header, mode, expected):
    data = header + REQUEST
    assert parse(data, mode) == (expected, len(header))
    for end in range(len(header)):  # every shorter prefix asks for more
        assert parse(data[:end], mode) is NEED_DATA, end


@pytest.mark.parametrize(
    ("data", "mode"),
    [
        (REQUEST, "auto"),
        (REQUEST, "v1"),
        (b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n" + REQUEST, "v2"),  # v1 when only v2 is on
        (v2_inet() + REQUEST, "v1"),  # and v2 when only v1 is
        (b"\r\n\r\nGET", "auto"),  # starts like the v2 signature, then is not it
    ],
)
def test_anything_else_is_not_a_header(data, mode):
    assert parse(data, mode) == (None, 0)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n", "malformed PROXY v1 line"),
        (b"PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n", "malformed PROXY v1 line"),
        (b"PROXY TCP4 1.2.3.999 5.6.7.8 1 2\r\n", "bad address '1.2.3.999'"),
        (b"PROXY TCP4 2001:db8::1 5.6.7.8 1 2\r\n", "bad address '2001:db8::1'"),
        (b"PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n", "bad port '65536'"),
        (b"PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n", "bad port '01'"),
        (b"PROXY TCP4 " + b"1" * 120, "longer than 107 bytes"),
        (V2_SIGNATURE + b"\x11\x11\x00\x00", "unknown version"),
        (V2_SIGNATURE + b"\x22\x11\x00\x00", "unknown command"),
        (v2(1, 0x11, b"\x00" * 8), "too short for its address family"),
    ],
)
def test_malformed_headers(data, message):
    with pytest.raises(ProxyProtocolError, match=message.replace("(", r"\(")):
        parse(data, "auto")
