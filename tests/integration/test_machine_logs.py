"""Logs that machines read: JSON access and error logs, and syslog.

Every line a log pipeline receives must parse, whatever a client sent; the
error log's tracebacks arrive as one field; syslog gets each line with the
facility, priority and tag the settings name, over UDP and a UNIX socket.
"""

from __future__ import annotations

import json
import os
import re
import socket
import tempfile
import time
from pathlib import Path

import pytest
from support.server import split_responses, wait_until

ISO_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d$")

# What a client can put in a header value on the wire: quotes, backslashes,
# a tab, what would close the JSON object early, UTF-8, and bytes that are
# not UTF-8 (obs-text). A raw CR or LF cannot be there: it ends the header.
HOSTILE = (
    b'a "quoted" \\ back\\slash\t"},{"status":1,"x":"\\u0000 caf\xc3\xa9 \xe2\x98\x83 \xff\xfe'
)
HOSTILE_TEXT = 'a "quoted" \\ back\\slash\t"},{"status":1,"x":"\\u0000 caf\u00e9 \u2603 \\xff\\xfe'


def raw_get(server, target: bytes, *headers: bytes) -> int:
    request = b"GET " + target + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
    request += b"".join(header + b"\r\n" for header in headers) + b"\r\n"
    (response,) = split_responses(server.raw(request))
    return response.status


