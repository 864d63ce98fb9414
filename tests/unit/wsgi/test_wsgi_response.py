"""ResponseWriter: start_response, write() and the result, written with a fake send."""

from __future__ import annotations

import os
import sys

import pytest

from glade import SERVER_SOFTWARE
from glade.http.connection import HTTPConnection
from glade.workers.options import ServingState
from glade.wsgi.file_wrapper import FileWrapper
from glade.wsgi.response import AppError, ResponseWriter

# -- helpers ---------------------------------------------------------------------------


class Sendfile:
    """A fake sendfile: reads what the kernel would send, and records the call."""

    def __init__(self) -> None:
        self.calls: list[tuple[int, int]] = []
        self.data = b""

    def __call__(self, file, offset: int, count: int) -> int:
        self.calls.append((offset, count))
        self.data += os.pread(file.fileno(), count, offset)
        return count


def answering(*, head: bool = False, http11: bool = True, keep_alive: bool = True):
    """An HTTPConnection that has received one request and is to answer it."""
    http = HTTPConnection()
    method = b"HEAD" if head else b"GET"
    if http11:
        head_bytes = method + b" / HTTP/1.1\r\nHost: x\r\n"
        if not keep_alive:
            head_bytes += b"Connection: close\r\n"
    else:
        head_bytes = method + b" / HTTP/1.0\r\n"
        if keep_alive:
            head_bytes += b"Connection: keep-alive\r\n"
    http.receive_data(head_bytes + b"\r\n")
    http.next_event()
    return http


def writer(
    *,
    head: bool = False,
    http11: bool = True,
    keep_alive: bool = True,
    sendfile=None,
    server: ServingState | None = None,
) -> tuple[ResponseWriter, list[bytes]]:
    sent: list[bytes] = []
    http = answering(head=head, http11=http11, keep_alive=keep_alive)
    return (
        ResponseWriter(http, sent.append, sendfile, server or ServingState(lambda: None)),
        sent,
    )


def respond(
    result, status: str = "200 OK", headers=None, **options
) -> tuple[ResponseWriter, list[bytes]]:
    """Run start_response(status, headers), then finish(result)."""
    response, sent = writer(**options)
    response.start_response(status, list(headers or []))
    response.finish(made(result))
    return response, sent


def made(result):
    """Parameters hold generators as factories: a generator runs only once."""
    return result() if callable(result) else result


class Parsed:
    def __init__(self, data: bytes) -> None:
        head, separator, self.raw_body = data.partition(b"\r\n\r\n")
        assert separator, data
        status_line, *lines = head.decode("latin-1").split("\r\n")
        self.status_line = status_line
        self.headers = [tuple(line.split(": ", 1)) for line in lines]

    def header(self, name: str) -> str | None:
        values = [value for key, value in self.headers if key.lower() == name.lower()]
        assert len(values) <= 1, f"{name} sent {len(values)} times"
        return values[0] if values else None

    @property
    def body(self) -> bytes:
        if self.header("Transfer-Encoding") == "chunked":
            return dechunk(self.raw_body)
        return self.raw_body


def dechunk(data: bytes) -> bytes:
    """Decode a chunked body strictly: hex sizes, CRLFs, one final 0 chunk, nothing after."""
    body = b""
    while True:
        size_line, separator, data = data.partition(b"\r\n")
        assert separator and size_line and size_line.strip(b"0123456789abcdef") == b"", size_line
        size = int(size_line, 16)
        if size == 0:
            assert data == b"\r\n", f"after the last chunk: {data!r}"
            return body
        body += data[:size]
        assert data[size : size + 2] == b"\r\n"
        data = data[size + 2 :]


def parsed(sent: list[bytes]) -> Parsed:
    return Parsed(b"".join(sent))


def generator(*pieces: bytes):
    yield from pieces


# -- framing: computed length, chunked, close-delimited ------------------------------------


