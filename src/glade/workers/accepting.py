"""What a worker does when accept() fails.

Some failures are the client's and pass at once (it reset the connection
while it sat in the backlog): they are ignored. The others say something
about the worker or the machine (out of file descriptors, memory, a
listener that broke): they are logged once, and again at most once a
minute while they last, and the worker waits before it tries again, longer
each time, so a failure that persists costs neither a busy loop nor a log
that grows without end.
"""

from __future__ import annotations

import errno
import os
from time import monotonic

from glade.logging import error_log

_TRANSIENT = frozenset(
    (errno.ECONNABORTED, errno.EAGAIN, errno.EWOULDBLOCK, errno.EINTR, errno.EPROTO)
)
_NO_RESOURCES = frozenset((errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM))
FIRST_PAUSE = 0.05
LONGEST_PAUSE = 1.0
RELOG_AFTER = 60.0


class AcceptErrors:
    """Back-off and logging for one listener's accept failures."""

    __slots__ = ("_failures", "_logged_at", "_pause")

    def __init__(self) -> None:
        self._pause = 0.0
        self._failures = 0
        self._logged_at: float | None = None

    def pause_after(self, error: OSError) -> float:
        """How long to wait before the next accept (0: at once); logs what needs it."""
        if error.errno in _TRANSIENT:
            return 0.0
        self._failures += 1
        now = monotonic()
        if self._logged_at is None or now - self._logged_at >= RELOG_AFTER:
            what = "out of resources" if error.errno in _NO_RESOURCES else "failed"
            error_log.error(
                "worker %d: accept %s: %s (%d times); retrying with back-off",
                os.getpid(),
                what,
                error.strerror or error,
                self._failures,
            )
            self._logged_at = now
        self._pause = min(max(self._pause * 2, FIRST_PAUSE), LONGEST_PAUSE)
        return self._pause

    def succeeded(self) -> None:
        """An accept worked: the next failure starts afresh."""
        if self._failures:
            error_log.info("worker %d: accept works again", os.getpid())
            self._failures = 0
            self._pause = 0.0
            self._logged_at = None
