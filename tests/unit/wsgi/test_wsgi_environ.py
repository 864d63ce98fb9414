"""The WSGI environ, from request bytes through the real parser."""

from __future__ import annotations

import io
import sys
import warnings
from wsgiref.validate import validator

import pytest

from glade import SERVER_SOFTWARE
from glade.http.connection import HTTPConnection
from glade.http.parser import NEED_DATA, Body, Request, RequestParser
from glade.workers.options import ServingState
from glade.wsgi.environ import ErrorStream, build_environ, environ_template
from glade.wsgi.file_wrapper import FileWrapper
from glade.wsgi.input import InputStream
from glade.wsgi.response import ResponseWriter

REMOTE = ("203.0.113.7", 54321)


def template(script_name: str = "", server_address=("127.0.0.1", 8000), **overrides) -> dict:
    arguments = {
        "server_address": server_address,
        "url_scheme": "http",
        "script_name": script_name,
        "multithread": False,
        "multiprocess": True,
        "errors": ErrorStream(io.StringIO()),
        "file_wrapper": FileWrapper,
    }
    arguments.update(overrides)
    return environ_template(**arguments)


def parse_one(data: bytes) -> tuple[Request, bytes]:
    parser = RequestParser()
    parser.feed(data)
    request = parser.next_event()
    assert type(request) is Request, request
    body = b""
    while (event := parser.next_event()) is not NEED_DATA:
        if type(event) is Body:
            body += event.data
    return request, body


def environ_for(data: bytes, *, base: dict | None = None, remote=REMOTE) -> dict:
    request, body = parse_one(data)
    pieces = [body] if body else []
    stream = InputStream(lambda: pieces.pop(0) if pieces else b"")
    return build_environ(base or template(), request, remote, stream)


def get(target: str, *lines: str, version: str = "1.1", method: str = "GET") -> bytes:
    host = ["Host: example.com"] if version == "1.1" else []
    text = f"{method} {target} HTTP/{version}\r\n" + "".join(
        line + "\r\n" for line in [*host, *lines]
    )
    return (text + "\r\n").encode("latin-1")


# -- the request line ---------------------------------------------------------------


@pytest.mark.parametrize("method", ["GET", "POST", "DELETE", "OPTIONS"])
def test_request_method(method):
    assert environ_for(get("/", method=method))["REQUEST_METHOD"] == method


@pytest.mark.parametrize("version", ["1.1", "1.0"])
def test_server_protocol(version):
    assert environ_for(get("/", version=version))["SERVER_PROTOCOL"] == f"HTTP/{version}"


@pytest.mark.parametrize(
    ("target", "path_info", "query_string"),
    [
        ("/", "/", ""),
        ("/a/b", "/a/b", ""),
        ("/a?", "/a", ""),
        ("/a?x=1&y=%20+2", "/a", "x=1&y=%20+2"),
        ("/a?b?c", "/a", "b?c"),
        ("/%E2%82%AC", "/\xe2\x82\xac", ""),
        ("/caf%C3%A9?q=caf%C3%A9", "/caf\xc3\xa9", "q=caf%C3%A9"),
        ("/a%20b+c", "/a b+c", ""),
        ("/a%2Fb", "/a/b", ""),
        ("/a%zz%4", "/a%zz%4", ""),
        ("/a%3Fb?c", "/a?b", "c"),
        ("/frag#ment", "/frag", ""),
        ("/q?x=1#frag", "/q", "x=1"),
        ("//double", "//double", ""),
    ],
)
def test_path_info_is_percent_decoded_latin1_and_query_string_is_raw(
    target, path_info, query_string
):
    environ = environ_for(get(target))
    assert environ["PATH_INFO"] == path_info
    assert environ["QUERY_STRING"] == query_string
    assert environ["RAW_URI"] == target


@pytest.mark.parametrize(
    ("target", "path_info", "query_string"),
    [
        ("http://example.com/a/b?c=d", "/a/b", "c=d"),
        ("http://example.com", "/", ""),
        ("http://example.com?x", "/", "x"),
        ("https://user@example.com:8443/%E2%82%AC", "/\xe2\x82\xac", ""),
    ],
)
def test_absolute_form_target_gives_its_path(target, path_info, query_string):
    environ = environ_for(get(target))
    assert environ["PATH_INFO"] == path_info
    assert environ["QUERY_STRING"] == query_string
    assert environ["RAW_URI"] == target
    assert environ["HTTP_HOST"] == "example.com"