def test_single_item_list_goes_out_in_one_send_with_its_length():
    response, sent = respond([b"Hello, World!"], headers=[("Content-Type", "text/plain")])
    assert len(sent) == 1
    reply = parsed(sent)
    assert reply.status_line == "HTTP/1.1 200 OK"
    assert reply.header("Content-Length") == "13"
    assert reply.header("Content-Type") == "text/plain"
    assert reply.header("Transfer-Encoding") is None
    assert reply.header("Connection") is None
    assert reply.body == b"Hello, World!"
    assert response.keep_alive
    assert response.bytes_sent == 13


@pytest.mark.parametrize(
    "result", [[b"Hello", b", ", b"World!"], (b"Hello", b", World!"), [b"", b"Hello, World!", b""]]
)
def test_list_or_tuple_gets_a_computed_length_and_one_send(result):
    _, sent = respond(result)
    assert len(sent) == 1
    reply = parsed(sent)
    assert reply.header("Content-Length") == "13"
    assert reply.body == b"Hello, World!"


@pytest.mark.parametrize(
    "result", [[], [b""], (), lambda: generator()], ids=["list", "empty", "tuple", "gen"]
)
def test_empty_result_gets_content_length_zero(result):
    response, sent = respond(result)
    reply = parsed(sent)
    assert reply.header("Content-Length") == "0"
    assert reply.raw_body == b""
    assert response.keep_alive


def test_generator_on_http11_is_chunked_with_a_final_zero_chunk():
    response, sent = respond(generator(b"Hello", b"", b", ", b"World!" * 100))
    reply = parsed(sent)
    assert reply.header("Transfer-Encoding") == "chunked"
    assert reply.header("Content-Length") is None
    assert reply.body == b"Hello, " + b"World!" * 100
    assert reply.raw_body.startswith(b"5\r\nHello\r\n2\r\n, \r\n258\r\n")
    assert sent[-1] == b"0\r\n\r\n"
    assert response.keep_alive
    assert response.bytes_sent == 7 + 600


def test_head_and_first_chunk_share_one_send():
    _, sent = respond(generator(b"first", b"second"))
    assert sent[0].endswith(b"\r\n\r\n5\r\nfirst\r\n")
    assert sent[1:] == [b"6\r\nsecond\r\n", b"0\r\n\r\n"]


def test_generator_on_http10_is_close_delimited():
    response, sent = respond(generator(b"Hello", b", World!"), http11=False)
    reply = parsed(sent)
    assert reply.status_line == "HTTP/1.1 200 OK"
    assert reply.header("Transfer-Encoding") is None
    assert reply.header("Content-Length") is None
    assert reply.header("Connection") == "close"
    assert reply.raw_body == b"Hello, World!"
    assert not response.keep_alive


def test_list_on_http10_keep_alive_says_keep_alive():
    response, sent = respond([b"ok"], http11=False, keep_alive=True)
    reply = parsed(sent)
    assert reply.header("Connection") == "keep-alive"
    assert reply.header("Content-Length") == "2"
    assert response.keep_alive


def test_list_on_http10_without_keep_alive_says_close():
    response, sent = respond([b"ok"], http11=False, keep_alive=False)
    assert parsed(sent).header("Connection") == "close"
    assert not response.keep_alive


def test_large_body_is_sent_after_the_head_not_copied_into_it():
    body = b"x" * (1024 * 1024)
    _, sent = respond([body])
    assert len(sent) == 2
    assert sent[1] is body


# -- the app's Content-Length ------------------------------------------------------------


@pytest.mark.parametrize(
    "result",
    [[b"Hello"], [b"He", b"llo"], lambda: generator(b"He", b"llo")],
    ids=["list", "two-items", "generator"],
)
def test_app_content_length_is_used_and_nothing_chunked(result):
    response, sent = respond(result, headers=[("Content-Length", "5")])
    reply = parsed(sent)
    assert reply.header("Content-Length") == "5"
    assert reply.header("Transfer-Encoding") is None
    assert reply.raw_body == b"Hello"
    assert response.keep_alive


@pytest.mark.parametrize(
    "result",
    [[b"Hello, World!"], [b"Hel", b"lo, World!"], lambda: generator(b"Hel", b"lo, ", b"World!")],
    ids=["list", "two-items", "generator"],
)
def test_bytes_beyond_the_app_content_length_are_not_sent(result):
    response, sent = respond(result, headers=[("Content-Length", "5")])
    assert parsed(sent).raw_body == b"Hello"
    assert response.bytes_sent == 5
    assert response.keep_alive


