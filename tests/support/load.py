"""Steady load from several client threads, with every outcome counted.

Outcomes, as a user of the server would judge them:
- ok: a complete 200 response.
- refused: the TCP connect was refused (the server had stopped listening).
  That is the clean way to turn clients away.
- failed: anything else on a connection the server accepted: a reset, an
  empty reply or a truncated or non-200 response.
- retried: a request sent on a reused keep-alive connection that the server
  had closed while it was idle, before any byte of a response. RFC 9112
  (9.3.1) lets clients retry exactly this case, and browsers, urllib3 and
  Go's http.Client do; the retry's own outcome is counted as well.

Each thread stops when told to or at its deadline, whichever comes first.
"""

from __future__ import annotations

import http.client
import socket
import threading
import time
from collections import Counter


class Load:
    def __init__(
        self,
        host: str,
        port: int,
        *,
        clients: int = 4,
        path: str = "/",
        keep_alive: bool = True,
        max_seconds: float = 60.0,
        pause: float = 0.0,
    ) -> None:
        self.host = host
        self.pause = pause  # each client's rest between two requests
        self.port = port
        self.path = path
        self.keep_alive = keep_alive
        self.counts: Counter = Counter()
        self.errors: list[str] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._deadline = time.monotonic() + max_seconds
        self._threads = [threading.Thread(target=self._client, daemon=True) for _ in range(clients)]

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def stop(self) -> Counter:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=15)
        return self.counts

    def wait_for(self, ok: int, timeout: float = 10.0) -> None:
        """Block until at least `ok` requests succeeded (bounded)."""
        deadline = time.monotonic() + timeout
        while self.counts["ok"] < ok and time.monotonic() < deadline:
            time.sleep(0.02)

    def _count(self, outcome: str, detail: str = "") -> None:
        with self._lock:
            self.counts[outcome] += 1
            if detail and len(self.errors) < 20:
                self.errors.append(detail)

    def _running(self) -> bool:
        return not self._stop.is_set() and time.monotonic() < self._deadline

    def _client(self) -> None:
        connection = None
        while self._running():
            reused = connection is not None
            if connection is None:
                connection = http.client.HTTPConnection(self.host, self.port, timeout=10)
                try:
                    connection.connect()
                except ConnectionRefusedError:
                    self._count("refused")
                    connection = None
                    time.sleep(0.01)
                    continue
                except OSError as error:
                    self._count("failed", f"connect: {error!r}")
                    connection = None
                    continue
            outcome, detail, may_retry = self._one_request(connection, reused)
            if outcome == "failed" and may_retry:
                self._count("retried")
            else:
                self._count(outcome, detail)
            if outcome != "ok" or not self.keep_alive or connection.sock is None:
                connection.close()
                connection = None
            if self.pause:
                time.sleep(self.pause)

    def _one_request(self, connection, reused: bool):
        headers = {} if self.keep_alive else {"Connection": "close"}
        try:
            connection.request("GET", self.path, headers=headers)
        except OSError as error:
            return "failed", f"send: {error!r}", reused
        try:
            response = connection.getresponse()
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError) as error:
            # Nothing of a response arrived: on a reused idle connection, the
            # server closed it as the request went out.
            return "failed", f"no response: {error!r}", reused
        except (OSError, http.client.HTTPException) as error:
            return "failed", f"response: {error!r}", False
        try:
            body = response.read()
        except (OSError, http.client.HTTPException) as error:
            return "failed", f"body: {error!r}", False
        if response.status != 200:
            return "failed", f"status {response.status}: {body[:80]!r}", False
        if response.getheader("Connection", "").lower() == "close":
            connection.close()
        return "ok", "", False


def hold_requests(host: str, port: int, path: str, count: int):
    """Start `count` requests in threads; returns (result slots, threads).

    A slot becomes (status, body, Connection header, monotonic time of the
    end) or ("error", repr, None, time).
    """
    results: list = [None] * count

    def run(index: int) -> None:
        connection = http.client.HTTPConnection(host, port, timeout=60)
        try:
            connection.request("GET", path)
            response = connection.getresponse()
            body = response.read()
            results[index] = (response.status, body, response.getheader("Connection"), _now())
        except Exception as error:  # the outcome is what the test asserts on
            results[index] = ("error", repr(error), None, _now())
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(count)]
    for thread in threads:
        thread.start()
    return results, threads


def _now() -> float:
    return time.monotonic()


def join_all(threads, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    for thread in threads:
        thread.join(timeout=max(deadline - time.monotonic(), 0.01))


def open_idle_connections(host: str, port: int, count: int) -> list[socket.socket]:
    """Keep-alive connections that served one request and now sit idle."""
    sockets = []
    for _ in range(count):
        sock = socket.create_connection((host, port), timeout=10)
        sock.sendall(b"GET / HTTP/1.1\r\nHost: test\r\n\r\n")
        data = b""
        while b"\r\n\r\n" not in data or not data.endswith(b"Hello, World!"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
        sockets.append(sock)
    return sockets
