"""Giving memory back to the system after a surge of connections.

A surge of connections (a burst of clients, or an attack that holds
unfinished request heads) fills the worker's heap with buffers and heads of
up to --limit-request-head each. When they close, glibc's malloc keeps most
of what they freed: it only returns the top of its heap, and the freed
blocks are scattered below live ones. The worker's RSS then stays at the
surge's peak for good, and a memory-limited container pays for it.
`malloc_trim(0)` hands every wholly free page back (madvise), without
moving anything; it takes a few milliseconds on a heap of 100 MiB, so it
runs once after each surge, not on a timer.

Without glibc (musl, macOS) there is no malloc_trim, and nothing is done.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable

# A surge: this many connections more than now, at the peak since the last trim...
SURGE = 100
# ...and now at most this share of that peak.
SETTLED = 0.5


def _find_malloc_trim() -> Callable[[int], int] | None:
    try:
        trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim


class SurgeTrimmer:
    """Watches the number of open connections; trims the heap when a surge is over.

    `peak` is raised by the caller as connections open (an int compare, on
    the accept path); `check()` runs now and then, off the request path.
    """

    __slots__ = ("_trim", "peak")

    def __init__(self) -> None:
        self._trim = _find_malloc_trim()
        self.peak = 0

    def check(self, open_now: int) -> bool:
        """Trim if a surge is over; True when it did."""
        peak = self.peak
        if peak - open_now < SURGE or open_now > peak * SETTLED:
            return False
        self.peak = open_now
        if self._trim is None:
            return False
        self._trim(0)
        return True