def test_body_shorter_than_the_app_content_length_ends_the_connection():
    response, sent = respond(generator(b"Hel"), headers=[("Content-Length", "5")])
    assert parsed(sent).raw_body == b"Hel"
    assert not response.keep_alive


def test_app_content_length_with_http10_generator_keeps_alive():
    response, sent = respond(
        generator(b"ok"), headers=[("Content-Length", "2")], http11=False, keep_alive=True
    )
    assert parsed(sent).header("Connection") == "keep-alive"
    assert response.keep_alive


@pytest.mark.parametrize("value", ["abc", "-1", "1.5", "", "\xb2", "0x10", "1,1"])
def test_invalid_app_content_length_is_an_app_error(value):
    response, _ = writer()
    with pytest.raises(AppError):
        response.start_response("200 OK", [("Content-Length", value)])


def test_two_app_content_lengths_are_an_app_error():
    response, sent = writer()
    with pytest.raises(AppError):
        response.start_response("200 OK", [("Content-Length", "1"), ("content-length", "5")])
    assert sent == []


# -- responses without a body ----------------------------------------------------------------


@pytest.mark.parametrize(
    "result", [[b"body"], lambda: generator(b"bo", b"dy")], ids=["list", "generator"]
)
@pytest.mark.parametrize("http11", [True, False])
def test_head_response_has_no_body_and_keeps_the_connection(result, http11):
    response, sent = respond(result, head=True, http11=http11)
    reply = parsed(sent)
    assert reply.raw_body == b""
    assert reply.header("Transfer-Encoding") is None
    assert response.keep_alive
    assert response.bytes_sent == 0


def test_head_response_keeps_the_app_content_length():
    _, sent = respond([b"body"], headers=[("Content-Length", "4")], head=True)
    reply = parsed(sent)
    assert reply.header("Content-Length") == "4"
    assert reply.raw_body == b""


@pytest.mark.parametrize("status", ["204 No Content", "304 Not Modified"])
@pytest.mark.parametrize(
    "result", [[b"ignored"], lambda: generator(b"ignored")], ids=["list", "gen"]
)
def test_bodiless_statuses_carry_no_body_length_or_chunking(status, result):
    response, sent = respond(result, status=status)
    reply = parsed(sent)
    assert reply.status_line == f"HTTP/1.1 {status}"
    assert reply.raw_body == b""
    assert reply.header("Content-Length") is None
    assert reply.header("Transfer-Encoding") is None
    assert response.keep_alive
    assert response.status_code == int(status[:3])


def test_304_on_http10_does_not_close():
    response, _ = respond(generator(b"x"), status="304 Not Modified", http11=False)
    assert response.keep_alive


# -- Connection, Date, Server -------------------------------------------------------------


def test_connection_close_is_added_when_not_keeping_alive():
    response, sent = respond([b"ok"], keep_alive=False)
    assert parsed(sent).header("Connection") == "close"
    assert not response.keep_alive


@pytest.mark.parametrize("value", ["close", "Close", " close "])
def test_app_connection_close_is_honoured_and_sent_once(value):
    response, sent = respond([b"ok"], headers=[("Connection", value)])
    assert parsed(sent).header("Connection") == "close"
    assert not response.keep_alive


def test_a_drain_that_begins_before_the_head_is_sent_closes():
    """The worker starts draining while the app runs: the head says close."""
    server = ServingState(lambda: None)
    response, sent = writer(server=server)
    response.start_response("200 OK", [])
    server.draining = True
    response.finish([b"ok"])
    assert parsed(sent).header("Connection") == "close"
    assert not response.keep_alive


def test_a_drain_that_begins_mid_body_leaves_the_response_whole():
    server = ServingState(lambda: None)
    response, sent = writer(server=server)
    write = response.start_response("200 OK", [])
    write(b"first")
    server.draining = True
    response.finish([b"second"])
    reply = parsed(sent)
    assert reply.header("Transfer-Encoding") == "chunked"
    assert reply.body == b"firstsecond"


