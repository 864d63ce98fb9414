"""The access log's atoms, gunicorn's names, each computed from one request;
and the JSON access log, whatever a client puts in its headers."""

import json
import re
import time

from glade.logging import AccessLog, iso_time

ENVIRON = {
    "REMOTE_ADDR": "192.0.2.7",
    "REQUEST_METHOD": "POST",
    "RAW_URI": "/items?page=2",
    "SCRIPT_NAME": "/app",
    "PATH_INFO": "/items",
    "QUERY_STRING": "page=2",
    "SERVER_PROTOCOL": "HTTP/1.1",
    "HTTP_REFERER": "https://example.org/",
    "HTTP_USER_AGENT": "curl/8",
    "HTTP_X_REQUEST_ID": "abc",
    "HTTP_AUTHORIZATION": "Basic dXNlcjpwdw==",  # user:pw
}


def line(fmt: str, body_bytes: int = 13) -> dict:
    log = AccessLog(fmt)
    return log.atom_values(ENVIRON, 201, [("Content-Type", "text/plain")], body_bytes, 0.0025)


def test_every_plain_atom():
    values = line(
        "%(h)s %(l)s %(u)s %(r)s %(m)s %(U)s %(q)s %(H)s %(s)s %(B)s %(b)s %(f)s %(a)s "
        "%(T)s %(D)s %(M)s %(L)s"
    )
    assert values == {
        "h": "192.0.2.7",
        "l": "-",
        "u": "user",
        "r": "POST /items?page=2 HTTP/1.1",
        "m": "POST",
        "U": "/app/items",
        "q": "page=2",
        "H": "HTTP/1.1",
        "s": "201",
        "B": "13",
        "b": "13",
        "f": "https://example.org/",
        "a": "curl/8",
        "T": "0",
        "D": "2500",
        "M": "2",
        "L": "0.002500",
    }


def test_named_atoms_and_unknown_ones():
    values = line("%({x-request-id}i)s %({content-type}o)s %({REMOTE_ADDR}e)s %({nope}i)s %(Z)s")
    assert values == {
        "{x-request-id}i": "abc",
        "{content-type}o": "text/plain",
        "{REMOTE_ADDR}e": "192.0.2.7",
        "{nope}i": "-",
        "Z": "-",
    }


def test_empty_body_is_a_dash_in_b_and_zero_in_capital_b():
    values = line("%(b)s %(B)s", body_bytes=0)
    assert values == {"b": "-", "B": "0"}


def test_time_is_in_common_log_format():
    value = line("%(t)s")["t"]
    assert value.startswith("[") and value.endswith("]")
    day, rest = value[1:-1].split("/", 1)
    assert day.isdigit() and len(rest.split(" ")[1]) == 5  # +hhmm


# -- the JSON access log -------------------------------------------------------

ISO_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d$")


def json_line(environ: dict) -> tuple[str, dict]:
    text = AccessLog("json").line(environ, 201, [], 13, 0.0025)
    return text, json.loads(text)


def test_json_fields():
    environ = dict(ENVIRON, **{"glade.peer_addr": "10.0.0.2"})
    _, record = json_line(environ)
    assert ISO_TIME.match(record.pop("time"))
    assert record == {
        "remote_addr": "192.0.2.7",
        "peer_addr": "10.0.0.2",
        "method": "POST",
        "path": "/app/items",
        "query": "page=2",
        "protocol": "HTTP/1.1",
        "status": 201,
        "bytes": 13,
        "duration_us": 2500,
        "referer": "https://example.org/",
        "user_agent": "curl/8",
        "request_id": "abc",
    }


def test_json_peer_is_the_client_without_a_proxy_and_null_on_a_unix_socket():
    assert json_line(ENVIRON)[1]["peer_addr"] == "192.0.2.7"
    _, record = json_line(dict(ENVIRON, REMOTE_ADDR=""))
    assert record["remote_addr"] is None and record["peer_addr"] is None


def test_json_request_id_is_x_request_id_or_else_x_correlation_id():
    both = dict(ENVIRON, HTTP_X_CORRELATION_ID="corr")
    assert json_line(both)[1]["request_id"] == "abc"
    del both["HTTP_X_REQUEST_ID"]
    assert json_line(both)[1]["request_id"] == "corr"
    del both["HTTP_X_CORRELATION_ID"]
    record = json_line(both)[1]
    assert record["request_id"] is None


def test_json_missing_headers_are_null():
    environ = {key: value for key, value in ENVIRON.items() if key[:5] != "HTTP_"}
    record = json_line(environ)[1]
    assert (record["referer"], record["user_agent"], record["request_id"]) == (None, None, None)


HOSTILE = '"},{"status":200,"x":"\\\n\r\t\x00\x1b[31m\u2028'


def test_json_hostile_values_stay_inside_their_strings_on_one_ascii_line():
    environ = dict(
        ENVIRON,
        HTTP_USER_AGENT=HOSTILE,
        HTTP_REFERER="x" * 100_000,
        HTTP_X_REQUEST_ID=HOSTILE,
        PATH_INFO='/a"b\\c',
        QUERY_STRING='q="\n',
    )
    text, record = json_line(environ)
    assert "\n" not in text and "\r" not in text and text.isascii()
    assert record["user_agent"] == record["request_id"] == HOSTILE
    assert record["referer"] == "x" * 100_000
    assert (record["path"], record["query"], record["status"]) == ('/app/a"b\\c', 'q="\n', 201)


def test_json_utf8_in_wsgi_strings_reads_as_text_and_other_bytes_as_escapes():
    # PEP 3333: the bytes of a header or a path arrive as latin-1 characters.
    environ = dict(
        ENVIRON,
        HTTP_USER_AGENT="caf\u00e9 \u2603".encode().decode("latin-1"),
        PATH_INFO="/\xff\xfe",  # not UTF-8
    )
    record = json_line(environ)[1]
    assert record["user_agent"] == "caf\u00e9 \u2603"
    assert record["path"] == "/app/\\xff\\xfe"


def test_iso_time_has_milliseconds_and_the_offset(monkeypatch):
    monkeypatch.setenv("TZ", "XYZ-05:30")  # POSIX: 5 h 30 east of UTC
    time.tzset()
    try:
        # 2023-11-14T22:13:20 UTC; not a second the cache can hold already.
        assert iso_time(1_700_000_000.0429) == "2023-11-15T03:43:20.042+05:30"
        assert iso_time(1_700_000_000.999) == "2023-11-15T03:43:20.999+05:30"
        assert iso_time(1_700_000_001.5) == "2023-11-15T03:43:21.500+05:30"
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()
