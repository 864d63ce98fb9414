"""--request-timeout: a request that runs too long is ended with a 503 (or
cut, once its response has started), its stack is logged in one line, the
app's `finally` runs, and the same worker goes on serving."""

from __future__ import annotations

import http.client
import signal
import socket
import threading
import time

import pytest
from support.server import (
    APPS_DIR,
    TRACEBACK,
    GladeServer,
    free_port,
    http_get,
    read_until_close,
    split_responses,
    wait_until,
)

SOURCE = (APPS_DIR / "slow_app.py").read_text().splitlines()
TIMEOUT = 1.0
# The timeout, plus the gevent sweeper's interval, plus room for a busy machine.
ENDED_WITHIN = 2.5


@pytest.fixture(scope="module", params=["gevent", "sync"])
def server(request):
    with GladeServer(
        "slow_app:app", "-k", request.param, "--request-timeout", str(TIMEOUT), "--keep-alive", "1"
    ) as server:
        yield server


def line_of(text: str) -> int:
    (number,) = [i for i, line in enumerate(SOURCE, 1) if line.strip() == text]
    return number


def get(server, path: str, timeout: float = 10.0):
    connection = http.client.HTTPConnection(server.host, server.port, timeout=timeout)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response, response.read()
    finally:
        connection.close()


def worker_pid(server) -> int:
    response, body = get(server, "/pid")
    assert response.status == 200
    return int(body)


def problems(output: str) -> list[str]:
    return [line for line in output.splitlines() if "[ERROR]" in line or "[WARNING]" in line]


def finally_ran(marker) -> bool:
    return wait_until(lambda: marker.exists() and marker.read_text() == "finally ran", 5.0)


def test_a_request_past_the_timeout_gets_503_and_its_stack_is_logged(server, tmp_path):
    pid = worker_pid(server)
    marker = tmp_path / "finally"
    mark = server.output_size()
    started = time.monotonic()
    response, body = get(server, f"/sleep?seconds=20&marker={marker}")
    elapsed = time.monotonic() - started
    assert response.status == 503
    assert response.getheader("Connection") == "close"
    assert body == b"503 Service Unavailable\n"
    assert TIMEOUT <= elapsed < ENDED_WITHIN
    assert finally_ran(marker)
    output = server.wait_for_output("--request-timeout", since=mark)
    (logged,) = problems(output)
    assert "[ERROR] ended GET /sleep?seconds=20" in logged
    assert "from 127.0.0.1:" in logged
    assert "still running after 1 s (--request-timeout), 0 bytes of its response sent" in logged
    assert logged.endswith("answered 503; it was here:")
    # The stack follows on the next lines: the app's code, in to where it waited.
    stack = output[output.index(logged) + len(logged) :]
    calls = line_of("return _respond(start_response, slow_work(seconds, marker))")
    assert f'slow_app.py", line {calls}, in app' in stack
    assert f'slow_app.py", line {line_of("time.sleep(seconds)")}, in slow_work' in stack
    assert "connection.py" not in stack  # Glade's own frames, up to the app, are left out
    assert TRACEBACK not in server.output()
    assert worker_pid(server) == pid  # the same worker, on a new connection


def test_an_app_that_catches_exception_cannot_keep_the_request(server, tmp_path):
    marker = tmp_path / "finally"
    mark = server.output_size()
    started = time.monotonic()
    response, body = get(server, f"/swallow?seconds=20&marker={marker}")
    assert time.monotonic() - started < ENDED_WITHIN
    assert (response.status, body) == (503, b"503 Service Unavailable\n")
    assert finally_ran(marker)
    output = server.wait_for_output("--request-timeout", since=mark)
    assert len(problems(output)) == 1
    assert "GET /swallow?seconds=20" in output
    assert TRACEBACK not in server.output()


def test_a_started_response_that_stalls_is_cut_with_one_line(server, tmp_path):
    marker = tmp_path / "finally"
    mark = server.output_size()
    started = time.monotonic()
    with server.connect(timeout=10) as sock:
        sock.sendall(
            f"GET /stream?pieces=40&delay=0.5&marker={marker} HTTP/1.1\r\nHost: x\r\n\r\n".encode()
        )
        data = read_until_close(sock, timeout=10)
    assert time.monotonic() - started < ENDED_WITHIN
    assert data.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"Transfer-Encoding: chunked\r\n" in data
    assert b"piece 0\n" in data
    assert not data.endswith(b"0\r\n\r\n")  # no last chunk: the client sees it cut
    assert finally_ran(marker)
    output = server.wait_for_output("--request-timeout", since=mark)
    (logged,) = problems(output)
    assert "ended GET /stream?pieces=40" in logged
    assert f"{len(data)} bytes of its response sent; closed the connection" in logged
    stack = output[output.index(logged) + len(logged) :]
    assert f'slow_app.py", line {line_of("time.sleep(delay)")}, in slow_pieces' in stack
    assert TRACEBACK not in server.output()


def test_requests_under_the_timeout_are_unaffected(server):
    mark = server.output_size()
    connection = http.client.HTTPConnection(server.host, server.port, timeout=10)
    try:
        # Two requests of 0.6 s each: the limit is per request, not per connection.
        for _ in range(2):
            connection.request("GET", "/sleep?seconds=0.6")
            response = connection.getresponse()
            assert (response.status, response.read()) == (200, b"done")
        connection.request("GET", "/stream?pieces=3&delay=0.3")
        response = connection.getresponse()
        assert response.status == 200
        assert response.read() == b"piece 0\npiece 1\npiece 2\n"
    finally:
        connection.close()
    time.sleep(TIMEOUT)  # past the first request's deadline, had it been kept
    assert problems(server.output(since=mark)) == []


