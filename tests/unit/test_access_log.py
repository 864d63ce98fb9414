"""The access log's atoms, gunicorn's names, each computed from one request."""

from glade.logging import AccessLog

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
