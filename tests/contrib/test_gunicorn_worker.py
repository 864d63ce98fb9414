"""glade.contrib.gunicorn.GeventWorker under a real gunicorn master.

A person's session: start gunicorn, send requests, press Ctrl+C (on a real
pseudo-terminal) or send a signal, and look at what the clients got, the
exit status and the log. Every test also counts tracebacks in all output.
"""

import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

import glade

pytest.importorskip("gunicorn")
pytest.importorskip("gevent")

from gunicorn_support import APPS, Gunicorn, Load, closed_within, read_response
from support.server import read_slowly, read_until_close, small_receive_buffer, split_responses

KILLED = ("SIGKILL", "Perhaps out of memory", "WORKER TIMEOUT", "exited with code")


@pytest.fixture
def gunicorn():
    started = []

    def start(*args, **kwargs):
        server = Gunicorn(*args, **kwargs)
        started.append(server)
        return server

    yield start
    for server in started:
        server.kill()


def assert_clean(server):
    text = server.output()
    assert server.tracebacks() == 0, text
    for word in KILLED:
        assert word not in text, text


def idle_keep_alive(server):
    """A keep-alive connection that has had its response and now waits."""
    sock = server.send_request("/")
    response, body = read_response(sock)
    assert response.status == 200 and body == b"Hello, World!"
    assert response.getheader("Connection") is None  # kept alive
    return sock


def finish(sock):
    """The rest of a response whose request was sent earlier."""
    with sock:
        return read_response(sock)


def test_serves_through_gunicorn(gunicorn):
    server = gunicorn("--access-logfile", "-")
    response, body = server.get("/")
    assert (response.status, body) == (200, b"Hello, World!")
    assert response.getheader("Server").startswith("glade/")
    # gunicorn's rule for a trusted proxy (127.0.0.1 by default) still holds.
    response, body = server.get("/scheme", "X-Forwarded-Proto: https\r\n")
    assert body == b"https"
    server.wait_for_output(r'"GET /scheme HTTP/1.1" 200')  # gunicorn's access log format
    server.signal(signal.SIGTERM)
    assert server.wait(timeout=10) == 0
    assert_clean(server)


def test_an_ignored_upload_still_gets_its_response(gunicorn):
    """The app answers without reading an 8 MiB body: the worker closes with a
    lingering read, so the kernel does not reset the answer away."""
    import http.client

    server = gunicorn()
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        connection.request("POST", "/", body=b"x" * (8 * 1024 * 1024))
        response = connection.getresponse()
        assert (response.status, response.read()) == (200, b"Hello, World!")
        assert response.getheader("Connection") == "close"
    finally:
        connection.close()
    server.signal(signal.SIGTERM)
    assert server.wait(timeout=10) == 0
    assert_clean(server)


def test_one_ctrl_c_drains(gunicorn):
    server = gunicorn(tty=True, workers=2, graceful_timeout=5)
    idle = idle_keep_alive(server)
    in_flight = [server.send_request("/slow?s=1.5") for _ in range(2)]
    time.sleep(0.3)
    pressed = time.monotonic()
    server.ctrl_c()
    assert closed_within(idle, 1.0), "an idle keep-alive connection must close at once"
    for sock in in_flight:
        response, body = finish(sock)
        assert (response.status, body) == (200, b"slept 1.5")
        assert response.getheader("Connection") == "close"
    assert server.wait(timeout=5) == 0
    assert time.monotonic() - pressed < 3.0  # done when the work is done, not at the timeout
    text = server.output()
    assert "Handling signal: int" in text
    # Each worker says it in the words of Glade's own master, once.
    said = re.findall(
        r"worker \d+: Shutting down: draining (\d+) requests \(Ctrl\+C again to force\)", text
    )
    assert len(said) == 2, text
    assert "SERVING -> DRAINING (SIGINT)" in text
    assert_clean(server)


def test_second_ctrl_c_forces(gunicorn):
    server = gunicorn(tty=True, workers=2, graceful_timeout=10)
    stuck = server.send_request("/slow?s=30")
    time.sleep(0.3)
    server.ctrl_c()
    server.wait_for_output(r"draining: 1 in-flight")
    time.sleep(0.3)
    assert server.proc.poll() is None, "one Ctrl+C drains: the slow request is still served"
    pressed = time.monotonic()
    server.ctrl_c()
    assert server.wait(timeout=5) == 0
    assert time.monotonic() - pressed < 1.0
    text = server.output()
    assert re.search(r"worker \d+: Forced stop \(second SIGINT\)", text), text
    assert "forced stop; cut 1 in-flight requests" in text
    assert closed_within(stuck, 1.0)
    assert_clean(server)


def test_sigquit_stops_fast(gunicorn):
    server = gunicorn(workers=2, graceful_timeout=10)
    stuck = server.send_request("/slow?s=30")
    time.sleep(0.3)
    sent = time.monotonic()
    server.signal(signal.SIGQUIT)  # kill -QUIT <master>: reaches workers only as QUIT
    assert server.wait(timeout=5) == 0
    assert time.monotonic() - sent < 1.0
    assert "SERVING -> DRAINING (SIGQUIT)" in server.output()  # as Glade's worker says it
    assert "forced stop; cut 1 in-flight requests" in server.output()
    assert closed_within(stuck, 1.0)
    assert_clean(server)