def test_asterisk_target_has_empty_path_info():
    environ = environ_for(get("*", method="OPTIONS"))
    assert environ["PATH_INFO"] == ""
    assert environ["RAW_URI"] == "*"


# -- SCRIPT_NAME ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("script_name", "target", "path_info"),
    [
        ("", "/app/x", "/app/x"),
        ("/app", "/app/x", "/x"),
        ("/app", "/app", ""),
        ("/app", "/app/", "/"),
        ("/app", "/application", "/application"),
        ("/app", "/other", "/other"),
        ("/app", "/%61pp/x", "/x"),
        ("/app/", "/app/x", "/x"),
        ("/a/b", "/a/b/c", "/c"),
    ],
)
def test_script_name_comes_from_the_template_and_is_stripped_from_path_info(
    script_name, target, path_info
):
    environ = environ_for(get(target), base=template(script_name))
    assert environ["SCRIPT_NAME"] == script_name.rstrip("/")
    assert environ["PATH_INFO"] == path_info


# -- headers ---------------------------------------------------------------------------


def test_content_type_and_length_have_no_http_prefix():
    data = get("/", "Content-Type: text/plain", "Content-Length: 3", method="POST") + b"abc"
    environ = environ_for(data)
    assert environ["CONTENT_TYPE"] == "text/plain"
    assert environ["CONTENT_LENGTH"] == "3"
    assert "HTTP_CONTENT_TYPE" not in environ
    assert "HTTP_CONTENT_LENGTH" not in environ


def test_no_content_type_or_length_when_not_sent():
    environ = environ_for(get("/"))
    assert "CONTENT_TYPE" not in environ
    assert "CONTENT_LENGTH" not in environ


def test_headers_become_http_keys():
    environ = environ_for(get("/", "X-Request-Id: abc", "accept-encoding: gzip", "DNT: 1"))
    assert environ["HTTP_HOST"] == "example.com"
    assert environ["HTTP_X_REQUEST_ID"] == "abc"
    assert environ["HTTP_ACCEPT_ENCODING"] == "gzip"
    assert environ["HTTP_DNT"] == "1"


def test_repeated_headers_are_joined_with_comma():
    environ = environ_for(get("/", "Accept: a/b", "X-Forwarded-For: 1.1.1.1", "accept: c/d"))
    assert environ["HTTP_ACCEPT"] == "a/b, c/d"
    assert environ["HTTP_X_FORWARDED_FOR"] == "1.1.1.1"


def test_repeated_cookie_headers_are_joined_with_semicolon():
    environ = environ_for(get("/", "Cookie: a=1", "Cookie: b=2; c=3"))
    assert environ["HTTP_COOKIE"] == "a=1; b=2; c=3"


def test_headers_with_underscores_are_dropped():
    environ = environ_for(
        get("/", "X-Forwarded-For: 10.0.0.1", "X_Forwarded_For: 6.6.6.6", "Content_Length: 9")
    )
    assert environ["HTTP_X_FORWARDED_FOR"] == "10.0.0.1"
    assert "CONTENT_LENGTH" not in environ
    assert not any("6.6.6.6" in str(value) for value in environ.values())


def test_header_values_are_latin1_text():
    environ = environ_for(b"GET / HTTP/1.1\r\nHost: x\r\nX-Name: caf\xe9 \xe2\x82\xac\r\n\r\n")
    assert environ["HTTP_X_NAME"] == "caf\xe9 \xe2\x82\xac"


# -- server and client --------------------------------------------------------------------


def test_server_name_and_port_from_the_listening_address():
    environ = environ_for(get("/"), base=template(server_address=("::1", 8443)))
    assert (environ["SERVER_NAME"], environ["SERVER_PORT"]) == ("::1", "8443")


