"""Run a real gunicorn master with Glade's worker class, and talk to it.

Every wait is bounded; every process started is killed with its whole
process group when the test ends, whatever happened. With ``tty=True`` the
server runs on a pseudo-terminal as its controlling terminal, so `ctrl_c()`
is exactly what a person's Ctrl+C does: the terminal sends SIGINT to every
process of the foreground process group, master and workers alike.
"""

from __future__ import annotations

import errno
import fcntl
import http.client
import os
import pty
import re
import signal
import socket
import subprocess
import sys
import termios
import threading
import time
from pathlib import Path

import gunicorn
from gunicorn.config import Config

HERE = Path(__file__).resolve().parent
APPS = HERE / "apps"
WORKER = "glade.contrib.gunicorn.GeventWorker"
TRACEBACK = "Traceback (most recent call last)"
LISTENING = re.compile(r"Listening at: https?://(127\.0\.0\.1):(\d+) ")
GUNICORN_VERSION = tuple(int(part) for part in gunicorn.__version__.split(".")[:2])
# gunicorn >= 25 opens a control socket at a per-user path; parallel test
# servers would share it.
_NO_CONTROL_SOCKET = (
    ["--no-control-socket"] if "control_socket_disable" in Config().settings else []
)


def _take_terminal() -> None:  # runs in the child, after setsid()
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


class Gunicorn:
    """One gunicorn master (plus workers) in its own session."""

    def __init__(
        self,
        *args: str,
        app: str = "contrib_app:app",
        workers: int = 1,
        graceful_timeout: float = 3,
        worker_class: str | None = WORKER,
        tty: bool = False,
        startup_timeout: float = 20.0,
        env: dict | None = None,
    ) -> None:
        command = [sys.executable, "-m", "gunicorn", "-b", "127.0.0.1:0", "--chdir", str(APPS)]
        if worker_class:
            command += ["-k", worker_class]
        command += ["-w", str(workers), "--graceful-timeout", str(graceful_timeout)]
        command += [*_NO_CONTROL_SOCKET, *args, app]
        env = dict(os.environ, PYTHONUNBUFFERED="1", **(env or {}))
        env.pop("GUNICORN_CMD_ARGS", None)
        self.workers = workers
        # Glade's worker logs its move to SERVING; another class only its boot.
        self._ready_line = "BOOTING -> SERVING" if worker_class == WORKER else "Booting worker"
        self._chunks: list[bytes] = []
        self._terminal: int | None = None
        if tty:
            self._terminal, child_end = pty.openpty()
            try:
                self.proc = subprocess.Popen(
                    command,
                    stdin=child_end,
                    stdout=child_end,
                    stderr=child_end,
                    env=env,
                    start_new_session=True,
                    preexec_fn=_take_terminal,
                )
            finally:
                os.close(child_end)
            source = self._terminal
        else:
            self.proc = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )
            source = self.proc.stdout.fileno()
        self.pid = self.proc.pid
        self._reader = threading.Thread(target=self._read, args=(source,), daemon=True)
        self._reader.start()
        self.port = 0
        try:
            self._wait_ready(startup_timeout)
        except BaseException:
            self.kill()
            raise

    # -- output -------------------------------------------------------------

    def _read(self, fd: int) -> None:
        while True:
            try:
                data = os.read(fd, 65536)
            except OSError as error:  # EIO: the terminal's last user is gone
                if error.errno != errno.EIO:
                    raise
                return
            if not data:
                return
            self._chunks.append(data)

    def output(self) -> str:
        return b"".join(self._chunks).decode("utf-8", "replace")

    def tracebacks(self) -> int:
        return self.output().count(TRACEBACK)

    def wait_for_output(self, pattern: str, count: int = 1, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(re.findall(pattern, self.output())) >= count:
                return
            time.sleep(0.02)
        raise AssertionError(f"{pattern!r} x{count} not seen within {timeout} s:\n{self.output()}")

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.output()
            match = LISTENING.search(text)
            if match and text.count(self._ready_line) >= self.workers:
                self.port = int(match.group(2))
                return
            if self.proc.poll() is not None:
                raise AssertionError(f"gunicorn exited with {self.proc.returncode}:\n{text}")
            time.sleep(0.05)
        raise AssertionError(f"gunicorn was not ready within {timeout} s:\n{self.output()}")

    # -- signals ------------------------------------------------------------

    def ctrl_c(self) -> None:
        """Type the interrupt character on the terminal (needs tty=True)."""
        assert self._terminal is not None, "ctrl_c() needs Gunicorn(tty=True)"
        os.write(self._terminal, b"\x03")

    def signal(self, signum: int) -> None:
        """What `kill -SIG <master pid>` does."""
        os.kill(self.pid, signum)

    def wait(self, timeout: float) -> int:
        return self.proc.wait(timeout=timeout)

    def worker_pids(self) -> list[int]:
        try:
            text = Path(f"/proc/{self.pid}/task/{self.pid}/children").read_text()
        except OSError:
            return []
        return [int(part) for part in text.split()]

    def kill(self) -> None:
        """Kill the whole process group, reap, close the terminal."""
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)
        self._reader.join(timeout=5)
        if self._terminal is not None:
            os.close(self._terminal)
            self._terminal = None
        if self.proc.stdout is not None:
            self.proc.stdout.close()

    # -- clients ------------------------------------------------------------

    def connect(self, timeout: float = 10.0) -> socket.socket:
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock

    def send_request(self, path: str, headers: str = "", timeout: float = 10.0) -> socket.socket:
        """Open a connection and send one GET; the response is read later."""
        sock = self.connect(timeout)
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: test\r\n{headers}\r\n".encode("latin-1"))
        return sock

    def get(self, path: str, headers: str = "") -> tuple[http.client.HTTPResponse, bytes]:
        with self.send_request(path, headers) as sock:
            return read_response(sock)