def test_date_and_server_are_added():
    _, sent = respond([b"ok"])
    reply = parsed(sent)
    assert reply.header("Server") == SERVER_SOFTWARE
    assert reply.header("Date").endswith(" GMT")


def test_app_date_and_server_are_kept_and_not_repeated():
    headers = [("date", "Sun, 06 Nov 1994 08:49:37 GMT"), ("SERVER", "my-app")]
    _, sent = respond([b"ok"], headers=headers)
    reply = parsed(sent)
    assert reply.header("Date") == "Sun, 06 Nov 1994 08:49:37 GMT"
    assert reply.header("Server") == "my-app"


def test_app_headers_keep_their_order_and_case_and_repeats():
    headers = [("Set-Cookie", "a=1"), ("x-custom", "v"), ("Set-Cookie", "b=2")]
    _, sent = respond([b"ok"], headers=headers)
    assert parsed(sent).headers[:3] == headers


def test_latin1_header_values_are_sent_as_latin1():
    _, sent = respond([b"ok"], headers=[("X-Name", "caf\xe9")])
    assert b"X-Name: caf\xe9\r\n" in sent[0]


# -- start_response rules ------------------------------------------------------------------


def test_start_response_returns_write():
    response, _ = writer()
    assert response.start_response("200 OK", []) == response.write


def test_start_response_records_status_and_headers():
    response, _ = writer()
    headers = [("Content-Type", "text/html")]
    response.start_response("404 Not Found", headers)
    assert response.status_code == 404
    assert response.headers is headers
    assert not response.head_sent


def exc_info_of(error: Exception):
    try:
        raise error
    except Exception:
        return sys.exc_info()


def test_exc_info_before_the_head_is_sent_replaces_the_response():
    response, sent = writer()
    response.start_response("200 OK", [("X-First", "1")])
    response.start_response("500 Oops", [("X-Second", "2")], exc_info_of(ValueError("boom")))
    response.finish([b"error page"])
    reply = parsed(sent)
    assert reply.status_line == "HTTP/1.1 500 Oops"
    assert reply.header("X-First") is None
    assert reply.header("X-Second") == "2"
    assert reply.body == b"error page"
    assert response.status_code == 500


def test_exc_info_after_the_head_is_sent_reraises_it():
    response, sent = writer()
    write = response.start_response("200 OK", [])
    write(b"partial")
    error = ValueError("boom")
    with pytest.raises(ValueError) as raised:
        response.start_response("500 Oops", [], exc_info_of(error))
    assert raised.value is error
    assert parsed(sent).status_line == "HTTP/1.1 200 OK"


def test_exc_info_on_the_first_call_is_allowed():
    response, sent = writer()
    response.start_response("503 Busy", [], exc_info_of(RuntimeError()))
    response.finish([b""])
    assert parsed(sent).status_line == "HTTP/1.1 503 Busy"


def test_second_start_response_without_exc_info_is_an_app_error():
    response, _ = writer()
    response.start_response("200 OK", [])
    with pytest.raises(AppError):
        response.start_response("200 OK", [])


@pytest.mark.parametrize(
    "status",
    [
        "200",
        "OK",
        "20 OK",
        "2000 OK",
        "600 Too High",
        "099 Too Low",
        "abc OK",
        "200 OK\n",
        "200 OK\r\nX-Injected: 1",
        "200 O\x00K",
        "200 O\x01K",
        "200 \u20ac",
        b"200 OK",
        200,
        None,
    ],
)
def test_bad_status_is_an_app_error(status):
    response, sent = writer()
    with pytest.raises(AppError):
        response.start_response(status, [])
    assert sent == []


@pytest.mark.parametrize("status", ["200 ", "299 Anything Goes", "418 I'm a teapot", "200 Caf\xe9"])
def test_odd_but_valid_statuses_are_accepted(status):
    _, sent = respond([b""], status=status)
    assert parsed(sent).status_line == f"HTTP/1.1 {status}"


