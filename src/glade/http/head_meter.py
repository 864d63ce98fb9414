"""The size of an unfinished request head, measured the way a finished one is.

A finished head is measured from what llhttp reports: the method, the
target and the version, each header's name and value, and the line ends.
That leaves out the whitespace llhttp skips: the spaces between the words
of the request line (one is the rule, more are tolerated) and the optional
whitespace after a header's colon. An unfinished head can only be measured
from the bytes received so far; counting them raw would refuse a head
padded with that whitespace when TCP splits it, and accept the same head
when it arrives in one read.

The meter counts the received bytes minus that same whitespace, so its
count never exceeds what the finished head will measure: whatever it
refuses, the finished head would have been refused for too, whichever way
the bytes were split.
"""

from __future__ import annotations

import enum


class LineKind(enum.Enum):
    REQUEST_LINE = "request line"
    FIELD_LINE = "field line"
    # The head started at a place in a read that could not be found (right
    # after another request in the same read); until its next line starts,
    # the line is measured in the way that undercounts both kinds.
    UNKNOWN = "unknown"

    __hash__ = object.__hash__


# Where a field line is: its name, the whitespace after its colon, its value.
_NAME, _SPACE, _VALUE = range(3)

_OWS = b" \t"


class HeadMeter:
    """Counts the bytes of one request head as they arrive, in pieces."""

    __slots__ = ("_part", "kind", "line", "total")

    def __init__(self) -> None:
        self.start(LineKind.REQUEST_LINE)

    def start(self, kind: LineKind) -> None:
        """A new head begins (UNKNOWN: somewhere in bytes already gone by)."""
        self.total = 0  # the head so far
        self.line = 0  # the line in progress so far
        self.kind = kind
        self._part = _NAME

    def measure(self, data: bytes) -> None:
        """Count `data`, the next bytes of the head (none of the body)."""
        position = 0
        end = len(data)
        while position < end:
            newline = data.find(b"\n", position)
            stop = end if newline < 0 else newline + 1
            counted = self._count(data, position, stop)
            self.total += counted
            if newline < 0:
                self.line += counted
                return
            self.line = 0
            self.kind = LineKind.FIELD_LINE
            self._part = _NAME
            position = stop

    def _count(self, data: bytes, start: int, stop: int) -> int:
        """The measure of data[start:stop], a piece of one line."""
        if self.kind is not LineKind.FIELD_LINE:
            return stop - start - data.count(b" ", start, stop) - data.count(b"\t", start, stop)
        counted = 0
        if self._part == _NAME:
            colon = data.find(b":", start, stop)
            if colon < 0:
                return stop - start
            counted = colon + 1 - start
            start = colon + 1
            self._part = _SPACE
        if self._part == _SPACE:
            value = data[start:stop].lstrip(_OWS)
            if value:
                self._part = _VALUE
            return counted + len(value)
        return counted + stop - start
