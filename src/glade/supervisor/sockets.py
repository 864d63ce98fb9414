"""Listening sockets: parse bind addresses, bind them once in the master.

Workers inherit the bound sockets across fork, so all of them accept from
the same kernel queues and a restarted worker never re-binds.
"""

from __future__ import annotations

import errno
import os
import socket
import stat
import sys

from glade.addresses import Address


class BindError(Exception):
    """An address that cannot be listened on; str() is the line to show."""


def bind(
    address: Address,
    backlog: int,
    umask: int = 0,
    owner: tuple[int, int] | None = None,
    reuse_port: bool = False,
) -> socket.socket:
    """A listening socket. A UNIX socket file is created under `umask` (so its
    mode decides which local users may connect) and handed to `owner` (uid,
    gid; -1 leaves one as it is)."""
    sock = socket.socket(address.family, socket.SOCK_STREAM)
    try:
        if address.family == socket.AF_UNIX:
            _remove_stale_unix_socket(address.host)
            previous = os.umask(umask)
            try:
                sock.bind(address.host)
            finally:
                os.umask(previous)
            if owner is not None:
                os.chown(address.host, *owner)
        else:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if reuse_port:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            if address.family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind((address.host, address.port))
        sock.listen(backlog)
    except OSError as error:
        sock.close()
        if error.errno == errno.EADDRINUSE:
            raise BindError(f"cannot listen on {address}: address already in use") from None
        if error.errno == errno.EADDRNOTAVAIL or isinstance(error, socket.gaierror):
            raise BindError(f"cannot listen on {address}: no such local address") from None
        raise BindError(f"cannot listen on {address}: {error.strerror or error}") from None
    sock.set_inheritable(True)
    return sock


def _remove_stale_unix_socket(path: str) -> None:
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(mode):
        raise BindError(f"cannot listen on unix:{path}: the path exists and is not a socket")
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(path)
    except OSError:
        os.unlink(path)  # nobody listens: a leftover from a crashed server
    else:
        raise BindError(f"cannot listen on unix:{path}: address already in use")
    finally:
        probe.close()


# A classic BPF socket filter that drops a TCP segment with SYN set and ACK
# clear (a new connection's first packet) and passes every other one. On a
# listening socket it runs with the packet's data at the TCP header, so
# byte 13 holds the flags.
_DROP_NEW_CONNECTIONS = (
    (0x30, 0, 0, 13),  # ldb [13]: the TCP flags
    (0x54, 0, 0, 0x12),  # and #(SYN|ACK)
    (0x15, 0, 1, 0x02),  # jeq #SYN: drop, else pass
    (0x06, 0, 0, 0),  # ret #0: drop
    (0x06, 0, 0, 0xFFFFFFFF),  # ret #-1: pass whole
)
SO_ATTACH_FILTER = getattr(socket, "SO_ATTACH_FILTER", 26)


def refuse_new_connections(sock: socket.socket) -> bool:
    """Stop the kernel from starting new connections on a TCP listener that
    is about to close for good; True if it could (Linux).

    When the last copy of a listening socket closes, the kernel resets every
    connection it completed that nobody accepted yet: a client told
    "connected" gets a reset instead of an answer. With this filter no new
    handshake begins (a client's SYN is dropped, it retries a second later
    and finds the port closed: refused, the clean way), while handshakes
    already under way complete, so the workers can accept every connection
    the kernel ever completed before they close.
    """
    if sys.platform != "linux" or sock.family not in (socket.AF_INET, socket.AF_INET6):
        return False
    import ctypes

    class SockFilter(ctypes.Structure):
        _fields_ = [
            ("code", ctypes.c_uint16),
            ("jt", ctypes.c_uint8),
            ("jf", ctypes.c_uint8),
            ("k", ctypes.c_uint32),
        ]

    class SockFprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_uint16), ("filter", ctypes.POINTER(SockFilter))]

    instructions = (SockFilter * len(_DROP_NEW_CONNECTIONS))(
        *(SockFilter(*instruction) for instruction in _DROP_NEW_CONNECTIONS)
    )
    program = SockFprog(len(_DROP_NEW_CONNECTIONS), instructions)
    try:
        # The kernel copies the program during the call; `instructions` lives until then.
        sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, bytes(program))
    except OSError:
        return False
    return True
