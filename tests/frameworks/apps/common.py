"""What both test apps share: a file that counts its reads, and made-up data.

`CountingFile` shows how the server sent a file. Glade's response writer
sends a `wsgi.file_wrapper` result with `socket.sendfile`. When that is the
kernel's os.sendfile, the file's bytes never pass through Python and
`read()` is never called; any fallback that copies the file through Python
(gevent's `socket.sendfile`, or iterating the wrapper) calls `read()`. The
apps count the bytes read here per worker process and report the total at
`/reads`; the tests run one worker so that the counter they ask for is the
one that served the file.
"""

from __future__ import annotations

import io
import os

_bytes_read = 0


class CountingFile(io.FileIO):
    """A binary file (mode "rb") that counts the bytes read() returns."""

    def __init__(self, path: str | os.PathLike) -> None:
        super().__init__(path, "rb")

    def read(self, size: int = -1) -> bytes:
        global _bytes_read
        data = super().read(size)
        _bytes_read += len(data)
        return data

    def readall(self) -> bytes:
        global _bytes_read
        data = super().readall()
        _bytes_read += len(data)
        return data

    def readinto(self, buffer) -> int:
        global _bytes_read
        count = super().readinto(buffer)
        _bytes_read += count or 0
        return count


def bytes_read() -> int:
    return _bytes_read


def generated_bytes() -> bytes:
    """What /generated sends: 100 KB of CSV, made in memory."""
    rows = [f"{number},{number * number},row {number}\n" for number in range(5000)]
    return ("number,square,label\n" + "".join(rows)).encode()


def big_file_path() -> str:
    """The large file the tests create and name in the environment."""
    return os.environ["FRAMEWORK_BIG_FILE"]


def validated(app, *, unchecked_paths=("/big",)):
    """The app behind wsgiref's PEP 3333 validator, as every test app is.

    The one exception is the path that proves files go out with os.sendfile:
    the validator wraps the app's result, which hides the wsgi.file_wrapper
    object from the server, so through it no file could ever be sent that way.
    """
    from wsgiref.validate import validator

    def framework(environ, start_response):
        # Frameworks read wsgi.input with read() and no size, which the
        # server allows (it sets wsgi.input_terminated) but wsgiref's
        # validator refuses; every other check of the validator stays.
        stream = environ["wsgi.input"]
        environ["wsgi.input"] = getattr(stream, "input", stream)
        return app(environ, start_response)

    checked = validator(framework)

    def dispatch(environ, start_response):
        if environ.get("PATH_INFO") in unchecked_paths:
            return app(environ, start_response)
        return checked(environ, start_response)

    return dispatch
