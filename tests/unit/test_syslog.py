"""Syslog addresses as gunicorn spells them, tags, and a destination that is down."""

from __future__ import annotations

import logging
import os
import socket
import tempfile

import pytest

from glade.errors import SettingError
from glade.syslog import SyslogHandler, default_address, parse_address, parse_facility, tag


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("udp://127.0.0.1:5514", (socket.SOCK_DGRAM, ("127.0.0.1", 5514))),
        ("udp://logs.example", (socket.SOCK_DGRAM, ("logs.example", 514))),
        ("udp://", (socket.SOCK_DGRAM, ("localhost", 514))),
        ("tcp://[::1]:601", (socket.SOCK_STREAM, ("::1", 601))),
        ("TCP://host:601", (socket.SOCK_STREAM, ("host", 601))),
        ("unix:///dev/log", (None, "/dev/log")),
        ("unix:///dev/log#dgram", (socket.SOCK_DGRAM, "/dev/log")),
        ("unix:///run/syslog#stream", (socket.SOCK_STREAM, "/run/syslog")),
    ],
)
def test_addresses(text, expected):
    assert parse_address(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "/dev/log",
        "localhost:514",
        "http://x:1",
        "udp://x:0",
        "udp://x:65536",
        "udp://x:y",
        "udp://[::1",
        "unix://",
        "unix:///dev/log#raw",
    ],
)
def test_bad_addresses(text):
    with pytest.raises(SettingError, match="expected"):
        parse_address(text)


def test_gunicorns_defaults():
    assert default_address("linux") == "udp://localhost:514"
    assert default_address("darwin") == "unix:///var/run/syslog"
    assert default_address("freebsd14") == "unix:///var/run/log"
    assert default_address("openbsd7") == "unix:///dev/log"


def test_facilities():
    assert parse_facility("LOCAL3") == "local3"
    with pytest.raises(SettingError):
        parse_facility("local8")


def test_tag_keeps_only_what_ends_no_program_name():
    assert tag("myapp:app", "error") == "glade.myapp.app.error"
    assert tag("myapp:create_app()", "access") == "glade.myapp.create_app.access"
    assert tag("my site [eu]", "error") == "glade.my.site.eu.error"
    assert tag(":::", "error") == "glade.app.error"


def _record(message: str) -> logging.LogRecord:
    return logging.LogRecord("glade.error", logging.INFO, __file__, 1, message, (), None)


def test_a_destination_that_is_down_costs_lines_and_one_report_until_it_answers(monkeypatch):
    monkeypatch.setattr(SyslogHandler, "RETRY_SECONDS", 0.0)
    reports = []
    with tempfile.TemporaryDirectory(prefix="glade-") as directory:
        path = os.path.join(directory, "log")
        handler = SyslogHandler(f"unix://{path}#dgram", "local1", report=reports.append)
        handler.setFormatter(logging.Formatter("%(message)s"))
        handler.emit(_record("lost"))  # nothing listens: dropped, no exception
        handler.emit(_record("lost too"))
        assert len(reports) == 1
        assert reports[0].startswith(f"syslog at unix://{path}#dgram: No such file or directory")
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as receiver:
            receiver.bind(path)
            receiver.settimeout(5)
            handler.emit(_record("delivered"))
            assert receiver.recv(4096) == b"<142>delivered\x00"  # local1 (17) * 8 + info (6)
        os.unlink(path)
        handler.emit(_record("lost again"))
        assert len(reports) == 2  # a new outage is said again
        handler.close()