@pytest.mark.parametrize("headers", [(), {}, None, "X: y"], ids=repr)
def test_headers_must_be_a_list(headers):
    response, _ = writer()
    with pytest.raises(AppError):
        response.start_response("200 OK", headers)


class HeaderList(list):
    """What some frameworks pass: their own list type."""


def test_a_list_subclass_is_a_list_of_headers():
    response, sent = writer()
    response.start_response("200 OK", HeaderList([("X-A", "1"), ("Content-Length", "2")]))
    response.finish([b"ok"])
    answer = parsed(sent)
    assert answer.header("X-A") == "1" and answer.body == b"ok"


@pytest.mark.parametrize(
    "item",
    [["X-A", "1"], ("X-A",), ("X-A", "1", "2"), "X-A: 1"],
    ids=["list", "one", "three", "str"],
)
def test_each_header_must_be_a_name_value_tuple(item):
    response, _ = writer()
    with pytest.raises(AppError):
        response.start_response("200 OK", [item])


@pytest.mark.parametrize(
    "name",
    [
        "Connection",
        "Proxy-Connection",
        "keep-alive",
        "Proxy-Authenticate",
        "Proxy-Authorization",
        "TE",
        "Trailer",
        "Trailers",
        "Transfer-Encoding",
        "Upgrade",
    ],
)
def test_hop_by_hop_headers_are_dropped(name):
    """As gunicorn does: the connection's headers are the server's."""
    value = "keep-alive" if name == "Connection" else "x"
    response, sent = writer()
    response.start_response("200 OK", [(name, value), ("X-Kept", "1")])
    response.finish([b"ok"])
    reply = parsed(sent)
    assert [key for key, _ in reply.headers if key.lower() == name.lower()] == []
    assert reply.header("X-Kept") == "1"
    assert reply.header("Content-Length") == "2"
    assert reply.body == b"ok"
    assert response.keep_alive


def test_a_transfer_encoding_from_the_app_does_not_change_the_framing():
    response, sent = writer()
    write = response.start_response("200 OK", [("Transfer-Encoding", "chunked")])
    write(b"abc")
    response.finish([])
    reply = parsed(sent)
    assert reply.header("Transfer-Encoding") == "chunked"
    assert reply.body == b"abc"


def test_connection_close_among_other_tokens_is_honoured():
    response, sent = writer()
    response.start_response("200 OK", [("Connection", "Upgrade, close")])
    response.finish([b"ok"])
    assert parsed(sent).header("Connection") == "close"
    assert not response.keep_alive


class Text(str):
    """A str subclass, as markupsafe's Markup or a str enum member."""

    def lower(self):  # a subclass may change what its methods do
        return "not what str.lower gives"


def test_str_subclasses_are_accepted_as_status_and_headers():
    response, sent = writer()
    response.start_response(Text("200 OK"), [(Text("X-Name"), Text("value"))])
    response.finish([b"ok"])
    reply = parsed(sent)
    assert reply.status_line == "HTTP/1.1 200 OK"
    assert reply.header("X-Name") == "value"


def test_a_str_subclass_content_length_still_frames_the_body():
    response, sent = writer()
    response.start_response("200 OK", [(Text("Content-Length"), Text("2"))])
    response.finish([b"ok!"])
    reply = parsed(sent)
    assert reply.header("Content-Length") == "2"
    assert reply.body == b"ok"
    assert response.keep_alive


@pytest.mark.parametrize(
    "name",
    ["", "X Name", "X:Name", "X-Name\n", "X-Name\r\nX-Injected", "X\x00", "Caf\xe9", b"X-A", 1],
    ids=repr,
)
def test_invalid_header_names_are_an_app_error(name):
    response, sent = writer()
    with pytest.raises(AppError):
        response.start_response("200 OK", [(name, "v")])
    assert sent == []


@pytest.mark.parametrize(
    "value",
    [
        "a\r\nX-Injected: 1",
        "a\nb",
        "a\rb",
        "a\x00b",
        "a\x0bb",  # VT
        "a\x0cb",  # FF
        "a\x7fb",  # DEL
        "a\x1bb",  # ESC
        "\u20ac",
        b"bytes",
        1,
        None,
    ],
    ids=repr,
)
def test_invalid_header_values_are_an_app_error(value):
    response, sent = writer()
    with pytest.raises(AppError):
        response.start_response("200 OK", [("X-Name", value)])
    assert sent == []


