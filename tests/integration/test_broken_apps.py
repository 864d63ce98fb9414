"""Apps that break the rules in their responses: the client gets a 500 (or,
once the head is out, a cut response), and the operator one log line that
names the app's own line, with no traceback."""

from __future__ import annotations

import pytest
from support.server import APPS_DIR, TRACEBACK, GladeServer, read_until_close, split_responses

SOURCE = (APPS_DIR / "broken_app.py").read_text().splitlines()


@pytest.fixture(scope="module", params=["gevent", "sync"])
def server(request):
    with GladeServer("broken_app:app", "-k", request.param, "--keep-alive", "1") as server:
        yield server


def raw(server, request: bytes) -> bytes:
    with server.connect(timeout=5) as sock:
        sock.sendall(request)
        return read_until_close(sock, timeout=5)


def marked_line(marker: str) -> int:
    """The line of broken_app.py that carries `# broken: marker`."""
    (number,) = [i for i, line in enumerate(SOURCE, 1) if line.endswith(f"# broken: {marker}")]
    return number


def app_line() -> int:
    (number,) = [i for i, line in enumerate(SOURCE, 1) if line.startswith("def app(")]
    return number


def error_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if "[ERROR]" in line or "[WARNING]" in line]


def assert_serving(server) -> None:
    data = raw(server, b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert [r.body for r in split_responses(data)] == [b"Hello, World!"]


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("final-1xx", "status '103 Early Hints' is interim (1xx), not a final status"),
        ("vt-in-header", "response header 'X-Bad' contains the control character '\\x0b'"),
        ("del-in-header", "response header 'X-Bad' contains the control character '\\x7f'"),
        ("second-start-response", "start_response() called a second time without exc_info"),
        ("write-str", "the app wrote str, not bytes"),
        ("str-in-list", "the app returned str, not bytes"),
    ],
)
def test_a_broken_response_is_a_500_and_one_line_naming_the_apps_code(server, kind, message):
    mark = server.output_size()
    data = raw(server, f"GET /?{kind} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    (response,) = split_responses(data)
    assert response.status == 500
    assert response.header("Connection") == "close"
    assert b"never sent" not in data
    output = server.wait_for_output("answered 500", since=mark)
    (logged,) = error_lines(output)
    assert f"GET /?{kind} from 127.0.0.1:" in logged
    assert message in logged
    line = app_line() if kind == "str-in-list" else marked_line(kind)
    assert f"broken_app.py, line {line}, in " in logged
    assert TRACEBACK not in output
    assert_serving(server)


def test_a_bad_item_after_the_head_cuts_the_response_with_one_line(server):
    mark = server.output_size()
    data = raw(server, b"GET /?str-in-generator HTTP/1.1\r\nHost: x\r\n\r\n")
    assert data.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"bytes first, " in data
    assert not data.endswith(b"0\r\n\r\n")  # no last chunk: the client sees it cut
    output = server.wait_for_output("cut the response after", since=mark)
    (logged,) = error_lines(output)
    assert "the app returned str, not bytes" in logged
    assert f"broken_app.py, line {marked_line('str-in-generator')}, in " in logged
    assert "cut the response after 13 bytes of its body" in logged
    assert TRACEBACK not in output


def test_a_body_short_of_its_content_length_closes_with_one_line(server):
    mark = server.output_size()
    data = raw(server, b"GET /?short-body HTTP/1.1\r\nHost: x\r\n\r\n")
    assert data.endswith(b"\r\n\r\nonly ten..")
    output = server.wait_for_output("short of its Content-Length", since=mark)
    (logged,) = error_lines(output)
    assert "response to 127.0.0.1:" in logged
    assert "(GET /?short-body) ended 90 bytes short of its Content-Length (10 of 100 sent)" in (
        logged
    )
    assert TRACEBACK not in output
