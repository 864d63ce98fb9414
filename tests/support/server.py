"""Start a real `glade` process on 127.0.0.1 and talk to it.

Every wait here is bounded, and every process started is stopped by its PID
(and its process group) when the test ends, whatever happened.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TESTS_DIR = Path(__file__).resolve().parent.parent
APPS_DIR = TESTS_DIR / "apps"
LISTENING = re.compile(r"Listening at: (?:http://)?(\S+) \(")
TRACEBACK = "Traceback (most recent call last)"


class ServerError(AssertionError):
    pass


class GladeServer:
    """One `glade` master process started in its own process group."""

    def __init__(
        self,
        app: str,
        *args: str,
        cwd: str | os.PathLike | None = None,
        env: dict | None = None,
        bind: str | None = "127.0.0.1:0",
        wait_ready: bool = True,
        startup_timeout: float = 20.0,
    ) -> None:
        self.log_path = Path(tempfile.mkstemp(prefix="glade-test-", suffix=".log")[1])
        self._log_file = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        command = [sys.executable, "-m", "glade", *args]
        if bind:
            command += ["-b", bind]
        command.append(app)
        full_env = dict(os.environ)
        full_env.pop("GLADE_CMD_ARGS", None)
        full_env["PYTHONUNBUFFERED"] = "1"
        if env:
            full_env.update(env)
        self.command = command
        self.proc = subprocess.Popen(
            command,
            cwd=str(cwd or APPS_DIR),
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=full_env,
            start_new_session=True,
        )
        self.pid = self.proc.pid
        self.address: str | None = None
        if wait_ready:
            try:
                self.wait_ready(startup_timeout)
            except BaseException:
                self.stop()  # nobody else holds this object yet
                raise

    # -- startup ---------------------------------------------------------

    def wait_ready(self, timeout: float = 20.0) -> None:
        """Wait until the master logged its address and every worker is serving."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.output()
            match = LISTENING.search(text)
            if match:
                self.address = match.group(1)
            if self.address and "master: BOOTING -> SERVING" in text:
                return
            if self.proc.poll() is not None:
                raise ServerError(f"glade exited with {self.proc.returncode}:\n{text}")
            time.sleep(0.05)
        raise ServerError(f"glade was not ready within {timeout} s:\n{self.output()}")

    @property
    def host(self) -> str:
        return self.address.rsplit(":", 1)[0].strip("[]")

    @property
    def port(self) -> int:
        return int(self.address.rsplit(":", 1)[1])

    @property
    def url(self) -> str:
        return f"http://{self.address}"

    # -- talking to it ---------------------------------------------------

    @property
    def unix_path(self) -> str | None:
        """The socket path when the server listens on `unix:PATH`, else None."""
        if self.address and self.address.startswith("unix:"):
            return self.address[len("unix:") :]
        return None

    def connect(self, timeout: float = 10.0) -> socket.socket:
        path = self.unix_path
        if path is not None:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(timeout)
            try:
                sock.connect(path)
            except OSError:
                sock.close()
                raise
            return sock
        sock = socket.create_connection((self.host, self.port), timeout=timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock

    def raw(self, data: bytes, timeout: float = 10.0) -> bytes:
        """Send bytes, read until the server closes (or the timeout)."""
        with self.connect(timeout) as sock:
            sock.sendall(data)
            return read_until_close(sock, timeout)

    def get(self, path: str = "/", timeout: float = 10.0) -> tuple[int, bytes]:
        """One GET on a fresh connection: (status, body)."""
        return http_get(self.host, self.port, path, timeout)

    def output(self, since: int = 0) -> str:
        """The server's stdout and stderr so far (from byte offset `since`)."""
        with open(self.log_path, "rb") as log:
            log.seek(since)
            return log.read().decode("utf-8", "replace")

    def output_size(self) -> int:
        """A mark for `output(since=...)`: the log's size now."""
        return self.log_path.stat().st_size

    def wait_for_output(self, text: str, timeout: float = 10.0, since: int = 0) -> str:
        """Wait until `text` appears in the output; return the output."""
        deadline = time.monotonic() + timeout
        while True:
            output = self.output(since)
            if text in output:
                return output
            if time.monotonic() >= deadline:
                raise ServerError(f"{text!r} not in the output within {timeout} s:\n{output}")
            time.sleep(0.02)

    def tracebacks(self) -> int:
        return self.output().count(TRACEBACK)

    def worker_pids(self) -> list[int]:
        """The master's children, but for the zygote (--preload with gevent)."""
        return [pid for pid in children_of(self.pid) if not is_zygote(pid)]

    def zygote_pid(self) -> int | None:
        zygotes = [pid for pid in children_of(self.pid) if is_zygote(pid)]
        return zygotes[0] if len(zygotes) == 1 else None

    # -- stopping --------------------------------------------------------

    def signal(self, signum: int) -> None:
        os.kill(self.pid, signum)

    def signal_group(self, signum: int) -> None:
        """What a terminal does: the signal goes to every process in the group."""
        os.killpg(self.pid, signum)

    def wait(self, timeout: float) -> int:
        return self.proc.wait(timeout=timeout)

    def stop(self, timeout: float = 15.0) -> int | None:
        """TERM, then KILL the whole group after `timeout`; always cleans up."""
        try:
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)
                try:
                    self.proc.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    pass
        finally:
            kill_group(self.pid)
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait(timeout=5)
            self._log_file.close()
        return self.proc.returncode

    def __enter__(self) -> GladeServer:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def http_get(host: str, port: int, path: str = "/", timeout: float = 10.0) -> tuple[int, bytes]:
    """One GET on a fresh connection: (status, body)."""
    import http.client

    connection = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def run_until_exit(*args: str, cwd, timeout: float = 20.0) -> tuple[int, str]:
    """Run `glade ARGS` to its end (a server expected to stop on its own):
    (exit status, output). Its process group is killed whatever happens."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "glade", *args],
        cwd=str(cwd),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        output, _ = proc.communicate(timeout=timeout)
    finally:
        kill_group(proc.pid)
    return proc.returncode, output.decode()


def kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def children_of(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(part) for part in text.split()]


def is_zygote(pid: int) -> bool:
    """The zygote of --preload with gevent, by its process title."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().startswith(b"glade: zygote")
    except OSError:
        return False


