"""Binary upgrade (USR2), the shutdown delay, sd_notify and socket activation."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from support.load import Load
from support.server import APPS_DIR, children_of, http_get, kill_group, wait_until

APP = "lifecycle_app:app"


def read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def test_sigusr2_upgrades_the_master_with_no_failed_request(glade_server, tmp_path):
    pidfile = tmp_path / "glade.pid"
    server = glade_server(APP, "-w", "2", "--pid", str(pidfile))
    old_master = server.pid
    assert read_pid(pidfile) == old_master
    new_master = None
    try:
        with Load(server.host, server.port, clients=4) as load:
            load.wait_for(100)
            server.signal(signal.SIGUSR2)
            new_pidfile = Path(f"{pidfile}.2")
            assert wait_until(lambda: read_pid(new_pidfile) is not None, 15), server.output()
            new_master = read_pid(new_pidfile)
            assert read_pid(Path(f"{pidfile}.oldbin")) == old_master
            assert wait_until(lambda: server.output().count("BOOTING -> SERVING (2") == 2, 20)
            load.wait_for(load.counts["ok"] + 100)
            server.signal(signal.SIGTERM)  # the old master leaves; the new one serves on
            assert server.wait(timeout=15) == 0
            assert wait_until(lambda: read_pid(pidfile) == new_master, 10)
            load.wait_for(load.counts["ok"] + 100)
        assert load.counts["failed"] == 0, (load.counts, load.errors)
        assert load.counts["refused"] == 0
        assert len(children_of(new_master)) == 2
        assert server.get()[0] == 200
    finally:
        if new_master:
            os.kill(new_master, signal.SIGTERM)
            wait_until(lambda: not os.path.exists(f"/proc/{new_master}"), 10)
    assert server.tracebacks() == 0


def test_shutdown_delay_keeps_serving_before_the_drain(glade_server):
    server = glade_server(APP, "-w", "1", "--shutdown-delay", "1.5")
    sent = time.monotonic()
    server.signal(signal.SIGTERM)
    time.sleep(0.5)
    assert server.get() == (200, b"Hello, World!")  # still serving
    assert server.wait(timeout=10) == 0
    assert time.monotonic() - sent > 1.4
    assert "shutdown_delay" in server.output()
    assert server.tracebacks() == 0


def test_ctrl_c_skips_the_shutdown_delay(glade_server):
    server = glade_server(APP, "-w", "1", "--shutdown-delay", "30")
    sent = time.monotonic()
    server.signal(signal.SIGINT)
    assert server.wait(timeout=10) == 0
    assert time.monotonic() - sent < 1.0


def test_sd_notify_reports_ready_reloading_and_stopping(glade_server, tmp_path):
    address = str(tmp_path / "notify.sock")
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(address)
    notify.settimeout(15)
    try:
        server = glade_server(APP, "-w", "1", env={"NOTIFY_SOCKET": address})

        def next_message() -> str:
            return notify.recv(4096).decode()

        assert "READY=1" in next_message()
        server.signal(signal.SIGHUP)
        assert "RELOADING=1" in next_message()
        assert "READY=1" in next_message()
        server.signal(signal.SIGTERM)
        assert "STOPPING=1" in next_message()
        assert server.wait(timeout=10) == 0
    finally:
        notify.close()


def test_socket_activation_with_listen_fds(tmp_path):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    port = listener.getsockname()[1]
    log = tmp_path / "glade.log"
    launcher = (
        "import os, sys\n"
        f"os.dup2({listener.fileno()}, 3)\n"
        "os.environ['LISTEN_FDS'] = '1'\n"
        "os.environ['LISTEN_PID'] = str(os.getpid())\n"
        f"os.execv(sys.executable, [sys.executable, '-m', 'glade', '-w', '1', {APP!r}])\n"
    )
    with open(log, "wb") as output:
        proc = subprocess.Popen(
            [sys.executable, "-c", launcher],
            cwd=APPS_DIR,
            stdout=output,
            stderr=subprocess.STDOUT,
            pass_fds=(listener.fileno(),),
            start_new_session=True,
        )
    listener.close()  # only glade holds the socket now
    try:
        assert wait_until(lambda: "BOOTING -> SERVING" in log.read_text(), 20), log.read_text()
        assert http_get("127.0.0.1", port) == (200, b"Hello, World!")
        assert "inherited listening sockets" in log.read_text()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        kill_group(proc.pid)
        proc.wait(timeout=5)