def read_response(sock: socket.socket, timeout: float = 10.0):
    """One response from a raw socket, parsed by http.client."""
    sock.settimeout(timeout)
    response = http.client.HTTPResponse(sock)
    response.begin()
    return response, response.read()


def closed_within(sock: socket.socket, seconds: float) -> bool:
    """True if the server closes this (idle) connection within `seconds`."""
    sock.settimeout(seconds)
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


class Load:
    """Clients in threads, requesting until stopped; counts every failure.

    Half the clients open a connection per request; the other half keep
    connections alive and, as RFC 9112 section 9.3.1 lets a client do,
    resend an idempotent request once when a *reused* connection turns out
    to have been closed by the server before any byte of the response came
    (that race exists with any server that closes idle connections). A
    failure on a fresh connection, a reset mid-response or a non-200 is a
    failure.
    """

    def __init__(self, port: int, clients: int = 4, paths=("/", "/slow?s=0.05")) -> None:
        self.port = port
        self.paths = paths
        self.ok = 0
        self.retried = 0
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._client, args=(index % 2 == 0,), daemon=True)
            for index in range(clients)
        ]

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=15)

    def _client(self, keep_alive: bool) -> None:
        connection = None
        count = 0
        while not self._stop.is_set():
            path = self.paths[count % len(self.paths)]
            count += 1
            if connection is None or not keep_alive:
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=15)
                reused = False
            else:
                reused = True
            try:
                status = self._request(connection, path, keep_alive)
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                connection.close()
                connection = None
                if not reused:
                    self.failures.append(f"{path}: connection closed on a fresh connection")
                    continue
                self.retried += 1
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=15)
                try:
                    status = self._request(connection, path, keep_alive)
                except (OSError, http.client.HTTPException) as error:
                    self.failures.append(f"{path} (retried): {error!r}")
                    connection.close()
                    connection = None
                    continue
            except (OSError, http.client.HTTPException) as error:
                self.failures.append(f"{path}: {error!r}")
                connection.close()
                connection = None
                continue
            if status == 200:
                self.ok += 1
            else:
                self.failures.append(f"{path}: status {status}")
            if not keep_alive or connection.sock is None:
                connection.close()
                connection = None
        if connection is not None:
            connection.close()

    @staticmethod
    def _request(connection: http.client.HTTPConnection, path: str, keep_alive: bool) -> int:
        headers = {} if keep_alive else {"Connection": "close"}
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        response.read()
        if response.will_close:
            connection.close()
        return response.status
