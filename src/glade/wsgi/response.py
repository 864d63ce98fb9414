"""start_response and writing the app's result with the right framing.

Framing, in order of preference:
- the app's own Content-Length;
- a Content-Length we compute when the result is a list or tuple that has
  not been partly written yet (the common `return [body]`);
- chunked on HTTP/1.1;
- close-delimited on HTTP/1.0.
HEAD, 1xx, 204 and 304 responses never carry a body. The head goes out with
the first piece of the body in one send: two small writes would stall on
delayed ACK and cost a second syscall.
"""

from __future__ import annotations

import io
import os
import re
import stat

from glade.http.response import LAST_CHUNK, SERVER_HEADER, chunk, date_header, status_line
from glade.wsgi.file_wrapper import FileWrapper

# fullmatch, not `$`: `$` also matches before a final "\n" (response splitting).
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+").fullmatch
_STATUS = re.compile(r"[1-5][0-9][0-9] [\t\x20-\x7e\x80-\xff]*").fullmatch  # RFC 9112 4
_HOP_BY_HOP = frozenset(
    (
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
    )
)
_COALESCE_LIMIT = 256 * 1024

# What a checked response header means for framing.
_PLAIN, _CONTENT_LENGTH, _DATE, _SERVER, _CLOSE = range(5)

# Apps send the same few headers over and over: each (name, value) pair is
# checked and encoded once, then found here. Bounded, so that values that
# change with every response (Content-Length, ETag) cannot grow it forever.
_checked_headers: dict[tuple, tuple[bytes, int, int]] = {}
_checked_statuses: dict[str, tuple[int, bytes]] = {}
_CACHE_LIMIT = 4096


class AppError(Exception):
    """The app broke a PEP 3333 rule; the response becomes a 500."""


def _check_status(status) -> tuple[int, bytes]:
    if type(status) is not str or not _STATUS(status):
        raise AppError(f"invalid status {status!r}")
    checked = (int(status[:3]), status_line(status))
    if len(_checked_statuses) < _CACHE_LIMIT:
        _checked_statuses[status] = checked
    return checked


def _check_header(item) -> tuple[bytes, int, int]:
    """(encoded line, what it means, its number for Content-Length)."""
    if type(item) is not tuple or len(item) != 2:
        raise AppError(f"response header must be a (name, value) tuple: {item!r}")
    name, value = item
    if type(name) is not str or not _TOKEN(name):
        raise AppError(f"invalid response header name {name!r}")
    if type(value) is not str:
        raise AppError(f"value of response header {name!r} is not a str: {value!r}")
    if "\n" in value or "\r" in value or "\0" in value:
        raise AppError(f"response header {name!r} contains a line break or NUL")
    lowered = name.lower()
    kind, number = _PLAIN, 0
    if lowered in _HOP_BY_HOP:
        if lowered != "connection" or value.strip().lower() != "close":
            raise AppError(f"hop-by-hop response header {name!r} is the server's to set")
        kind = _CLOSE
    elif lowered == "content-length":
        digits = value.strip(" \t")
        if not (digits.isascii() and digits.isdigit()):
            raise AppError(f"invalid Content-Length {value!r}")
        kind, number = _CONTENT_LENGTH, int(digits)
    elif lowered == "date":
        kind = _DATE
    elif lowered == "server":
        kind = _SERVER
    try:
        line = name.encode("ascii") + b": " + value.encode("latin-1") + b"\r\n"
    except UnicodeEncodeError:
        raise AppError(f"response header {name!r} is not latin-1") from None
    checked = (line, kind, number)
    if len(_checked_headers) < _CACHE_LIMIT:
        _checked_headers[item] = checked
    return checked


