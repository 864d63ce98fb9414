"""The WSGI environ, built from a shared per-worker template.

Everything that does not change between requests (wsgi.* keys, server name
and port, SCRIPT_NAME) is computed once; a request copies the template and
adds its own keys.
"""

from __future__ import annotations

import sys
from urllib.parse import unquote_to_bytes

from glade import SERVER_SOFTWARE
from glade.http.parser import Request

_environ_keys: dict[bytes, str | None] = {}


def environ_key(name: bytes) -> str | None:
    """`HTTP_X_FORWARDED_FOR` for `X-Forwarded-For`, cached per spelling.

    Names containing `_` give None: they would collide with dashed names
    after the CGI transform (`X_Forwarded_For` spoofing `X-Forwarded-For`),
    so they are dropped, as nginx and gunicorn do.
    """
    key = _environ_keys.get(name)
    if key is None and name not in _environ_keys:
        text = name.decode("latin-1")
        if "_" in text:
            key = None
        else:
            key = text.upper().replace("-", "_")
            if key not in ("CONTENT_TYPE", "CONTENT_LENGTH"):
                key = "HTTP_" + key
        if len(_environ_keys) < 1024:
            _environ_keys[name] = key
    return key


class ErrorStream:
    """wsgi.errors: what the app writes here goes to the error log."""

    def __init__(self, stream=None) -> None:
        self._stream = stream

    @property
    def stream(self):
        return self._stream or sys.stderr

    def write(self, text: str) -> None:
        self.stream.write(text)

    def writelines(self, lines) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        self.stream.flush()


def environ_template(
    *,
    server_address: tuple[str, int] | str,
    url_scheme: str,
    script_name: str,
    multithread: bool,
    multiprocess: bool,
    errors: ErrorStream,
    file_wrapper,
) -> dict:
    """The keys every request's environ shares, for one listening socket.

    `script_name` loses a trailing `/`: `/app/` would never match the
    `/app/...` paths it is meant to strip from PATH_INFO.
    """
    if isinstance(server_address, tuple):
        server_name, server_port = str(server_address[0]), str(server_address[1])
    else:  # a UNIX socket: there is no port
        server_name, server_port = "localhost", "80"
    return {
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": url_scheme,
        "wsgi.errors": errors,
        "wsgi.multithread": multithread,
        "wsgi.multiprocess": multiprocess,
        "wsgi.run_once": False,
        "wsgi.file_wrapper": file_wrapper,
        "wsgi.input_terminated": True,
        "SERVER_SOFTWARE": SERVER_SOFTWARE,
        "SERVER_NAME": server_name,
        "SERVER_PORT": server_port,
        "SCRIPT_NAME": script_name.rstrip("/"),
    }


def build_environ(template: dict, request: Request, remote: tuple | str | None, wsgi_input) -> dict:
    """The PEP 3333 environ of one request.

    PATH_INFO is percent-decoded and given as latin-1 text (PEP 3333's
    "bytes as str"), without SCRIPT_NAME; QUERY_STRING and RAW_URI are as
    sent. Repeated headers are joined with ", " (Cookie with "; "); header
    names containing `_` are left out (see environ_key).
    """
    environ = template.copy()
    target = request.target
    environ["REQUEST_METHOD"] = request.method
    environ["SERVER_PROTOCOL"] = "HTTP/1.1" if request.http_version == "1.1" else "HTTP/1.0"
    environ["RAW_URI"] = target.decode("latin-1")
    # A fragment is the client's business; llhttp lets it through.
    target = target.partition(b"#")[0]
    path, _, query = target.partition(b"?")
    if path[:1] != b"/":
        path = _origin_path(path)
    # find(), not `in`: `bytes in bytes` first tries its operand as an int,
    # and pays for a TypeError each time.
    if path.find(b"%") >= 0:
        path = unquote_to_bytes(path)
    path_info = path.decode("latin-1")
    script_name = environ["SCRIPT_NAME"]
    if script_name and (path_info == script_name or path_info.startswith(script_name + "/")):
        path_info = path_info[len(script_name) :]
    environ["PATH_INFO"] = path_info
    environ["QUERY_STRING"] = query.decode("latin-1")
    if remote is not None:
        _add_remote(environ, remote)
    environ["wsgi.input"] = wsgi_input
    known_keys = _environ_keys
    for name, value in request.headers:
        key = known_keys.get(name) or environ_key(name)
        if key is None:
            continue
        text = value.decode("latin-1")
        if key in environ:
            separator = "; " if key == "HTTP_COOKIE" else ", "
            text = environ[key] + separator + text
        environ[key] = text
    return environ


def connection_template(template: dict, remote: tuple | str) -> dict:
    """The template with the client's address, which holds for a whole connection.

    build_environ() with remote=None then copies it as it is.
    """
    environ = template.copy()
    _add_remote(environ, remote)
    return environ


def _add_remote(environ: dict, remote) -> None:
    if type(remote) is tuple:
        environ["REMOTE_ADDR"] = remote[0]
        environ["REMOTE_PORT"] = str(remote[1])
    else:  # a UNIX socket: no address
        environ["REMOTE_ADDR"] = ""


def _origin_path(target: bytes) -> bytes:
    """The path of an absolute-form target (`http://host/path`); `*` gives ``b""``."""
    if target == b"*":
        return b""
    _, sep, rest = target.partition(b"://")
    if not sep:
        return b"/" + target
    _, slash, path = rest.partition(b"/")
    return b"/" + path if slash else b"/"