def test_a_tab_in_a_header_value_is_allowed():
    _, sent = respond([b"ok"], headers=[("X-Name", "a\tb")])
    assert parsed(sent).header("X-Name") == "a\tb"


@pytest.mark.parametrize("status", ["100 Continue", "101 Switching Protocols", "103 Early Hints"])
def test_an_interim_status_as_the_final_status_is_an_app_error(status):
    response, sent = writer()
    with pytest.raises(AppError, match="interim"):
        response.start_response(status, [])
    assert sent == []


# -- write() ------------------------------------------------------------------------------


def test_write_then_empty_result_is_chunked_on_http11():
    response, sent = writer()
    write = response.start_response("200 OK", [])
    write(b"Hello")
    write(b", World!")
    response.finish([])
    reply = parsed(sent)
    assert reply.header("Transfer-Encoding") == "chunked"
    assert reply.body == b"Hello, World!"


def test_write_then_list_result_sends_both_in_order():
    response, sent = writer()
    write = response.start_response("200 OK", [])
    write(b"from write, ")
    response.finish([b"from the ", b"result"])
    assert parsed(sent).body == b"from write, from the result"


def test_write_with_app_content_length():
    response, sent = writer()
    write = response.start_response("200 OK", [("Content-Length", "5")])
    write(b"Hel")
    write(b"lo")
    response.finish([])
    reply = parsed(sent)
    assert reply.raw_body == b"Hello"
    assert response.keep_alive


@pytest.mark.parametrize("data", [bytearray(b"abc"), memoryview(b"abc")], ids=type)
def test_write_accepts_bytes_like(data):
    response, sent = writer()
    response.start_response("200 OK", [])(data)
    response.finish([])
    assert parsed(sent).body == b"abc"


@pytest.mark.parametrize("data", ["text", 1, None], ids=repr)
def test_write_of_non_bytes_is_an_app_error(data):
    response, _ = writer()
    write = response.start_response("200 OK", [])
    with pytest.raises(AppError):
        write(data)


def test_write_before_start_response_is_an_app_error():
    response, _ = writer()
    with pytest.raises(AppError):
        response.write(b"x")


def test_head_is_sent_at_the_first_write():
    response, sent = writer()
    response.start_response("200 OK", [])(b"x")
    assert response.head_sent
    assert len(sent) == 1


# -- the result ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "result",
    [["text"], [b"ok", "text"], lambda: generator(b"ok", "text"), [1]],
    ids=["str", "mixed", "gen", "int"],
)
def test_non_bytes_in_the_result_is_an_app_error(result):
    response, _ = writer()
    response.start_response("200 OK", [])
    with pytest.raises(AppError):
        response.finish(made(result))


@pytest.mark.parametrize(
    "result",
    [[b"ok"], [], lambda: generator(), lambda: generator(b"ok")],
    ids=["list", "empty", "gen", "gen-data"],
)
def test_result_without_start_response_is_an_app_error(result):
    response, sent = writer()
    with pytest.raises(AppError):
        response.finish(made(result))
    assert sent == []


def test_start_response_may_be_called_in_the_first_iteration():
    response, sent = writer()

    def app_iter():
        response.start_response("201 Created", [("X-Lazy", "1")])
        yield b"made"

    response.finish(app_iter())
    reply = parsed(sent)
    assert reply.status_line == "HTTP/1.1 201 Created"
    assert reply.body == b"made"


def test_error_before_the_first_byte_leaves_the_head_unsent():
    response, sent = writer()
    response.start_response("200 OK", [])

    def failing():
        raise RuntimeError("app bug")
        yield b""

    with pytest.raises(RuntimeError):
        response.finish(failing())
    assert sent == []
    assert not response.head_sent


# -- wsgi.file_wrapper ------------------------------------------------------------------------


