"""The master's side of the zygote (--preload with the gevent worker).

The zygote itself (workers/zygote.py) patches with gevent, imports the app
once, and forks the workers; the master forks it, waits for its `ready`,
asks it for each worker, and replaces it on a reload. Waiting on it blocks
the master's loop for as long as the app takes to import, as a sync
worker's --preload does at start.
"""

from __future__ import annotations

import array
import ctypes
import os
import select
import socket
from time import monotonic

from glade.logging import error_log

# PR_SET_CHILD_SUBREAPER (linux/prctl.h): orphaned descendants of this process
# are re-parented to it, not to PID 1. The workers a zygote forks become the
# master's children this way.
_PR_SET_CHILD_SUBREAPER = 36
# How long a worker's fork may take to be answered.
FORK_TIMEOUT = 10.0


class ZygoteFailed(Exception):
    """The zygote could not boot, or stopped answering; str() is the line to show."""


def become_subreaper() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise ZygoteFailed(
            f"--preload with gevent needs a child subreaper: {os.strerror(ctypes.get_errno())}"
        )


class Zygote:
    """One zygote process, as the master sees it."""

    def __init__(self, pid: int, sock: socket.socket) -> None:
        self.pid = pid
        self.sock = sock
        self._buffer = b""

    @classmethod
    def start(cls, fork_child, boot_timeout: float) -> Zygote:
        """Fork the zygote (`fork_child(sock)` runs in the child and never
        returns) and wait until it has imported the app."""
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        pid = os.fork()
        if pid == 0:
            # Whatever happens here must end here: nothing may return into
            # the master's code, which this process is a copy of.
            try:
                ours.close()
                fork_child(theirs)
            except BaseException:
                error_log.critical("the zygote could not start", exc_info=True)
            finally:
                os._exit(1)
        theirs.close()
        zygote = cls(pid, ours)
        try:
            line = zygote._read_line(boot_timeout or 3600.0)
        except ZygoteFailed:
            zygote.stop()
            raise
        if line.startswith("boot-error "):
            zygote.stop()
            raise ZygoteFailed(line[len("boot-error ") :])
        if line != "ready":
            zygote.stop()
            raise ZygoteFailed(f"the zygote said {line!r}")
        return zygote

    def fork_worker(self, age: int, status_w: int, control_r: int) -> int:
        """A new worker's pid; it gets the two pipe ends."""
        fds = array.array("i", [status_w, control_r])
        try:
            self.sock.sendmsg(
                [f"fork {age}\n".encode("ascii")],
                [(socket.SOL_SOCKET, socket.SCM_RIGHTS, fds.tobytes())],
            )
            line = self._read_line(FORK_TIMEOUT)
        except OSError as error:
            raise ZygoteFailed(f"the zygote is gone: {error}") from None
        kind, _, value = line.partition(" ")
        if kind != "pid" or not value.isdigit():
            raise ZygoteFailed(f"the zygote said {line!r}")
        return int(value)

    def stop(self) -> None:
        """Tell it to exit (end of file on its socket); the master reaps it."""
        try:
            self.sock.close()
        except OSError:
            pass

    def close_in_child(self) -> None:
        """In a child of the master: the master's end is not the child's to keep."""
        self.sock.close()

    def _read_line(self, timeout: float) -> str:
        deadline = monotonic() + timeout
        while b"\n" not in self._buffer:
            remaining = deadline - monotonic()
            if remaining <= 0:
                raise ZygoteFailed(f"the zygote did not answer within {timeout:g} s")
            readable, _, _ = select.select([self.sock], [], [], remaining)
            if not readable:
                continue
            data = self.sock.recv(4096)
            if not data:
                raise ZygoteFailed("the zygote exited")
            self._buffer += data
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line.decode("utf-8", "replace")
