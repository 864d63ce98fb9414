"""start_response, and writing the app's result through the connection.

This module checks what PEP 3333 asks of the app (status, headers, bytes)
and encodes it; the framing (Content-Length, chunked, close, no body for
HEAD, 1xx, 204 and 304) is the HTTP connection's decision (http/connection.py).
Preferred framing, in order: the app's own Content-Length; a length computed
when the result is a list or tuple not yet partly written (the common
`return [body]`); chunked on HTTP/1.1; close-delimited on HTTP/1.0. The head
goes out with the first piece of the body in one send: two small writes
would stall on delayed ACK and cost a second syscall.
"""

from __future__ import annotations

import inspect
import io
import os
import re
import stat
import sysconfig

from glade.extensions import GLADE_CODE
from glade.http.response import SERVER_HEADER, date_header, status_line
from glade.logging import error_log
from glade.wsgi.file_wrapper import FileWrapper

# fullmatch, not `$`: `$` also matches before a final "\n" (response splitting).
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+").fullmatch
_STATUS = re.compile(r"[1-5][0-9][0-9] [\t\x20-\x7e\x80-\xff]*").fullmatch  # RFC 9112 4
# RFC 9110 5.5: a field value holds no control character but HTAB. CR, LF and
# NUL would split the response; the others are refused by careful clients.
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]").search
# Hop-by-hop headers (RFC 9110 7.6.1) describe the connection, which is the
# server's: an app's are dropped (gunicorn does the same), except that
# `Connection: close` is honoured.
_HOP_BY_HOP = frozenset(
    (
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
    )
)
_COALESCE_LIMIT = 256 * 1024

# What a checked response header means for framing.
_PLAIN, _CONTENT_LENGTH, _DATE, _SERVER, _CLOSE, _DROPPED = range(6)

# Apps send the same few headers over and over: each (name, value) pair is
# checked and encoded once, then found here. Bounded, so that values that
# change with every response (Content-Length, ETag) cannot grow it forever.
_checked_headers: dict[tuple, tuple[bytes, int, int]] = {}
_checked_statuses: dict[str, tuple[int, bytes]] = {}
_CACHE_LIMIT = 4096


class AppError(Exception):
    """The app broke a PEP 3333 rule; the response becomes a 500."""


# Frameworks and middleware (a validator, Flask, Django) sit between Glade and
# the code that broke a rule: frames there are named only when no other is.
_LIBRARY_CODE = tuple(
    {os.path.join(sysconfig.get_paths()[key], "") for key in ("stdlib", "purelib", "platlib")}
)


def where_in_app(error: BaseException, result, app) -> str:
    """Where in the app's code an error Glade found in its response comes
    from, as `file, line N, in name`, for its log line.

    Raised from start_response() or write(): the frame that called it (the
    last frame of the traceback outside Glade, and outside the standard
    library and installed packages if there is one). Found in the items of a
    generator: the line where the generator is suspended, the yield of the
    bad item. Found in a returned list: the app callable itself, since the
    frame that built the list is gone.
    """
    found = library = None
    traceback = error.__traceback__
    while traceback is not None:
        code = traceback.tb_frame.f_code
        filename = code.co_filename
        if not filename.startswith(GLADE_CODE):
            place = (filename, traceback.tb_lineno, code.co_name)
            if filename.startswith(_LIBRARY_CODE):
                library = place
            else:
                found = place
        traceback = traceback.tb_next
    found = found or library
    if found is None:
        frame = getattr(result, "gi_frame", None)
        if frame is not None:
            found = (frame.f_code.co_filename, frame.f_lineno, frame.f_code.co_name)
    if found is None:
        app = inspect.unwrap(app)
        code = getattr(app, "__code__", None) or getattr(type(app).__call__, "__code__", None)
        if code is None:
            return "in the app"
        found = (code.co_filename, code.co_firstlineno, code.co_name)
    filename, line, name = found
    return f"{filename}, line {line}, in {name}"


def _check_status(status) -> tuple[int, bytes]:
    if not isinstance(status, str) or not _STATUS(status):
        raise AppError(f"invalid status {status!r}")
    code = int(status[:3])
    if code < 200:
        # An interim response would leave the client waiting for the final one.
        raise AppError(f"status {status!r} is interim (1xx), not a final status")
    checked = (code, status_line(_plain(status)))
    if len(_checked_statuses) < _CACHE_LIMIT and type(status) is str:
        _checked_statuses[status] = checked
    return checked


def _plain(text: str) -> str:
    """The text as an exact str: apps pass str subclasses (markupsafe's
    Markup, enum members) whose methods may behave differently."""
    return text if type(text) is str else str.__str__(text)