class ResponseWriter:
    """One response: the `start_response` callable, `write()`, and the result."""

    __slots__ = (
        "_body_allowed",
        "_chunked",
        "_content_length",
        "_head",
        "_head_request",
        "_http11",
        "_send",
        "_sendfile",
        "_status_line",
        "bytes_sent",
        "head_sent",
        "headers",
        "keep_alive",
        "status",
        "status_code",
    )

    def __init__(self, send, sendfile, *, head_request: bool, http11: bool, keep_alive: bool):
        self._send = send
        self._sendfile = sendfile
        self._head_request = head_request
        self._http11 = http11
        self.keep_alive = keep_alive
        self.status: str | None = None
        self.status_code = 0
        self._status_line = b""
        self.headers: list = []
        self._head: bytes | None = None
        self.head_sent = False
        self._content_length: int | None = None
        self._chunked = False
        self._body_allowed = True
        self.bytes_sent = 0  # body bytes, for the access log

    # -- PEP 3333 callables ---------------------------------------------

    def start_response(self, status, headers, exc_info=None):
        if exc_info:
            try:
                if self.head_sent:
                    raise exc_info[1].with_traceback(exc_info[2])
            finally:
                exc_info = None
        elif self.status is not None:
            raise AppError("start_response() called a second time without exc_info")
        try:
            code, line = _checked_statuses[status]
        except (KeyError, TypeError):
            code, line = _check_status(status)
        if type(headers) is not list:
            raise AppError(f"response headers must be a list, got {type(headers).__name__}")
        self.status = status
        self.status_code = code
        self._status_line = line
        self.headers = headers
        self._head = None
        return self.write

    def write(self, data: bytes) -> None:
        if self.status is None:
            raise AppError("write() called before start_response()")
        if type(data) is not bytes:
            if not isinstance(data, (bytes, bytearray, memoryview)):
                raise AppError(f"the app wrote {type(data).__name__}, not bytes")
            data = bytes(data)
        self._write_body(data)

    # -- writing ---------------------------------------------------------

    def _build_head(self, known_length: int | None) -> bytes:
        code = self.status_code
        self._chunked = False
        self._body_allowed = not (self._head_request or code < 200 or code in (204, 304))
        parts = [self._status_line]
        append = parts.append
        has_date = has_server = False
        content_length = None
        for item in self.headers:
            try:
                line, kind, number = _checked_headers[item]
            except (KeyError, TypeError):
                line, kind, number = _check_header(item)
            if kind:
                if kind == _CONTENT_LENGTH:
                    if content_length is not None:
                        raise AppError("more than one Content-Length response header")
                    content_length = number
                elif kind == _DATE:
                    has_date = True
                elif kind == _SERVER:
                    has_server = True
                else:  # Connection: close, the one hop-by-hop header an app may ask for
                    self.keep_alive = False
                    continue
            append(line)
        if not has_date:
            append(date_header())
        if not has_server:
            append(SERVER_HEADER)
        if content_length is None and self._body_allowed:
            if known_length is not None:
                content_length = known_length
                append(b"Content-Length: %d\r\n" % known_length)
            elif self._http11:
                self._chunked = True
                append(b"Transfer-Encoding: chunked\r\n")
            else:
                self.keep_alive = False  # the end of the body is the close
        self._content_length = content_length
        if not self.keep_alive:
            append(b"Connection: close\r\n")
        elif not self._http11:
            append(b"Connection: keep-alive\r\n")
        append(b"\r\n")
        return b"".join(parts)

    def _write_body(self, data: bytes, known_length: int | None = None) -> None:
        if self._head is None:
            self._head = self._build_head(known_length)
        payload = 0
        if self._body_allowed and data:
            limit = self._content_length
            if limit is not None and len(data) > limit - self.bytes_sent:
                data = data[: limit - self.bytes_sent]  # more than the app announced
            payload = len(data)
            if self._chunked and data:
                data = chunk(data)
        else:
            data = b""
        if not self.head_sent:
            self.head_sent = True
            if len(data) <= _COALESCE_LIMIT:
                self._send(self._head + data)
            else:
                self._send(self._head)
                self._send(data)
        elif data:
            self._send(data)
        self.bytes_sent += payload

    def finish(self, result) -> None:
        """Send the result; call only after the app returned it."""
        if type(result) is list and len(result) == 1 and self._head is None:
            body = result[0]
            if type(body) is bytes and self.status is not None:
                # The common `return [body]`: its length is known, one send.
                self._write_body(body, len(body))
                self._end()
                return
        if (
            type(result) is FileWrapper
            and self._sendfile is not None
            and self._head is None
            and self._send_file(result)
        ):
            return
        if not self.head_sent and type(result) in (list, tuple):
            if self.status is None:
                raise AppError("the app returned without calling start_response()")
            total = 0
            for item in result:
                if type(item) is not bytes:
                    raise AppError(f"the app returned {type(item).__name__}, not bytes")
                total += len(item)
            if len(result) == 1:
                self._write_body(result[0], total)
            else:
                self._write_body(b"".join(result), total)
        else:
            for data in result:
                if type(data) is not bytes:
                    raise AppError(f"the app returned {type(data).__name__}, not bytes")
                if data:
                    if self.status is None:
                        raise AppError("the app returned data before calling start_response()")
                    self._write_body(data)
            if self.status is None:
                raise AppError("the app returned without calling start_response()")
        self._end()

    def _end(self) -> None:
        if not self.head_sent:
            self._write_body(b"", 0)
        if self._chunked and self._body_allowed:
            self._send(LAST_CHUNK)
        if (
            self._body_allowed
            and self._content_length is not None
            and self.bytes_sent < self._content_length
        ):
            # The client is still waiting for bytes that will never come.
            self.keep_alive = False

    def _send_file(self, wrapper: FileWrapper) -> bool:
        file = wrapper.filelike
        try:
            fileno = file.fileno()
            offset = file.tell()
            info = os.fstat(fileno)
        except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
            return False
        if not stat.S_ISREG(info.st_mode):
            return False  # a pipe or socket has no size to announce
        size = info.st_size
        if self.status is None:
            raise AppError("the app returned without calling start_response()")
        remaining = max(size - offset, 0)
        self._head = self._build_head(remaining)
        self.head_sent = True
        self._send(self._head)
        if self._body_allowed:
            count = min(remaining, self._content_length)
            if count:
                self.bytes_sent += self._sendfile(file, offset, count)
        self._end()
        return True