def test_sigterm_drains(gunicorn):
    server = gunicorn(workers=1, graceful_timeout=5)
    idle = idle_keep_alive(server)
    in_flight = server.send_request("/slow?s=1")
    time.sleep(0.3)
    sent = time.monotonic()
    server.signal(signal.SIGTERM)
    assert closed_within(idle, 0.5), "an idle keep-alive connection must close at once"
    response, body = finish(in_flight)
    assert (response.status, body) == (200, b"slept 1.0")
    assert response.getheader("Connection") == "close"
    assert server.wait(timeout=5) == 0
    assert time.monotonic() - sent < 2.5
    assert "draining: 1 in-flight, 1 waiting for a request" in server.output()
    assert_clean(server)


def test_sigterm_cuts_before_graceful_timeout(gunicorn):
    server = gunicorn(workers=1, graceful_timeout=2)
    stuck = server.send_request("/slow?s=30")
    time.sleep(0.3)
    sent = time.monotonic()
    server.signal(signal.SIGTERM)
    assert server.wait(timeout=6) == 0
    elapsed = time.monotonic() - sent
    assert 1.2 < elapsed < 2.0, elapsed  # cut by the worker, before gunicorn's SIGKILL
    assert "graceful timeout; cut 1 in-flight requests (1 connections)" in server.output()
    assert closed_within(stuck, 1.0)
    assert_clean(server)


def test_hup_under_load_fails_no_request(gunicorn):
    server = gunicorn(workers=2, graceful_timeout=5)
    before = set(server.worker_pids())
    with Load(server.port) as load:
        time.sleep(0.7)
        server.signal(signal.SIGHUP)
        time.sleep(1.5)
        server.signal(signal.SIGHUP)
        time.sleep(1.5)
    assert load.failures == [], load.failures
    assert load.retried == 0  # no idle connection was closed under a request
    assert load.ok > 50
    server.wait_for_output(r"Hang up", count=2)
    assert not before & set(server.worker_pids()), "HUP replaces every worker"
    server.signal(signal.SIGTERM)
    assert server.wait(timeout=10) == 0
    assert_clean(server)


def test_max_requests_under_load_fails_no_request(gunicorn):
    server = gunicorn("--max-requests", "30", workers=2, graceful_timeout=5)
    with Load(server.port) as load:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and server.output().count("Autorestarting") < 4:
            time.sleep(0.1)
    assert load.failures == [], load.failures
    assert load.retried == 0
    assert server.output().count("Autorestarting worker after current request.") >= 4
    server.signal(signal.SIGTERM)
    assert server.wait(timeout=10) == 0
    assert_clean(server)


def test_hooks_and_worker_class_from_config_file(gunicorn):
    server = gunicorn("-c", str(APPS / "hooks.conf.py"), worker_class=None, tty=True, workers=2)
    server.wait_for_output(r"HOOK post_worker_init", count=2)
    assert "Using worker: glade.contrib.gunicorn.GeventWorker" in server.output()
    response, body = server.get("/pid")
    assert response.status == 200
    server.wait_for_output(rf"HOOK pre_request {body.decode()} GET /pid")
    server.wait_for_output(rf"HOOK post_request {body.decode()} /pid 200 OK")
    server.ctrl_c()
    assert server.wait(timeout=5) == 0
    text = server.output()
    pids = set(re.findall(r"HOOK post_worker_init (\d+)", text))
    assert len(pids) == 2
    for hook in ("worker_int", "worker_exit"):
        assert set(re.findall(rf"HOOK {hook} (\d+)", text)) == pids, text
    assert_clean(server)


def test_ctrl_c_while_a_sigterm_drain_runs_forces(gunicorn):
    server = gunicorn(tty=True, workers=1, graceful_timeout=10)
    stuck = server.send_request("/slow?s=30")
    time.sleep(0.3)
    server.signal(signal.SIGTERM)
    server.wait_for_output(r"draining: 1 in-flight")
    pressed = time.monotonic()
    server.ctrl_c()
    assert server.wait(timeout=5) == 0
    assert time.monotonic() - pressed < 1.0
    assert "forced stop; cut 1 in-flight requests" in server.output()
    stuck.close()
    assert_clean(server)


def test_busy_worker_keeps_beating_while_draining(gunicorn):
    # gunicorn's --timeout is a heartbeat: a drain longer than it must not be
    # taken for a stuck worker.
    server = gunicorn("--timeout", "1", workers=1, graceful_timeout=5)
    in_flight = server.send_request("/slow?s=2.5")
    time.sleep(0.3)
    server.signal(signal.SIGTERM)
    response, body = finish(in_flight)
    assert (response.status, body) == (200, b"slept 2.5")
    assert server.wait(timeout=5) == 0
    assert_clean(server)