@pytest.fixture
def static_file(tmp_path):
    path = tmp_path / "static.txt"
    path.write_bytes(b"0123456789" * 1000)
    with open(path, "rb") as file:
        yield file


def test_file_wrapper_on_a_regular_file_uses_sendfile_with_a_length(static_file):
    sendfile = Sendfile()
    response, sent = respond(FileWrapper(static_file), sendfile=sendfile)
    assert len(sent) == 1
    reply = parsed(sent)
    assert reply.header("Content-Length") == "10000"
    assert reply.header("Transfer-Encoding") is None
    assert reply.raw_body == b""
    assert sendfile.calls == [(0, 10000)]
    assert sendfile.data == b"0123456789" * 1000
    assert response.bytes_sent == 10000
    assert response.keep_alive


def test_file_wrapper_sends_from_the_current_position(static_file):
    static_file.seek(9990)
    sendfile = Sendfile()
    _, sent = respond(FileWrapper(static_file), sendfile=sendfile)
    assert parsed(sent).header("Content-Length") == "10"
    assert sendfile.calls == [(9990, 10)]


def test_file_wrapper_with_smaller_app_content_length_sends_only_that(static_file):
    sendfile = Sendfile()
    response, sent = respond(
        FileWrapper(static_file), headers=[("Content-Length", "25")], sendfile=sendfile
    )
    assert parsed(sent).header("Content-Length") == "25"
    assert sendfile.calls == [(0, 25)]
    assert response.keep_alive


def test_file_wrapper_shorter_than_app_content_length_ends_the_connection(static_file):
    response, _ = respond(
        FileWrapper(static_file), headers=[("Content-Length", "20000")], sendfile=Sendfile()
    )
    assert not response.keep_alive


def test_file_wrapper_head_request_sends_no_file(static_file):
    sendfile = Sendfile()
    _, sent = respond(FileWrapper(static_file), head=True, sendfile=sendfile)
    assert parsed(sent).raw_body == b""
    assert sendfile.calls == []


def test_file_wrapper_on_a_pipe_falls_back_to_iteration():
    read_end, write_end = os.pipe()
    os.write(write_end, b"from a pipe")
    os.close(write_end)
    sendfile = Sendfile()
    with os.fdopen(read_end, "rb") as pipe:
        _, sent = respond(FileWrapper(pipe, 4), sendfile=sendfile)
    reply = parsed(sent)
    assert sendfile.calls == []
    assert reply.header("Transfer-Encoding") == "chunked"
    assert reply.body == b"from a pipe"


def test_file_wrapper_without_sendfile_is_iterated(static_file):
    _, sent = respond(FileWrapper(static_file, 4096))
    assert parsed(sent).body == b"0123456789" * 1000


def test_file_wrapper_of_an_object_without_fileno_is_iterated():
    class Reader:
        def __init__(self) -> None:
            self.data = [b"in ", b"memory", b""]

        def read(self, size: int) -> bytes:
            return self.data.pop(0)

    _, sent = respond(FileWrapper(Reader()), sendfile=Sendfile())
    assert parsed(sent).body == b"in memory"


def test_file_wrapper_after_write_is_iterated(static_file):
    sendfile = Sendfile()
    response, sent = writer(sendfile=sendfile)
    response.start_response("200 OK", [])(b"prefix:")
    response.finish(FileWrapper(static_file))
    assert sendfile.calls == []
    assert parsed(sent).body == b"prefix:" + b"0123456789" * 1000


def test_file_wrapper_without_start_response_is_an_app_error(static_file):
    response, _ = writer(sendfile=Sendfile())
    with pytest.raises(AppError):
        response.finish(FileWrapper(static_file))


def test_file_wrapper_iterates_blocks_and_closes_the_file(static_file):
    wrapper = FileWrapper(static_file, 3000)
    assert [len(block) for block in wrapper] == [3000, 3000, 3000, 1000]
    wrapper.close()
    assert static_file.closed


def test_file_wrapper_of_an_object_without_close_has_no_close():
    class Reader:
        def read(self, size: int) -> bytes:
            return b""

    assert not hasattr(FileWrapper(Reader()), "close")
