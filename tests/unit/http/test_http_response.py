"""Response bytes: status lines, the Date header, error responses, chunks."""

from __future__ import annotations

import re
from email.utils import formatdate
from http import HTTPStatus

import pytest

from glade import SERVER_SOFTWARE
from glade.http import response
from glade.http.response import (
    CONTINUE_RESPONSE,
    LAST_CHUNK,
    SERVER_HEADER,
    chunk,
    date_header,
    error_response,
    status_line,
)

IMF_FIXDATE = re.compile(
    rb"Date: (Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
    rb" \d{4} \d\d:\d\d:\d\d GMT\r\n"
)


def parse_response(data: bytes) -> tuple[str, dict[str, str], bytes]:
    head, separator, body = data.partition(b"\r\n\r\n")
    assert separator, data
    status, *lines = head.decode("latin-1").split("\r\n")
    headers: dict[str, str] = {}
    for line in lines:
        name, _, value = line.partition(": ")
        assert name.lower() not in headers, f"duplicate {name}"
        headers[name.lower()] = value
    return status, headers, body


@pytest.fixture
def clock(monkeypatch):
    """Set the wall clock that the Date header reads."""
    now = [0.0]
    monkeypatch.setattr(response, "wall_clock", lambda: now[0])

    def set_time(timestamp: float) -> None:
        now[0] = timestamp

    return set_time


# -- status lines -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "line"),
    [
        ("200 OK", b"HTTP/1.1 200 OK\r\n"),
        ("404 Not Found", b"HTTP/1.1 404 Not Found\r\n"),
        ("599 Custom Thing", b"HTTP/1.1 599 Custom Thing\r\n"),
        ("200 Caf\xe9", b"HTTP/1.1 200 Caf\xe9\r\n"),
    ],
)
def test_status_line(status, line):
    assert status_line(status) == line


def test_date_header_is_an_imf_fixdate():
    assert IMF_FIXDATE.fullmatch(date_header())


@pytest.mark.parametrize(
    "timestamp",
    [
        0,  # Thu, 01 Jan 1970
        784111777,  # RFC 9110's example: Sun, 06 Nov 1994 08:49:37 GMT
        951782400,  # 29 Feb 2000
        1704067199,  # the last second of 2023
        4102444800,  # Fri, 01 Jan 2100
    ],
)
def test_date_header_matches_rfc_9110_format(clock, timestamp):
    clock(timestamp)
    expected = f"Date: {formatdate(timestamp, usegmt=True)}\r\n".encode()
    assert date_header() == expected
    assert IMF_FIXDATE.fullmatch(date_header())


def test_date_header_every_weekday_and_month(clock):
    for timestamp in range(1704067200, 1704067200 + 366 * 86400, 86400 + 3661):
        clock(timestamp)
        assert date_header() == f"Date: {formatdate(timestamp, usegmt=True)}\r\n".encode()


def test_date_header_example_from_rfc_9110(clock):
    clock(784111777)
    assert date_header() == b"Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n"


def test_date_header_is_formatted_once_per_second(clock):
    clock(1000.1)
    first = date_header()
    clock(1000.9)
    assert date_header() is first
    clock(1001.0)
    second = date_header()
    assert second is not first
    assert second == b"Date: Thu, 01 Jan 1970 00:16:41 GMT\r\n"


def test_date_header_follows_the_clock_backwards(clock):
    clock(2000)
    later = date_header()
    clock(1999)
    assert date_header() != later


# -- fixed responses ------------------------------------------------------------------


def test_continue_response():
    assert CONTINUE_RESPONSE == b"HTTP/1.1 100 Continue\r\n\r\n"


def test_server_header_names_glade():
    assert f"Server: {SERVER_SOFTWARE}\r\n".encode() == SERVER_HEADER
    assert SERVER_SOFTWARE.startswith("glade/")


# -- error responses -----------------------------------------------------------------


@pytest.mark.parametrize("status", [400, 408, 413, 414, 417, 431, 500, 501, 505])
def test_error_response_closes_and_has_a_correct_content_length(status):
    data = error_response(status, "some reason")
    line, headers, body = parse_response(data)
    phrase = HTTPStatus(status).phrase
    assert line == f"HTTP/1.1 {status} {phrase}"
    assert headers["connection"] == "close"
    assert int(headers["content-length"]) == len(body)
    assert headers["content-type"] == "text/plain; charset=utf-8"
    assert headers["server"] == SERVER_SOFTWARE
    assert IMF_FIXDATE.fullmatch(f"Date: {headers['date']}\r\n".encode())
    assert body == f"{status} {phrase}: some reason\n".encode()


def test_error_response_without_reason():
    _, headers, body = parse_response(error_response(404))
    assert body == b"404 Not Found\n"
    assert headers["content-length"] == str(len(body))


def test_error_response_non_ascii_reason_is_replaced_not_raised():
    _, headers, body = parse_response(error_response(400, "bad \u20ac"))
    assert body == b"400 Bad Request: bad ?\n"
    assert headers["content-length"] == str(len(body))


def test_error_response_head_only_keeps_the_length_of_the_body_it_leaves_out():
    full = error_response(413, "too large")
    head = error_response(413, "too large", head_only=True)
    assert head.endswith(b"\r\n\r\n")
    assert full == head + parse_response(full)[2]


# -- chunks -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "framed"),
    [
        (b"a", b"1\r\na\r\n"),
        (b"hello world", b"b\r\nhello world\r\n"),
        (b"x" * 255, b"ff\r\n" + b"x" * 255 + b"\r\n"),
        (b"x" * 4096, b"1000\r\n" + b"x" * 4096 + b"\r\n"),
        (b"\r\n0\r\n\r\n", b"7\r\n\r\n0\r\n\r\n\r\n"),
    ],
    ids=["one", "eleven", "255", "4096", "looks-like-the-end"],
)
def test_chunk_frames_data_with_its_hex_size(data, framed):
    assert chunk(data) == framed


def test_chunk_of_nothing_is_nothing_not_the_last_chunk():
    assert chunk(b"") == b""
    assert LAST_CHUNK == b"0\r\n\r\n"
