"""Mixed traffic from a bounded number of client threads, some of them hostile.

Well-behaved clients open a keep-alive connection and send a run of
requests on it: GETs of bodies with a Content-Length or chunked, and POSTs
of up to 1 MiB with a Content-Length or chunked, which the soak app echoes
as length and SHA-256. Every one of their responses is checked (status and
the whole body); anything else is an error.

Hostile clients use raw sockets and leave in the middle: inside the request
head, inside a body (Content-Length or chunked), while the app runs, or in
the middle of a large response (after a checked request on the same
connection, sometimes). Half of them close with a reset (SO_LINGER 0),
half with a FIN. What they receive is not checked: what counts is that the
server and its other clients do not notice them.

A run of requests on one connection is back to back, so the server's idle
timeout never closes it under a request; if a thread was held off the CPU
for longer than that timeout, the resulting failure is counted apart
("idle_closed"), not as a server error.
"""

from __future__ import annotations

import hashlib
import http.client
import random
import socket
import struct
import threading
import time
from collections import Counter

PATTERN = bytes(range(256))  # the soak app's bodies cycle through these
EXPECTED = PATTERN * (4 * 4096 + 1)  # a little over 4 MiB of it
GET_SIZES = (13, 13, 13, 1024, 1024, 65536, 262144, 1048576, 4194304)
MAX_UPLOAD = 1024 * 1024
BIG_STREAM = 16 * 1024 * 1024  # more than loopback's socket buffers hold
TIMEOUT = 30.0

# Weights of what one client does next.
SESSION_WEIGHT = 7
HOSTILE = (
    "mid_head",
    "mid_body_length",
    "mid_body_chunked",
    "before_response",
    "mid_response",
    "mid_response_after_one",
)


