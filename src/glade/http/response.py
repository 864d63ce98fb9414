"""Response bytes: status lines, the Date header, error responses, chunks.

Everything that can be computed once is: the Date header is formatted at
most once per second (status lines are cached with their check, in
wsgi/response.py).
"""

from __future__ import annotations

import time
from http import HTTPStatus
from time import time as wall_clock

from glade import SERVER_SOFTWARE

SERVER_HEADER = b"Server: " + SERVER_SOFTWARE.encode("ascii") + b"\r\n"
CONTINUE_RESPONSE = b"HTTP/1.1 100 Continue\r\n\r\n"
LAST_CHUNK = b"0\r\n\r\n"


def status_line(status: str) -> bytes:
    """`HTTP/1.1 200 OK\\r\\n` for the app's status string."""
    return b"HTTP/1.1 " + status.encode("latin-1") + b"\r\n"


_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


class _DateHeader:
    __slots__ = ("_header", "_second")

    def __init__(self) -> None:
        self._second = -1
        self._header = b""

    def __call__(self) -> bytes:
        """`Date: <IMF-fixdate>\\r\\n`, formatted once per second."""
        return self.current()

    def current(self) -> bytes:
        """The same as calling it; a C call for the compiled response writer."""
        now = int(wall_clock())
        if now != self._second:
            t = time.gmtime(now)
            text = (
                f"Date: {_WEEKDAYS[t.tm_wday]}, {t.tm_mday:02d} {_MONTHS[t.tm_mon - 1]} "
                f"{t.tm_year:04d} {t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} GMT\r\n"
            )
            self._header = text.encode("ascii")
            self._second = now
        return self._header


date_header = _DateHeader()


def error_response(status: int, reason: str = "", *, head_only: bool = False) -> bytes:
    """A complete short plain-text response that closes the connection."""
    phrase = HTTPStatus(status).phrase
    body = f"{status} {phrase}\n".encode("ascii")
    if reason:
        body = f"{status} {phrase}: {reason}\n".encode("ascii", "replace")
    head = (
        f"HTTP/1.1 {status} {phrase}\r\n".encode("ascii")
        + date_header()
        + SERVER_HEADER
        + b"Content-Type: text/plain; charset=utf-8\r\n"
        + b"Content-Length: "
        + str(len(body)).encode("ascii")
        + b"\r\nConnection: close\r\n\r\n"
    )
    return head if head_only else head + body


def chunk(data: bytes) -> bytes:
    """One chunk of a chunked body (RFC 9112 7.1); b"" for no data.

    An empty chunk would be the last-chunk that ends the body, which is
    LAST_CHUNK's job alone.
    """
    if not data:
        return b""
    return b"%x\r\n%b\r\n" % (len(data), data)