def test_stuck_worker_logs_its_stack_and_is_replaced(gunicorn):
    # A request that never yields starves gevent's loop: the heartbeat stops,
    # gunicorn's master sends SIGABRT, and the worker says where it was stuck.
    server = gunicorn("--timeout", "2", workers=1)
    stuck = server.send_request("/spin?s=8")
    server.wait_for_output(r"Worker \(pid:\d+\) exited with code 1", timeout=15)
    server.wait_for_output(r"BOOTING -> SERVING", count=2)
    text = server.output()
    assert "WORKER TIMEOUT" in text
    assert "SIGABRT (heartbeat late); the running stack:" in text
    assert "in spin_until" in text
    assert "SIGKILL" not in text
    assert server.tracebacks() == 0
    stuck.close()
    response, body = server.get("/")
    assert (response.status, body) == (200, b"Hello, World!")


def test_tls(gunicorn, tmp_path):
    ssl = pytest.importorskip("ssl")
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("needs the openssl command to make a certificate")
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    command = [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"]
    command += ["-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert)]
    subprocess.run(
        command,
        check=True,
        capture_output=True,
        timeout=60,
    )
    server = gunicorn("--certfile", str(cert), "--keyfile", str(key))
    context = ssl.create_default_context(cafile=str(cert))
    context.check_hostname = False
    with context.wrap_socket(server.connect(), server_hostname="127.0.0.1") as sock:
        sock.sendall(b"GET /scheme HTTP/1.1\r\nHost: test\r\n\r\n")
        response, body = read_response(sock)
    assert (response.status, body) == (200, b"https")
    server.signal(signal.SIGTERM)
    assert server.wait(timeout=10) == 0
    assert_clean(server)


# -- the connection core, under gunicorn ------------------------------------------------

# tests/apps/core_app.py, the app of Glade's own connection tests.
CORE_APP = ("--pythonpath", str(APPS.parents[1] / "apps"))


def test_a_slow_but_steady_download_arrives_whole(gunicorn):
    size, rate = 8 * 2**20, 3_000_000
    server = gunicorn("--env", "GLADE_BODY_TIMEOUT=1", *CORE_APP, app="core_app:app")
    with small_receive_buffer() as sock:
        sock.connect(("127.0.0.1", server.port))
        sock.sendall(f"GET /big?{size} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        data, ended = read_slowly(sock, rate, limit=30)
    (response,) = split_responses(data)
    assert ended == "eof"
    assert len(response.body) == size
    assert "cut the response" not in server.output()
    assert_clean(server)


def test_a_reader_that_stops_is_cut_with_a_log_line(gunicorn):
    server = gunicorn("--env", "GLADE_BODY_TIMEOUT=1", *CORE_APP, app="core_app:app")
    with small_receive_buffer() as sock:
        sock.connect(("127.0.0.1", server.port))
        sock.sendall(f"GET /big?{256 * 2**20} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        server.wait_for_output(r"cut the response to .* it read nothing for 1 s", timeout=10)
    response, body = server.get("/")
    assert (response.status, body) == (200, b"Hello, World!")
    assert_clean(server)


def test_a_request_pipelined_behind_connection_close_never_resets_the_response(gunicorn):
    server = gunicorn(*CORE_APP, app="core_app:app")
    for _ in range(30):
        with server.connect() as sock:
            sock.sendall(b"GET /close?0.02 HTTP/1.1\r\nHost: x\r\n\r\n")
            time.sleep(0.005)
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            (response,) = split_responses(read_until_close(sock))
            assert len(response.body) == 32 * 1024
            assert response.header("Connection") == "close"
    assert_clean(server)


def test_glade_request_timeout_ends_a_slow_request(gunicorn):
    server = gunicorn("--env", "GLADE_REQUEST_TIMEOUT=1")
    started = time.monotonic()
    response, _ = server.get("/slow?s=20")
    assert response.status == 503
    assert time.monotonic() - started < 5
    server.wait_for_output(r"still running after 1 s \(--request-timeout\)", timeout=10)
    response, body = server.get("/")
    assert (response.status, body) == (200, b"Hello, World!")


def test_a_hot_path_that_cannot_run_compiled_is_one_warning_at_startup(gunicorn, tmp_path):
    """Under gunicorn, as under Glade's master: an install whose compiled
    modules cannot run (here one is missing) says so once, and serves."""
    shutil.copytree(Path(glade.__file__).parent, tmp_path / "glade")
    for extension in (tmp_path / "glade" / "http").glob("parser.*.so"):
        extension.unlink()
    server = gunicorn(env={"PYTHONPATH": str(tmp_path), "GLADE_NO_EXTENSIONS": ""})
    sock = server.send_request("/")
    response, body = finish(sock)
    assert response.status == 200 and body == b"Hello, World!"
    warnings = [line for line in server.output().splitlines() if "compiled extensions" in line]
    assert len(warnings) == 1, server.output()
    assert "[WARNING]" in warnings[0] and "not built" in warnings[0]
    assert_clean(server)