def json_lines(path: Path) -> list[dict]:
    """Every line of the file, each parsed (a line that is not JSON fails here)."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_json_access_log_through_hostile_headers(glade_server, worker_class, tmp_path):
    log = tmp_path / "access.log"
    server = glade_server(
        "validated:app",
        "-k",
        worker_class,
        "--access-logfile",
        str(log),
        "--access-log-format",
        "json",
    )
    status = raw_get(
        server,
        b'/environ?q=%22x"&tag=hostile',
        b"User-Agent: " + HOSTILE,
        b"Referer: " + HOSTILE,
        b'X-Request-ID: id-"1"\\',
        b"X-Forwarded-For: 203.0.113.9",  # from 127.0.0.1, a trusted proxy by default
    )
    assert status == 200
    long_value = b"L" * 8000
    assert raw_get(server, b"/?tag=long", b"User-Agent: " + long_value) == 200
    assert raw_get(server, b"/error?tag=error", b"X-Correlation-ID: corr-7") == 500

    records = wait_until(lambda: len(json_lines(log)) == 3 and json_lines(log), timeout=5)
    assert records, log.read_text() if log.exists() else server.output()
    hostile, long, error = records
    assert ISO_TIME.match(hostile["time"]), hostile
    assert hostile["remote_addr"] == "203.0.113.9"
    assert hostile["peer_addr"] == "127.0.0.1"
    assert hostile["user_agent"] == hostile["referer"] == HOSTILE_TEXT
    assert hostile["request_id"] == 'id-"1"\\'
    assert (hostile["path"], hostile["query"]) == ("/environ", 'q=%22x"&tag=hostile')
    assert (hostile["method"], hostile["protocol"], hostile["status"]) == ("GET", "HTTP/1.1", 200)
    assert isinstance(hostile["bytes"], int) and hostile["bytes"] > 0
    assert long["user_agent"] == long_value.decode()
    assert long["remote_addr"] == long["peer_addr"] == "127.0.0.1"
    assert long["request_id"] is None and long["referer"] is None
    assert (error["status"], error["request_id"]) == (500, "corr-7")
    text = log.read_text()
    assert text.isascii() and text.count("\n") == 3


def test_json_error_log_in_the_master_and_the_workers(glade_server, tmp_path):
    server = glade_server(
        "validated:app",
        "-w",
        "2",
        "--error-log-format",
        "json",
        "--access-logfile",
        str(tmp_path / "access.log"),  # only the error log in the output
    )
    assert server.get("/error?tag=json-error")[0] == 500
    server.wait_for_output("Error handling request GET /error?tag=json-error", timeout=5)
    assert server.stop() == 0
    entries = [json.loads(line) for line in server.output().splitlines()]
    assert all(ISO_TIME.match(entry["time"]) for entry in entries)
    assert all(entry["logger"] == "glade.error" for entry in entries)
    pids = {entry["pid"] for entry in entries}
    assert len(pids) == 3, pids  # the master's lines and both workers'
    assert {"message": "Shutting down: master", "level": "INFO", "pid": server.pid}.items() <= (
        entries[-1].items()
    )
    (failure,) = [entry for entry in entries if "exception" in entry]
    assert failure["level"] == "ERROR"
    assert failure["message"] == "Error handling request GET /error?tag=json-error"
    assert failure["exception"].startswith("Traceback (most recent call last):\n")
    assert failure["exception"].endswith("RuntimeError: the app failed on purpose")
    assert failure["pid"] != server.pid


def test_a_logconfig_dict_can_use_the_json_format(glade_server, tmp_path):
    config = tmp_path / "gunicorn.conf.py"
    config.write_text(
        "logconfig_dict = {\n"
        '    "formatters": {"json": {"()": "glade.logging.JsonFormatter"}},\n'
        '    "handlers": {"out": {"class": "logging.StreamHandler", "formatter": "json",\n'
        '                         "stream": "ext://sys.stdout"}},\n'
        '    "loggers": {"gunicorn.error": {"handlers": ["out"], "level": "INFO"}},\n'
        "}\n"
    )
    server = glade_server("validated:app", "-c", str(config))
    lines = server.output().splitlines()
    assert lines and all(json.loads(line)["logger"] == "glade.error" for line in lines), lines


# -- syslog --------------------------------------------------------------------------

PRIORITY = re.compile(rb"^<(\d+)>(.*?)\x00?$", re.DOTALL)


class Receiver:
    """A syslog daemon's end: every datagram, as (facility, severity, text)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.sock.settimeout(0.1)
        self.messages: list[tuple[int, int, str]] = []

    def until(self, predicate, timeout: float = 5.0) -> list[tuple[int, int, str]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [message for message in self.messages if predicate(message)]
            if found:
                return found
            try:
                datagram = self.sock.recv(65536)
            except TimeoutError:
                continue
            match = PRIORITY.match(datagram)
            assert match, datagram
            priority = int(match[1])
            self.messages.append((priority >> 3, priority & 7, match[2].decode()))
        raise AssertionError(f"no such syslog message within {timeout} s: {self.messages}")


LOCAL3, USER = 19, 1
INFO, ERR = 6, 3


def test_syslog_over_udp_with_gunicorns_setting_names(glade_server, tmp_path):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        config = tmp_path / "gunicorn.conf.py"
        config.write_text(
            "syslog = True\n"
            f'syslog_addr = "udp://127.0.0.1:{port}"\n'
            'syslog_prefix = "site"\n'
            'syslog_facility = "local3"\n'
        )
        server = glade_server("validated:app", "-c", str(config), "-w", "1")
        assert "warning" not in server.output()
        receiver = Receiver(sock)
        master = f"glade.site.error: [{server.pid}] "
        (listening,) = receiver.until(lambda m: m[2].startswith(master + "Listening at: "))
        assert listening[:2] == (LOCAL3, INFO)

        assert server.get("/?tag=udp-access") == (200, b"Hello, World!")
        (worker,) = server.worker_pids()
        (access,) = receiver.until(lambda m: "tag=udp-access" in m[2])
        assert access[:2] == (LOCAL3, INFO)
        assert access[2].startswith(f"glade.site.access: [{worker}] 127.0.0.1 - - [")
        assert '"GET /?tag=udp-access HTTP/1.1" 200 13' in access[2]

        assert server.get("/error?tag=udp-error")[0] == 500
        (error,) = receiver.until(
            lambda m: "GET /error?tag=udp-error" in m[2] and "access" not in m[2]
        )
        assert error[:2] == (LOCAL3, ERR)
        assert error[2].startswith(f"glade.site.error: [{worker}] Error handling request ")
        assert error[2].endswith("RuntimeError: the app failed on purpose")
        # The file logs are still written, as in gunicorn: syslog is one more place.
        assert "Error handling request GET /error?tag=udp-error" in server.output()


def test_syslog_on_a_unix_datagram_socket_with_json_lines(glade_server):
    # A short directory: AF_UNIX paths are limited to about 100 bytes.
    with tempfile.TemporaryDirectory(prefix="glade-") as directory:
        path = os.path.join(directory, "log")
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.bind(path)
            server = glade_server(
                "validated:app",
                "--log-syslog",
                "--log-syslog-to",
                f"unix://{path}",
                "--error-log-format",
                "json",
                "--access-log-format",
                "json",
            )
            assert raw_get(server, b"/error?tag=unix", b"User-Agent: " + HOSTILE) == 500
            receiver = Receiver(sock)
            tag = "glade.validated.app.access: "
            (access,) = receiver.until(lambda m: m[2].startswith(tag))
            assert access[:2] == (USER, INFO)
            record = json.loads(access[2][len(tag) :])
            assert (record["path"], record["user_agent"]) == ("/error", HOSTILE_TEXT)

            tag = "glade.validated.app.error: "
            (error,) = receiver.until(lambda m: m[2].startswith(tag) and "exception" in m[2])
            assert error[:2] == (USER, ERR)
            entry = json.loads(error[2][len(tag) :])
            assert entry["message"] == "Error handling request GET /error?tag=unix"
            assert entry["exception"].endswith("RuntimeError: the app failed on purpose")


@pytest.mark.parametrize("target", ["unix://{directory}/nothing", "tcp://127.0.0.1:{port}"])
def test_a_syslog_that_cannot_be_reached_costs_lines_not_the_server(glade_server, target, tmp_path):
    with socket.socket() as closed:  # a port nothing listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    target = target.format(directory=tmp_path, port=port)
    server = glade_server("validated:app", "-w", "1", "--log-syslog", "--log-syslog-to", target)
    for _ in range(3):
        assert server.get("/") == (200, b"Hello, World!")
    said = f"syslog at {target}: "
    wait_until(lambda: server.output().count(said) == 2, timeout=5)
    assert server.stop() == 0
    output = server.output()
    assert output.count(said) == 2, output  # once in the master, once in the worker
    assert "its log lines are lost until it answers" in output
    assert server.tracebacks() == 0 and "Logging error" not in output
