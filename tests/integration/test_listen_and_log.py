"""Where Glade listens (IPv6, UNIX sockets) and what its access log says."""

from __future__ import annotations

import json
import os
import re
import socket
import tempfile
from pathlib import Path

import pytest
import requests
from support.server import (
    ServerError,
    free_port,
    read_until_close,
    run_until_exit,
    split_responses,
    wait_until,
)


def ipv6_loopback_available() -> bool:
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.mark.skipif(not ipv6_loopback_available(), reason="no IPv6 loopback here")
def test_ipv6_bind(glade_server):
    server = glade_server("validated:app", "--graceful-timeout", "3", bind="[::1]:0")
    assert server.address.startswith("[::1]:")
    assert server.port > 0
    response = requests.get(f"http://[::1]:{server.port}/environ", timeout=5)
    assert response.status_code == 200
    assert response.json()["REMOTE_ADDR"] == "::1"


def test_unix_socket_bind(glade_server, worker_class):
    # A short directory: AF_UNIX paths are limited to about 100 bytes.
    with tempfile.TemporaryDirectory(prefix="glade-") as directory:
        path = os.path.join(directory, "glade.sock")
        server = glade_server(
            "validated:app", "-k", worker_class, "--graceful-timeout", "3", bind=f"unix:{path}"
        )
        assert server.unix_path == path
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(5)
            sock.connect(path)
            sock.sendall(b"GET /environ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            (response,) = split_responses(read_until_close(sock, timeout=5))
        assert response.status == 200
        environ = json.loads(response.body)
        assert environ["REMOTE_ADDR"] == ""
        assert environ["SERVER_PROTOCOL"] == "HTTP/1.1"
        assert server.stop() == 0
        assert not os.path.exists(path), "the socket file outlived the server"


# 127.0.0.1 - - [26/Nov/2026:17:00:00 +0000] "GET /environ?x=1 HTTP/1.1" 200 123 "ref" "agent"
GUNICORN_LINE = re.compile(
    r"^(?P<h>\S+) - - \[(?P<t>\d{2}/\w{3}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4})\] "
    r'"(?P<r>[^"]*)" (?P<s>\d{3}) (?P<b>\d+|-) "(?P<f>[^"]*)" "(?P<a>[^"]*)"$'
)


def access_lines(server, marker: str) -> list[str]:
    return [line for line in server.output().splitlines() if marker in line]


def test_access_log_in_gunicorns_format(glade_server, worker_class):
    server = glade_server(
        "validated:app",
        "-k",
        worker_class,
        "--access-logfile",
        "-",
        "--graceful-timeout",
        "3",
    )
    headers = {"User-Agent": "glade-test/1.0", "Referer": "http://example.com/from"}
    response = requests.get(server.url + "/environ?marker=gunicorn", headers=headers, timeout=5)
    assert response.status_code == 200
    lines = wait_until(lambda: access_lines(server, "marker=gunicorn"), timeout=5)
    assert lines and len(lines) == 1, server.output()
    match = GUNICORN_LINE.match(lines[0])
    assert match, lines[0]
    assert match["h"] == "127.0.0.1"
    assert match["r"] == "GET /environ?marker=gunicorn HTTP/1.1"
    assert match["s"] == "200"
    assert match["b"] == str(len(response.content))
    assert match["f"] == "http://example.com/from"
    assert match["a"] == "glade-test/1.0"

    response = requests.get(server.url + "/status?204", timeout=5)
    assert response.status_code == 204
    lines = wait_until(lambda: access_lines(server, "/status?204"), timeout=5)
    assert lines, server.output()
    match = GUNICORN_LINE.match(lines[0])
    assert match and (match["s"], match["b"]) == ("204", "-"), lines[0]


def test_access_log_as_json(glade_server, tmp_path: Path):
    log = tmp_path / "access.log"
    server = glade_server(
        "validated:app",
        "--access-logfile",
        str(log),
        "--access-log-format",
        "json",
        "--graceful-timeout",
        "3",
    )
    response = requests.post(
        server.url + "/echo?marker=json",
        data=b"0123456789",
        headers={"User-Agent": "glade-test/1.0"},
        timeout=5,
    )
    assert response.content == b"0123456789"

    def logged():
        return log.exists() and [line for line in log.read_text().splitlines() if line]

    lines = wait_until(logged, timeout=5)
    assert lines and len(lines) == 1, lines
    record = json.loads(lines[0])
    assert record["remote_addr"] == "127.0.0.1"
    assert record["method"] == "POST"
    assert record["path"] == "/echo"
    assert record["query"] == "marker=json"
    assert record["protocol"] == "HTTP/1.1"
    assert record["status"] == 200
    assert record["bytes"] == 10
    assert record["user_agent"] == "glade-test/1.0"
    assert isinstance(record["duration_us"], int) and record["duration_us"] >= 0
    assert "marker=json" not in server.output()  # the access log went to its file


def test_access_log_has_the_failed_requests_too(glade_server, worker_class):
    server = glade_server(
        "validated:app",
        "-k",
        worker_class,
        "--access-logfile",
        "-",
        "--limit-request-body",
        "100",
        "--graceful-timeout",
        "3",
    )
    assert requests.get(server.url + "/error?tag=a", timeout=5).status_code == 500
    too_big = (b"x" * 60 for _ in range(3))  # chunked: refused while the app reads it
    assert requests.post(server.url + "/echo?tag=b", data=too_big, timeout=5).status_code == 413
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        requests.get(server.url + "/closing?fail_after=1&tag=c", timeout=5)
    expected = {
        "GET /error?tag=a ": "500",
        "POST /echo?tag=b ": "413",
        "GET /closing?fail_after=1&tag=c ": "200",  # the status that went out
    }

    def logged():
        lines = server.output().splitlines()
        found = {}
        for request_line in expected:
            for line in lines:
                match = GUNICORN_LINE.match(line)
                if match and match["r"].startswith(request_line):
                    found[request_line] = match["s"]
        return len(found) == len(expected) and found

    assert wait_until(logged, timeout=5) == expected, server.output()


def _title(pid: int) -> str:
    with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
        return cmdline.read().replace(b"\0", b" ").decode().strip()


def test_process_titles_name_the_app_or_proc_name(glade_server):
    pytest.importorskip("setproctitle")  # an extra; the dev install has it
    server = glade_server("validated:app", "-w", "1")
    assert _title(server.pid) == "glade: master [validated:app]"
    (worker,) = server.worker_pids()
    assert _title(worker) == "glade: worker [validated:app]"
    server.stop()
    server = glade_server("validated:app", "-w", "1", "-n", "mysite")
    assert _title(server.pid) == "glade: master [mysite]"
    assert _title(server.worker_pids()[0]) == "glade: worker [mysite]"
    assert "setproctitle package is missing" not in server.output()


def test_reuse_port_lets_two_servers_share_a_port(glade_server):
    port = free_port()
    first = glade_server("validated:app", "--reuse-port", bind=f"127.0.0.1:{port}")
    second = glade_server("validated:app", "--reuse-port", bind=f"127.0.0.1:{port}")
    assert first.port == second.port == port
    pids = {int(requests.get(f"http://127.0.0.1:{port}/pid", timeout=5).text) for _ in range(40)}
    # The kernel spreads new connections over both (all 40 on one: about 2**-39).
    assert pids & set(first.worker_pids()) and pids & set(second.worker_pids())
    with pytest.raises(ServerError, match="address already in use"):
        glade_server("validated:app", bind=f"127.0.0.1:{port}")  # without it: refused


LOGCONFIG = """
logconfig_dict = {
    "formatters": {"tagged": {"format": "TAGGED %(levelname)s %(name)s %(message)s"}},
    "handlers": {
        "out": {"class": "logging.StreamHandler", "formatter": "tagged", "stream": "ext://sys.stdout"},
    },
    "loggers": {
        "gunicorn.error": {"handlers": ["out"], "level": "INFO", "propagate": False},
        "gunicorn.access": {"handlers": ["out"], "level": "INFO", "propagate": False},
    },
}
"""


def test_a_gunicorn_logconfig_dict_shapes_both_logs(glade_server, tmp_path):
    config = tmp_path / "gunicorn.conf.py"
    config.write_text(LOGCONFIG)
    server = glade_server("validated:app", "-c", str(config))
    assert server.get("/") == (200, b"Hello, World!")
    # The access log is on because the dict configures its logger.
    assert wait_until(lambda: "TAGGED INFO glade.access 127.0.0.1 - - [" in server.output(), 5)
    assert "TAGGED INFO glade.error master: BOOTING -> SERVING" in server.output()


def test_a_logconfig_dict_that_cannot_work_stops_the_server(tmp_path):
    (tmp_path / "gunicorn.conf.py").write_text(
        'logconfig_dict = {"formatters": {"json": {"()": "no_such_module.Formatter"}}}\n'
    )
    status, text = run_until_exit(
        "-c", "gunicorn.conf.py", "-b", "127.0.0.1:0", "validated:app", cwd=tmp_path
    )
    assert status == 1, text
    assert text.startswith("glade: error: setting 'logconfig_dict': Unable to configure")
    assert "no_such_module" in text
    assert "Traceback" not in text