def read_until_close(sock: socket.socket, timeout: float = 10.0) -> bytes:
    sock.settimeout(timeout)
    chunks = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            data = sock.recv(65536)
        except (ConnectionResetError, TimeoutError):
            break
        if not data:
            break
        chunks.append(data)
    return b"".join(chunks)


def wait_until(predicate, timeout: float, interval: float = 0.02):
    """Poll `predicate` until it returns something true; that value, or None."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)


class RawResponse:
    """One response parsed off the wire by `split_responses`."""

    def __init__(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None

    def __repr__(self) -> str:
        return f"<RawResponse {self.status} {self.headers!r} {self.body[:80]!r}>"


def split_responses(data: bytes, head_request: bool = False) -> list[RawResponse]:
    """Every complete response in `data`, framed the way a client would."""
    responses = []
    while data:
        head, sep, rest = data.partition(b"\r\n\r\n")
        if not sep:
            raise AssertionError(f"incomplete response head: {data[:200]!r}")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers = [tuple(part.strip() for part in line.split(":", 1)) for line in lines[1:]]
        response = RawResponse(status, headers, b"")
        length = response.header("Content-Length")
        if head_request or status < 200 or status in (204, 304):
            body = b""
        elif (response.header("Transfer-Encoding") or "").lower() == "chunked":
            body, rest = _dechunk(rest)
        elif length is not None:
            body, rest = rest[: int(length)], rest[int(length) :]
            if len(body) < int(length):
                raise AssertionError(f"truncated body: {len(body)} of {length} bytes")
        else:
            body, rest = rest, b""
        response.body = body
        responses.append(response)
        data = rest
    return responses


def _dechunk(data: bytes) -> tuple[bytes, bytes]:
    parts = []
    while True:
        size_line, sep, data = data.partition(b"\r\n")
        if not sep:
            raise AssertionError("truncated chunked body")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            while True:  # trailers, up to the empty line
                line, sep, data = data.partition(b"\r\n")
                if not sep:
                    raise AssertionError("truncated chunked trailer")
                if not line:
                    return b"".join(parts), data
        if len(data) < size + 2:
            raise AssertionError("truncated chunk")
        parts.append(data[:size])
        data = data[size + 2 :]


def vm_rss(pid: int) -> int:
    """Resident memory of a process in bytes, from /proc/PID/status."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS for process {pid}")


def read_response(sock: socket.socket, timeout: float = 10.0):
    """Read one response with http.client's parser from a raw socket."""
    import http.client

    sock.settimeout(timeout)
    response = http.client.HTTPResponse(sock)
    response.begin()
    body = response.read()
    return response, body


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def read_slowly(sock: socket.socket, rate: float, limit: float) -> tuple[bytes, str]:
    """Read until the server closes, at about `rate` bytes per second.

    Returns what arrived and how the reading ended ("eof", "reset", "timeout").
    """
    sock.settimeout(5)
    chunks = []
    received = 0
    started = time.monotonic()
    while time.monotonic() - started < limit:
        try:
            data = sock.recv(32768)
        except ConnectionResetError:
            return b"".join(chunks), "reset"
        except TimeoutError:
            return b"".join(chunks), "timeout"
        if not data:
            return b"".join(chunks), "eof"
        chunks.append(data)
        received += len(data)
        ahead = started + received / rate - time.monotonic()
        if ahead > 0:
            time.sleep(ahead)
    return b"".join(chunks), "timeout"


def small_receive_buffer() -> socket.socket:
    sock = socket.socket()
    # Keep the kernel from taking the whole body off the server at once.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 128 * 1024)
    return sock
