"""The master's own small HTTP endpoint: /metrics, /livez and /readyz.

It runs inside the master's select loop: no thread (the master forks, and
a thread holding a lock at fork time would leave the lock held forever in
the child), no gevent (the master never imports it). Probes are tiny GET
requests from a load balancer, the kubelet or Prometheus: each connection
sends one request, gets one answer and is closed. A client that sends
nothing is dropped after a few seconds, and only a few are held at once,
so the endpoint can never stall the master.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from time import monotonic

# A probe's request head must arrive within this long, and fit in this much.
REQUEST_TIMEOUT = 5.0
MAX_REQUEST = 8192
# At most this many probe connections at once; the oldest goes first.
MAX_CLIENTS = 16
# How long the answer may take to go out (it is small; the client reads it).
SEND_TIMEOUT = 1.0

# (status, content type, body) for a path.
Answer = tuple[int, str, bytes]

_REASONS = {
    200: "OK",
    404: "Not Found",
    405: "Method Not Allowed",
    431: "Request Header Fields Too Large",
    503: "Service Unavailable",
}


class ProbeServer:
    """Answers GET requests on one listening socket, from the master's loop.

    `answer(path)` gives (status, content type, body) for a path; the caller
    adds fileno() and client_fds() to its select() and calls ready(fd) for
    each readable one, and expire() now and then.
    """

    def __init__(self, listener: socket.socket, answer: Callable[[str], Answer]) -> None:
        self.listener = listener
        listener.setblocking(False)
        self._answer = answer
        self._clients: dict[int, _Client] = {}

    def fileno(self) -> int:
        return self.listener.fileno()

    def client_fds(self) -> list[int]:
        return list(self._clients)

    def ready(self, fd: int) -> None:
        """`fd` is readable: a new connection, or a client's bytes."""
        if fd == self.listener.fileno():
            self._accept()
            return
        client = self._clients.get(fd)
        if client is None:
            return
        try:
            data = client.sock.recv(MAX_REQUEST)
        except BlockingIOError:
            return
        except OSError:
            self._drop(fd)
            return
        if not data:
            self._drop(fd)
            return
        client.data += data
        head_end = client.data.find(b"\r\n\r\n")
        if head_end < 0:
            if len(client.data) > MAX_REQUEST:
                self._reply(fd, 431, "text/plain", b"request too large\n")
            return
        request_line = client.data.split(b"\r\n", 1)[0].decode("latin-1")
        method, _, rest = request_line.partition(" ")
        target = rest.rpartition(" ")[0] or rest
        path = target.partition("?")[0]
        if method not in ("GET", "HEAD"):
            self._reply(fd, 405, "text/plain", b"only GET\n")
            return
        status, content_type, body = self._answer(path)
        self._reply(fd, status, content_type, b"" if method == "HEAD" else body, len(body))

    def expire(self) -> None:
        """Drop clients that have not sent a whole request in time."""
        now = monotonic()
        for fd, client in list(self._clients.items()):
            if now - client.since > REQUEST_TIMEOUT:
                self._drop(fd)

    def close(self) -> None:
        for fd in list(self._clients):
            self._drop(fd)
        self.listener.close()

    def _accept(self) -> None:
        while True:
            try:
                sock, _ = self.listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return  # out of descriptors, say: the next probe tries again
            sock.setblocking(False)
            if len(self._clients) >= MAX_CLIENTS:
                oldest = min(self._clients, key=lambda fd: self._clients[fd].since)
                self._drop(oldest)
            self._clients[sock.fileno()] = _Client(sock)

    def _reply(
        self, fd: int, status: int, content_type: str, body: bytes, length: int | None = None
    ) -> None:
        client = self._clients[fd]
        head = (
            f"HTTP/1.1 {status} {_REASONS.get(status, '')}\r\n"
            f"Content-Type: {content_type}\r\n"
            f"Content-Length: {len(body) if length is None else length}\r\n"
            "Cache-Control: no-store\r\n"
            "Connection: close\r\n\r\n"
        ).encode("latin-1")
        try:
            client.sock.settimeout(SEND_TIMEOUT)
            client.sock.sendall(head + body)
        except OSError:
            pass
        self._drop(fd)

    def _drop(self, fd: int) -> None:
        client = self._clients.pop(fd, None)
        if client is not None:
            try:
                client.sock.close()
            except OSError:
                pass


class _Client:
    __slots__ = ("data", "since", "sock")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.data = b""
        self.since = monotonic()