def test_unix_socket_server_has_a_name_and_port_anyway():
    environ = environ_for(get("/"), base=template(server_address="/run/glade.sock"))
    assert (environ["SERVER_NAME"], environ["SERVER_PORT"]) == ("localhost", "80")


def test_remote_addr_and_port():
    environ = environ_for(get("/"))
    assert (environ["REMOTE_ADDR"], environ["REMOTE_PORT"]) == ("203.0.113.7", "54321")


def test_unix_socket_client_has_empty_remote_addr():
    environ = environ_for(get("/"), remote="")
    assert environ["REMOTE_ADDR"] == ""
    assert "REMOTE_PORT" not in environ


# -- wsgi.* -------------------------------------------------------------------------------


def test_wsgi_keys():
    errors = ErrorStream(io.StringIO())
    base = template(url_scheme="https", multithread=True, multiprocess=False, errors=errors)
    environ = environ_for(get("/"), base=base)
    assert environ["wsgi.version"] == (1, 0)
    assert environ["wsgi.url_scheme"] == "https"
    assert environ["wsgi.errors"] is errors
    assert environ["wsgi.multithread"] is True
    assert environ["wsgi.multiprocess"] is False
    assert environ["wsgi.run_once"] is False
    assert environ["wsgi.file_wrapper"] is FileWrapper
    assert environ["wsgi.input_terminated"] is True
    assert type(environ["wsgi.input"]) is InputStream
    assert environ["SERVER_SOFTWARE"] == SERVER_SOFTWARE


def test_every_cgi_value_is_a_native_str():
    data = get(
        "/%E2%82%AC?q", "Cookie: a=1", "Content-Type: x/y", "Content-Length: 0", method="PUT"
    )
    environ = environ_for(data)
    for key, value in environ.items():
        if "." not in key:
            assert type(value) is str, key


def test_the_template_is_not_changed_by_requests():
    base = template("/app")
    before = dict(base)
    environ_for(get("/app/x", "X-A: 1"), base=base)
    environ_for(get("/y", "X-B: 2"), base=base)
    assert base == before


def test_error_stream_writes_to_its_stream():
    stream = io.StringIO()
    errors = ErrorStream(stream)
    errors.write("one\n")
    errors.writelines(["two\n", "three\n"])
    errors.flush()
    assert stream.getvalue() == "one\ntwo\nthree\n"


def test_error_stream_defaults_to_the_current_stderr(monkeypatch):
    stream = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stream)
    ErrorStream().write("to stderr")
    assert stream.getvalue() == "to stderr"


# -- wsgiref's validator accepts these environs ------------------------------------------


def reading_app(environ, start_response):
    stream = environ["wsgi.input"]
    first = stream.readline()
    rest = stream.read(int(environ.get("CONTENT_LENGTH") or 0) or 1)
    lines = list(stream)
    body = repr((environ["PATH_INFO"], first, rest, lines)).encode()
    environ["wsgi.errors"].write("")
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


VALID_REQUESTS = {
    "get": get("/a/b?c=d"),
    "http10": get("/", version="1.0"),
    "post": get("/p", "Content-Type: text/plain", "Content-Length: 11", method="POST")
    + b"line\nmore\n!",
    "chunked": get("/c", "Transfer-Encoding: chunked", method="POST") + b"4\r\nab\nc\r\n0\r\n\r\n",
    "absolute-form": get("http://example.com/x?y"),
    "asterisk": get("*", method="OPTIONS"),
    "percent": get("/%E2%82%AC/%2F"),
    "script-name-root": get("/app"),
    "script-name": get("/app/x"),
}


@pytest.mark.parametrize("data", VALID_REQUESTS.values(), ids=VALID_REQUESTS.keys())
def test_environ_passes_wsgiref_validator(data):
    environ = environ_for(data, base=template("/app"))
    sent: list[bytes] = []
    http = HTTPConnection()
    http.receive_data(data)
    http.next_event()
    writer = ResponseWriter(http, sent.append, None, ServingState(lambda: None))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = validator(reading_app)(environ, writer.start_response)
        try:
            writer.finish(result)
        finally:
            result.close()
    assert b"".join(sent).startswith(b"HTTP/1.1 200 OK\r\n")