class MixedLoad:
    def __init__(
        self,
        host: str,
        port: int,
        *,
        clients: int = 8,
        seed: int = 1,
        max_seconds: float = 60.0,
        idle_timeout: float = 2.0,
    ) -> None:
        self.host = host
        self.port = port
        self.idle_timeout = idle_timeout
        self.counts: Counter = Counter()
        self.errors: list[str] = []
        self.uploads = random.Random(seed).randbytes(2 * MAX_UPLOAD)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._deadline = time.monotonic() + max_seconds
        self._threads = [
            threading.Thread(
                target=self._client, args=(random.Random(seed * 1000 + i),), daemon=True
            )
            for i in range(clients)
        ]

    def __enter__(self) -> MixedLoad:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def stop(self, timeout: float = 60.0) -> Counter:
        """Ask every client to stop after what it is doing; wait (bounded)."""
        self._stop.set()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(timeout=max(deadline - time.monotonic(), 0.01))
        alive = sum(thread.is_alive() for thread in self._threads)
        if alive:
            self._error(f"{alive} client threads still running {timeout:g} s after stop")
        return self.counts

    @property
    def checked(self) -> int:
        return self.counts["ok"]

    # -- bookkeeping ---------------------------------------------------------

    def _count(self, outcome: str, number: int = 1) -> None:
        with self._lock:
            self.counts[outcome] += number

    def _error(self, detail: str) -> None:
        with self._lock:
            self.counts["error"] += 1
            if len(self.errors) < 50:
                self.errors.append(detail)

    def _running(self) -> bool:
        return not self._stop.is_set() and time.monotonic() < self._deadline

    def _client(self, rng: random.Random) -> None:
        kinds = ["session", *HOSTILE]
        weights = [SESSION_WEIGHT] + [1] * len(HOSTILE)
        while self._running():
            kind = rng.choices(kinds, weights)[0]
            try:
                if kind == "session":
                    self._session(rng)
                else:
                    getattr(self, f"_{kind}")(rng)
                    self._count(f"left {kind}")
            except Exception as error:  # every surprise is an outcome to report
                self._error(f"{kind}: {error!r}")

    # -- well-behaved clients ------------------------------------------------

    def _session(self, rng: random.Random) -> None:
        connection = http.client.HTTPConnection(self.host, self.port, timeout=TIMEOUT)
        try:
            last_response = None
            for _ in range(rng.randint(1, 20)):
                if not self._running():
                    return
                method, path, body, expected = self._next_request(rng)
                sent_at = time.monotonic()
                idle = sent_at - last_response if last_response is not None else 0.0
                try:
                    connection.request(method, path, body=body)
                    response = connection.getresponse()
                    received = response.read()
                except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                    if idle > self.idle_timeout:
                        self._count("idle_closed")
                        return
                    raise
                last_response = time.monotonic()
                if response.status != 200 or received != expected:
                    self._error(
                        f"{method} {path}: status {response.status}, {len(received)} bytes "
                        f"{received[:60]!r}, expected {len(expected)} bytes {expected[:60]!r}"
                    )
                    return
                self._count("ok")
                self._count(
                    f"ok {method} {path.split('?')[0]}{' chunked' if _chunked(body) else ''}"
                )
        finally:
            connection.close()

    def _next_request(self, rng: random.Random):
        """(method, path, body, the response body expected)."""
        choice = rng.random()
        if choice < 0.4:
            size = rng.choice(GET_SIZES)
            return "GET", f"/bytes?{size}", None, EXPECTED[:size]
        if choice < 0.55:
            size = rng.randrange(MAX_UPLOAD + 1)
            return "GET", f"/stream?{size}", None, EXPECTED[:size]
        upload = self._upload(rng)
        expected = f"{len(upload)} {hashlib.sha256(upload).hexdigest()}".encode()
        if choice < 0.8:
            return "POST", "/echo", upload, expected
        # An iterable body without a length: http.client sends it chunked.
        return "POST", "/echo", _chunks(upload, rng), expected

    def _upload(self, rng: random.Random) -> bytes:
        size = rng.randrange(16 * 1024) if rng.random() < 0.5 else rng.randrange(MAX_UPLOAD + 1)
        start = rng.randrange(len(self.uploads) - size + 1)
        return self.uploads[start : start + size]

    # -- hostile clients -----------------------------------------------------

    def _connect(self, rng: random.Random) -> socket.socket:
        sock = socket.create_connection((self.host, self.port), timeout=TIMEOUT)
        if rng.random() < 0.5:
            # Close with a reset instead of a FIN.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        return sock

    def _mid_head(self, rng: random.Random) -> None:
        head = b"POST /echo HTTP/1.1\r\nHost: soak\r\nContent-Length: 1000\r\n\r\n"
        with self._connect(rng) as sock:
            sock.sendall(head[: rng.randrange(1, len(head) - 1)])
            time.sleep(rng.random() * 0.05)

    def _mid_body_length(self, rng: random.Random) -> None:
        upload = self._upload(rng) + b"x"
        head = f"POST /echo HTTP/1.1\r\nHost: soak\r\nContent-Length: {len(upload)}\r\n\r\n"
        with self._connect(rng) as sock:
            sock.sendall(head.encode() + upload[: rng.randrange(len(upload))])
            time.sleep(rng.random() * 0.05)

    def _mid_body_chunked(self, rng: random.Random) -> None:
        head = b"POST /echo HTTP/1.1\r\nHost: soak\r\nTransfer-Encoding: chunked\r\n\r\n"
        framed = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in _chunks(self._upload(rng), rng))
        with self._connect(rng) as sock:
            sock.sendall(head + framed[: rng.randrange(len(framed) + 1)])  # never the last chunk
            time.sleep(rng.random() * 0.05)

    def _before_response(self, rng: random.Random) -> None:
        with self._connect(rng) as sock:
            sock.sendall(b"GET /slow?0.2 HTTP/1.1\r\nHost: soak\r\n\r\n")
            time.sleep(rng.random() * 0.15)

    def _mid_response(self, rng: random.Random) -> None:
        path = rng.choice((f"/stream?{BIG_STREAM}", "/bytes?4194304"))
        with self._connect(rng) as sock:
            sock.sendall(f"GET {path} HTTP/1.1\r\nHost: soak\r\n\r\n".encode())
            _read_some(sock, rng.randrange(1, 512 * 1024))

    def _mid_response_after_one(self, rng: random.Random) -> None:
        """A checked request first, so the one left is on a reused connection."""
        with self._connect(rng) as sock:
            sock.sendall(b"GET /bytes?1024 HTTP/1.1\r\nHost: soak\r\n\r\n")
            response = http.client.HTTPResponse(sock)
            response.begin()
            body = response.read()
            if response.status != 200 or body != EXPECTED[:1024]:
                self._error(f"GET /bytes?1024 before leaving: {response.status} {body[:60]!r}")
                return
            self._count("ok")
            sock.sendall(f"GET /stream?{BIG_STREAM} HTTP/1.1\r\nHost: soak\r\n\r\n".encode())
            _read_some(sock, rng.randrange(1, 512 * 1024))


def _chunks(data: bytes, rng: random.Random):
    """`data` in pieces of random sizes (an empty body gives no piece)."""
    pieces = []
    offset = 0
    while offset < len(data):
        size = rng.randint(1, 128 * 1024)
        pieces.append(data[offset : offset + size])
        offset += size
    return iter(pieces)


def _chunked(body) -> str:
    return "" if body is None or isinstance(body, bytes) else " chunked"


def _read_some(sock: socket.socket, count: int) -> None:
    received = 0
    while received < count:
        data = sock.recv(min(65536, count - received))
        if not data:
            return
        received += len(data)
