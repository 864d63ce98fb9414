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
    """A file-like body reader. `pull()` returns the next piece, b"" at the end."""

    __slots__ = ("_buffer", "_done", "_pull")

    def __init__(self, pull: Callable[[], bytes]) -> None:
        self._pull = pull
        self._buffer = b""
        self._done = False

    @property
    def finished(self) -> bool:
        return self._done and not self._buffer

    def _fill(self) -> bool:
        if self._done:
            return False
        data = self._pull()
        if not data:
            self._done = True
            return False
        self._buffer += data
        return True

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            while self._fill():
                pass
            data, self._buffer = self._buffer, b""
            return data
        if not self._buffer and size:
            if self._done:
                return b""
            data = self._pull()
            if not data:
                self._done = True
                return b""
            if len(data) <= size:
                return data  # the common case: hand the piece over uncopied
            self._buffer = data
        while len(self._buffer) < size and self._fill():
            pass
        data, self._buffer = self._buffer[:size], self._buffer[size:]
        return data

    def readline(self, size: int | None = -1) -> bytes:
        limit = -1 if size is None else size
        start = 0
        while True:
            end = self._buffer.find(b"\n", start)
            if end >= 0:
                end += 1
                break
            if 0 <= limit <= len(self._buffer):
                end = limit
                break
            start = len(self._buffer)
            if not self._fill():
                end = len(self._buffer)
                break
        if 0 <= limit < end:
            end = limit
        line, self._buffer = self._buffer[:end], self._buffer[end:]
        return line

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
        """Read and drop the rest of the body, at most `limit` bytes.

        True when the body ended within the limit (the connection can be
        reused); False when the client still has more to send.
        """
        self._buffer = b""
        total = 0
        while not self._done:
            data = self._pull()
            if not data:
                self._done = True
                break
            total += len(data)
            if total > limit:
                return False
        return True