def _check_header(item) -> tuple[bytes, int, int]:
    """(encoded line, what it means, its number for Content-Length)."""
    if not isinstance(item, tuple) or len(item) != 2:
        raise AppError(f"response header must be a (name, value) tuple: {item!r}")
    name, value = item
    if not isinstance(name, str) or not _TOKEN(name):
        raise AppError(f"invalid response header name {name!r}")
    if not isinstance(value, str):
        raise AppError(f"value of response header {name!r} is not a str: {value!r}")
    name, value = _plain(name), _plain(value)
    control = _CONTROL(value)
    if control:
        raise AppError(f"response header {name!r} contains the control character {control[0]!r}")
    lowered = name.lower()
    kind, number = _PLAIN, 0
    if lowered in _HOP_BY_HOP:
        if lowered == "connection" and "close" in value.lower().replace(" ", "").split(","):
            kind = _CLOSE
        else:
            # Set by apps written for servers that pass it on (or for a proxy's
            # client side); framing is the server's, so it is left out.
            error_log.debug("dropped the app's hop-by-hop response header %s: %s", name, value)
            kind = _DROPPED
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
    if len(_checked_headers) < _CACHE_LIMIT and type(item) is tuple:
        _checked_headers[item] = checked
    return checked


def _head_lines(status_line: bytes, headers: list) -> tuple[list[bytes], int | None, bool]:
    """The status line and the app's header lines, checked and encoded (plus
    Date and Server unless the app set them); its Content-Length; and
    whether it asked to close the connection."""
    parts = [status_line]
    append = parts.append
    has_date = has_server = close = False
    content_length = None
    for item in headers:
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
            else:  # Connection: close is honoured, other hop-by-hop headers dropped
                close = close or kind == _CLOSE
                continue
        append(line)
    if not has_date:
        append(date_header.current())
    if not has_server:
        append(SERVER_HEADER)
    return parts, content_length, close


class ResponseWriter:
    """One response: the `start_response` callable, `write()`, and the result.

    `http` is the connection's HTTPConnection, which frames the bytes;
    `server` is anything with a `draining` attribute: a response whose
    head goes out while the server drains says `Connection: close`.
    """

    __slots__ = (
        "_app_close",
        "_content_length",
        "_head",
        "_http",
        "_lines",
        "_send",
        "_sendfile",
        "_server",
        "_status_code",
        "headers",
        "status",
    )

    def __init__(self, http, send, sendfile, server) -> None:
        self._http = http
        self._send = send
        self._sendfile = sendfile
        self._server = server
        self.status: str | None = None
        self._status_code = 0
        self.headers: list = []
        # From start_response: the head's lines, checked and encoded, the
        # app's Content-Length and its `Connection: close`.
        self._lines: list[bytes] = []
        self._content_length: int | None = None
        self._app_close = False
        self._head: bytes | None = None

    @property
    def status_code(self) -> int:
        """The status sent, or the app's until its head goes out; 0 before."""
        http = self._http
        return http.status_code if http.head_sent else self._status_code

    @property
    def head_sent(self) -> bool:
        return self._http.head_sent

    @property
    def keep_alive(self) -> bool:
        """Whether the connection lives on after this response (the connection's say)."""
        return self._http.keep_alive

    @property
    def bytes_sent(self) -> int:
        """Body bytes sent, for the access log."""
        return self._http.bytes_sent

    # -- PEP 3333 callables ---------------------------------------------

    def start_response(self, status, headers, exc_info=None):
        if exc_info:
            try:
                if self._head is not None:
                    raise exc_info[1].with_traceback(exc_info[2])
            finally:
                exc_info = None
        elif self.status is not None:
            raise AppError("start_response() called a second time without exc_info")
        try:
            code, line = _checked_statuses[status]
        except (KeyError, TypeError):
            code, line = _check_status(status)
        if not isinstance(headers, list):
            raise AppError(f"response headers must be a list, got {type(headers).__name__}")
        # Checked here, as gunicorn does, so that a bad header is reported
        # from the app's own call.
        self._lines, self._content_length, self._app_close = _head_lines(line, headers)
        self.status = status
        self._status_code = code
        self.headers = headers
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
        return self._http.response_head(
            self._status_code,
            self._lines,
            content_length=self._content_length,
            known_length=known_length,
            close=self._app_close or self._server.draining,
        )

    def _write_body(self, data: bytes, known_length: int | None = None) -> None:
        if self._head is None:
            self._head = self._build_head(known_length)
            self._send_head_with(self._http.response_body(data))
            return
        data = self._http.response_body(data)
        if data:
            self._send(data)

    def _send_head_with(self, data: bytes) -> None:
        """The head and the first piece of the body, in one send when small."""
        if len(data) <= _COALESCE_LIMIT:
            self._send(self._head + data)
        else:
            self._send(self._head)
            self._send(data)

    def finish(self, result) -> None:
        """Send the result; call only after the app returned it."""
        if type(result) is list and len(result) == 1 and self._head is None:
            body = result[0]
            if type(body) is bytes and self.status is not None:
                # The common `return [body]`: its length is known, one send.
                head, body = self._http.whole_response(
                    self._status_code,
                    self._lines,
                    body,
                    content_length=self._content_length,
                    close=self._app_close or self._server.draining,
                )
                self._head = head
                self._send_head_with(body)
                return
        if (
            type(result) is FileWrapper
            and self._sendfile is not None
            and self._head is None
            and self._send_file(result)
        ):
            return
        if self._head is None and type(result) in (list, tuple):
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
        if self._head is None:
            self._write_body(b"", 0)
        end = self._http.end_response()
        if end:
            self._send(end)

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
        self._send(self._head)
        count = self._http.file_body(remaining)
        if count:
            self._sendfile(file, offset, count)
        self._end()
        return True
