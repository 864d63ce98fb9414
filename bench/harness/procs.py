"""Start, probe, measure and stop one server process group, always bounded in time.

Every server runs in its own session (start_new_session=True), so the whole group,
master and workers, can be signalled and cleaned up by the master's PID alone.
"""

import contextlib
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

LOOPBACK = "127.0.0.1"
PROBE = "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
MAX_STATUS_LINE = 1024


class ServerFailed(Exception):
    """The server did not come up (exited, or never answered in time)."""


def free_port():
    """Ask the kernel for a free loopback port; the tiny reuse race is acceptable here."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]


def start(cmd, cwd, env, log_path):
    """Launch `cmd` as the leader of a new process group, output to `log_path`."""
    with open(log_path, "ab") as log:
        try:
            return subprocess.Popen(
                [str(part) for part in cmd],
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        except OSError as exc:
            raise ServerFailed(f"could not start {cmd[0]}: {exc}") from exc


def status_line(port, path, timeout=1.0):
    """The status line the server answers `GET path` with, or None if it does not yet."""
    head = b""
    try:
        with socket.create_connection((LOOPBACK, port), timeout=timeout) as sock:
            sock.sendall(PROBE.format(path=path).encode("ascii"))
            while b"\r\n" not in head and len(head) < MAX_STATUS_LINE:
                chunk = sock.recv(MAX_STATUS_LINE)
                if not chunk:
                    break
                head += chunk
    except OSError:
        return None
    line = head.split(b"\r\n", 1)[0]
    return line.decode("latin-1") if line.startswith(b"HTTP/1.") else None


def wait_ready(proc, port, timeout, path):
    """Poll `GET path` until the server answers; fail fast if it exits, after `timeout` s.

    The answer must be a 200: a server (or app) that answers the workload's path with
    anything else would only be measured producing errors.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ServerFailed(f"exited with status {proc.returncode} before answering")
        line = status_line(port, path)
        if line is not None:
            if line.split()[1:2] != ["200"]:
                raise ServerFailed(f"answered {line!r} to GET {path}")
            return
        time.sleep(0.1)
    raise ServerFailed(f"did not answer on port {port} within {timeout:.0f}s")


def wait_workers(pid, count, timeout):
    """Wait (bounded) until the master has `count` children, so no worker is still booting."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and len(children(pid)) < count:
        time.sleep(0.1)


def _killpg(pgid, signum):
    """Signal a process group; a group that is already gone is not an error."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)


def stop(proc, timeout):
    """SIGTERM the group, SIGKILL it after `timeout` s, then SIGKILL any straggler."""
    pgid = proc.pid  # leader of its own session: pgid == pid
    if proc.poll() is None:
        _killpg(pgid, signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            _killpg(pgid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout)
    # Workers can outlive a master that exited; the group id still reaches them.
    _killpg(pgid, signal.SIGKILL)


def _ppid(stat_text):
    """Parent PID from /proc/PID/stat (the command name may contain spaces or parens)."""
    return int(stat_text.rsplit(")", 1)[1].split()[1])


def children(pid):
    """PIDs whose parent is `pid` (the workers of a pre-fork master)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if _ppid((entry / "stat").read_text()) == pid:
                found.append(int(entry.name))
        except (OSError, ValueError, IndexError):
            continue
    return sorted(found)


def _kib(path, *fields):
    """The sum of the named `Field:  N kB` lines of a /proc file, or None if
    the process is gone (or the file has none of them)."""
    total = found = 0
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(fields):
                total += int(line.split()[1])
                found += 1
    except (OSError, ValueError, IndexError):
        return None
    return total if found else None


def rss_kib(pid):
    """Resident set size of one process in KiB (VmRSS), or None if it is gone."""
    return _kib(f"/proc/{pid}/status", "VmRSS:")


def worker_rss_kib(master_pid):
    """RSS of each worker (child of the master), measured right after the load."""
    values = (rss_kib(pid) for pid in children(master_pid))
    return [value for value in values if value is not None]


def uss_kib(pid):
    """Unique set size in KiB: the pages only this process holds, or None.

    RSS also counts shared library pages, but only those a process touched
    since fork, so a server that loads a library in the master before it
    forks looks smaller than one that loads it in each worker, while both
    share the same pages. USS is what one more worker really costs.
    """
    return _kib(f"/proc/{pid}/smaps_rollup", "Private_Clean:", "Private_Dirty:")


def worker_uss_kib(master_pid):
    """USS of each worker, measured with the RSS."""
    values = (uss_kib(pid) for pid in children(master_pid))
    return [value for value in values if value is not None]


def pss_kib(pid):
    """Proportional set size in KiB, or None: the process's private pages plus
    its share of each shared page (a page shared by four processes counts a
    quarter in each)."""
    return _kib(f"/proc/{pid}/smaps_rollup", "Pss:")


def server_pss_kib(master_pid):
    """The whole server's memory, master and workers: the sum of their PSS,
    which counts every page they hold once. None if one of them is gone.

    Neither RSS nor USS per worker answers what a deployment asks (how much
    memory do N workers take?): RSS counts shared pages in every process
    that touched them, USS leaves them out, and where a server loads its code
    (master or worker) moves memory between the two.
    """
    values = [pss_kib(pid) for pid in [master_pid, *children(master_pid)]]
    return None if None in values else sum(values)


def tail(path, lines=15):
    """Last lines of a server log, to explain a failure without opening the file."""
    try:
        return "\n".join(Path(path).read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


@contextlib.contextmanager
def running(cmd, cwd, env, log_path, port, ready_timeout, stop_timeout, workers, path):
    """Run a server for the duration of a with-block; it is stopped whatever happens.

    It is ready once it answers `GET path` (the workload's) with a 200.
    """
    proc = start(cmd, cwd, env, log_path)
    try:
        wait_ready(proc, port, ready_timeout, path)
        wait_workers(proc.pid, workers, ready_timeout)
        yield proc
    finally:
        stop(proc, stop_timeout)
