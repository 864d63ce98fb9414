"""systemd integration: sd_notify and socket activation (LISTEN_FDS).

Both are tiny protocols, implemented here rather than pulling in a library:
sd_notify is one datagram to the socket named by NOTIFY_SOCKET, and socket
activation is "fds 3..3+N-1 are listening sockets, if LISTEN_PID is me".
"""

from __future__ import annotations

import os
import socket

from glade.logging import error_log

SD_LISTEN_FDS_START = 3


def notify(*lines: str) -> None:
    """Send `READY=1`-style lines to systemd; a no-op outside systemd."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return
    if address.startswith("@"):
        address = "\0" + address[1:]  # abstract namespace
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.connect(address)
            sock.sendall("\n".join(lines).encode("utf-8"))
    except OSError as error:
        error_log.warning("sd_notify to %s failed: %s", os.environ["NOTIFY_SOCKET"], error)


def listen_fds() -> list[socket.socket]:
    """The listening sockets passed by systemd (or by a master upgrading itself).

    The variables are removed once read, as sd_listen_fds(unset=1) does, so
    that nothing started from here believes the sockets are its own.
    """
    try:
        pid = int(os.environ.get("LISTEN_PID", ""))
        count = int(os.environ.get("LISTEN_FDS", ""))
    except ValueError:
        return []
    if pid != os.getpid() or count <= 0:
        return []
    for name in ("LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"):
        os.environ.pop(name, None)
    sockets = []
    for fd in range(SD_LISTEN_FDS_START, SD_LISTEN_FDS_START + count):
        sock = socket.socket(fileno=fd)
        sock.set_inheritable(True)
        sockets.append(sock)
    return sockets
