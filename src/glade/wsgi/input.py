"""wsgi.input: the request body, streamed from the client as the app reads it.

Nothing is read ahead: a 1 GiB upload costs one recv buffer of memory, and
an app that never reads the body never makes the client send it (which is
what `Expect: 100-continue` is for).
"""

from __future__ import annotations

from collections.abc import Callable


class ClientDisconnected(OSError):
    """The client went away (or stalled past a timeout) mid-request.

    An OSError, so apps that guard body reads with `except OSError` (as
    frameworks do) handle it like any broken connection.
    """


class BadRequestBody(OSError):
    """The request body broke HTTP's framing rules or a size limit."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(f"{status} {reason}")
        self.status = status
        self.reason = reason


class InputStream:
    """A file-like body reader. `pull()` returns the next piece, b"" at the end.

    Reads block the way a file's do: `read(n)` returns n bytes unless the body
    ends first (apps call `read(int(CONTENT_LENGTH))` and expect the whole
    body). The unread rest of a piece is kept with an offset, so small reads
    and long lines cost no repeated copies.
    """

    __slots__ = ("_buffer", "_done", "_pos", "_pull")

    def __init__(self, pull: Callable[[], bytes]) -> None:
        self._pull = pull
        self._buffer = b""
        self._pos = 0
        self._done = False

    @property
    def finished(self) -> bool:
        """The whole body has been read (or dropped by drain())."""
        return self._done and self._pos >= len(self._buffer)

    def _next_piece(self) -> bytes:
        """The next piece from the client; b"" (for good) at the end of the body."""
        if self._done:
            return b""
        data = self._pull()
        if not data:
            self._done = True
        return data

    def _take_buffered(self) -> bytes:
        data = self._buffer[self._pos :] if self._pos else self._buffer
        self._buffer = b""
        self._pos = 0
        return data

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            parts = [self._take_buffered()]
            while data := self._next_piece():
                parts.append(data)
            return b"".join(parts)
        buffer, pos = self._buffer, self._pos
        if len(buffer) - pos >= size:
            if pos == 0 and len(buffer) == size:
                self._buffer = b""  # the common case: hand the piece over uncopied
                return buffer
            self._pos = pos + size
            return buffer[pos : pos + size]
        parts = [self._take_buffered()] if pos < len(buffer) else []
        needed = size - len(parts[0]) if parts else size
        while needed:
            data = self._next_piece()
            if not data:
                break
            if len(data) > needed:
                parts.append(data[:needed])
                self._buffer, self._pos = data, needed
                break
            parts.append(data)
            needed -= len(data)
        if len(parts) == 1:
            return parts[0]
        return b"".join(parts)

    def readline(self, size: int | None = -1) -> bytes:
        limit = -1 if size is None else size
        if limit == 0:
            return b""
        parts = []
        taken = 0
        while True:
            buffer, pos = self._buffer, self._pos
            if pos < len(buffer):
                stop = len(buffer) if limit < 0 else min(len(buffer), pos + limit - taken)
                end = buffer.find(b"\n", pos, stop)
                end = stop if end < 0 else end + 1
                parts.append(buffer[pos:end] if pos or end < len(buffer) else buffer)
                self._pos = end
                taken += end - pos
                if buffer[end - 1 : end] == b"\n" or taken == limit:
                    break
            data = self._next_piece()
            if not data:
                break
            self._buffer, self._pos = data, 0
        if len(parts) == 1:
            return parts[0]
        return b"".join(parts)

    def readlines(self, hint: int | None = -1) -> list[bytes]:
        lines = []
        total = 0
        while True:
            line = self.readline()
            if not line:
                return lines
            lines.append(line)
            total += len(line)
            if hint is not None and 0 < hint <= total:
                return lines

    def __iter__(self):
        return self

    def __next__(self) -> bytes:
        line = self.readline()
        if not line:
            raise StopIteration
        return line

    def drain(self, limit: int) -> bool:
        """Read and drop the rest of the body, at most `limit` bytes more.

        True when the body ended within the limit (the connection can be
        reused); False when the client still has more to send. Bytes already
        buffered were read from the client before and do not count.
        """
        self._buffer = b""
        self._pos = 0
        total = 0
        while data := self._next_piece():
            total += len(data)
            if total > limit:
                return False
        return True