@pytest.mark.parametrize("kind", ["gevent", "sync"])
def test_the_timeout_applies_over_tls(glade_server, kind, tmp_path):
    """Under TLS the gevent worker keeps no socket deadlines of its own: the
    sweeper runs for the request timeout alone."""
    trustme = pytest.importorskip("trustme")  # a dev dependency
    import ssl

    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    cert.private_key_and_cert_chain_pem.write_to_path(tmp_path / "server.pem")
    server = glade_server(
        "slow_app:app",
        "-k",
        kind,
        "--request-timeout",
        str(TIMEOUT),
        "--certfile",
        str(tmp_path / "server.pem"),
        "--keyfile",
        str(tmp_path / "server.pem"),
    )
    context = ssl.create_default_context()
    ca.configure_trust(context)
    marker = tmp_path / "finally"
    started = time.monotonic()
    plain = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    with context.wrap_socket(plain, server_hostname="127.0.0.1") as sock:
        sock.sendall(f"GET /sleep?seconds=20&marker={marker} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        data = read_until_close(sock, timeout=10)
    assert time.monotonic() - started < ENDED_WITHIN
    (response,) = split_responses(data)
    assert response.status == 503
    assert finally_ran(marker)
    server.wait_for_output("--request-timeout")
    assert TRACEBACK not in server.output()


def test_an_ended_request_is_counted_as_cut_in_the_metrics(glade_server):
    parser = pytest.importorskip("prometheus_client.parser")
    port = free_port()
    server = glade_server(
        "slow_app:app", "--request-timeout", str(TIMEOUT), "--metrics-bind", f"127.0.0.1:{port}"
    )
    response, _ = get(server, "/sleep?seconds=20")
    assert response.status == 503

    def samples() -> dict:
        status, body = http_get("127.0.0.1", port, "/metrics", timeout=5)
        assert status == 200
        return {
            (sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in parser.text_string_to_metric_families(body.decode())
            for sample in family.samples
        }

    # Workers report their counts with each heartbeat.
    counted = wait_until(lambda: samples().get(("glade_requests_cut_total", ())), 10, 0.2)
    assert counted == 1
    assert samples()[("glade_requests_total", (("code", "503"), ("method", "GET")))] == 1


# -- the sync worker's one alarm: the drain's deadline and the request's -------


def hold(server, path: str) -> tuple[list, threading.Thread]:
    """GET `path` in a thread: [(status or "error", seconds)] once it ends."""
    results: list = []

    def run() -> None:
        started = time.monotonic()
        try:
            response, _ = get(server, path)
            results.append((response.status, time.monotonic() - started))
        except OSError:
            results.append(("error", time.monotonic() - started))

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return results, thread


def test_sync_a_drain_deadline_before_the_request_timeout_still_cuts(glade_server):
    server = glade_server(
        "slow_app:app", "-k", "sync", "--request-timeout", "5", "--graceful-timeout", "1"
    )
    results, thread = hold(server, "/sleep?seconds=20")
    time.sleep(0.5)
    server.signal(signal.SIGTERM)
    assert server.wait(timeout=10) == 0
    thread.join(5)
    assert results and results[0][0] == "error"  # cut by the drain, as without the setting
    assert results[0][1] < 3.0
    output = server.output()
    assert "graceful timeout; cut 1 in-flight request" in output
    assert "--request-timeout" not in output
    assert TRACEBACK not in output


def test_sync_a_request_timeout_during_a_drain_ends_the_request(glade_server):
    server = glade_server(
        "slow_app:app", "-k", "sync", "--request-timeout", "1.5", "--graceful-timeout", "20"
    )
    results, thread = hold(server, "/sleep?seconds=20")
    time.sleep(0.5)
    sent = time.monotonic()
    server.signal(signal.SIGTERM)
    assert server.wait(timeout=10) == 0
    assert time.monotonic() - sent < 3.0  # not the 20 s drain
    thread.join(5)
    assert results and results[0][0] == 503
    output = server.output()
    assert "still running after 1.5 s (--request-timeout)" in output
    assert "cut 1 in-flight request" not in output
    assert TRACEBACK not in output


# -- code that never yields ----------------------------------------------------


def test_gevent_a_request_that_never_yields_is_left_to_the_heartbeat(glade_server):
    """The sweeper cannot run while a greenlet holds the event loop: the
    heartbeat catches it, with its stack, as without the setting."""
    server = glade_server(
        "slow_app:app", "-k", "gevent", "--request-timeout", "1", "--timeout", "2"
    )
    stuck = server.worker_pids()
    response, _ = get(server, "/spin?seconds=60", timeout=15)
    assert response.status == 500
    output = server.wait_for_output("was stuck")
    assert f'slow_app.py", line {line_of("while time.monotonic() < until:")}, in spin' in output
    assert wait_until(lambda: server.worker_pids() not in ([], stuck), 10)
    assert worker_pid(server) not in stuck
    assert "--request-timeout" not in server.output()
    assert TRACEBACK not in server.output()


def test_sync_a_request_busy_in_python_code_is_ended_too(glade_server, tmp_path):
    """Under sync, SIGALRM's handler runs between two bytecodes: a loop in
    Python is ended like a wait."""
    server = glade_server("slow_app:app", "-k", "sync", "--request-timeout", "1")
    pid = worker_pid(server)
    marker = tmp_path / "finally"
    started = time.monotonic()
    response, _ = get(server, f"/spin?seconds=20&marker={marker}")
    assert time.monotonic() - started < ENDED_WITHIN
    assert response.status == 503
    assert finally_ran(marker)
    output = server.wait_for_output("--request-timeout")
    assert 'slow_app.py", line ' in output and ", in spin" in output
    assert worker_pid(server) == pid
    assert TRACEBACK not in server.output()
