"""user, group and umask: workers run as another user, the master stays root.

These switch identities for real, so they need a master started as root.
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import signal
import socket
import stat
import tempfile

import pytest
from support.server import TRACEBACK, http_get, read_until_close, split_responses, wait_until

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="switching users needs root")

# The app imports nothing the master has not loaded already: after the
# switch, the worker may not be able to read the Python installation.
IDS_APP = """
import os


def app(environ, start_response):
    body = f"{os.getuid()} {os.getgid()} {sorted(os.getgroups())}".encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
"""


@pytest.fixture
def app_dir():
    """A directory every user can read, holding ids_app.py."""
    directory = tempfile.mkdtemp(prefix="glade-ids-")
    os.chmod(directory, 0o755)
    path = os.path.join(directory, "ids_app.py")
    with open(path, "w") as file:
        file.write(IDS_APP)
    os.chmod(path, 0o644)
    yield directory
    shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def nobody():
    try:
        return pwd.getpwnam("nobody")
    except KeyError:
        pytest.skip("this machine has no user named nobody")


def ids_of(server) -> str:
    status, body = server.get("/")
    assert status == 200, body
    return body.decode()


def owner_of(pid: int) -> tuple[int, int]:
    """(real uid, real gid) of a process, from /proc."""
    fields = {}
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            key, _, value = line.partition(":")
            fields[key] = value.split()
    return int(fields["Uid"][0]), int(fields["Gid"][0])


def test_workers_run_as_the_user_and_its_group(glade_server, worker_class, app_dir, nobody):
    server = glade_server("ids_app:app", "-k", worker_class, "-w", "2", "-u", "nobody", cwd=app_dir)
    assert ids_of(server) == f"{nobody.pw_uid} {nobody.pw_gid} []"
    for pid in server.worker_pids():
        assert owner_of(pid) == (nobody.pw_uid, nobody.pw_gid)
    assert owner_of(server.pid) == (0, 0)  # the master keeps root, to fork the next ones
    assert server.tracebacks() == 0


def test_group_alone_and_initgroups(glade_server, app_dir, nobody):
    server = glade_server("ids_app:app", "-g", str(nobody.pw_gid), cwd=app_dir)
    assert ids_of(server) == f"0 {nobody.pw_gid} []"  # root's other groups are dropped
    server.stop()
    server = glade_server(
        "ids_app:app", "-u", "nobody", "-g", str(nobody.pw_gid), "--initgroups", cwd=app_dir
    )
    uid, gid, groups = ids_of(server).split(" ", 2)
    assert (int(uid), int(gid)) == (nobody.pw_uid, nobody.pw_gid)
    assert str(nobody.pw_gid) in groups  # initgroups: the user's groups, with its own


def test_a_unix_socket_gets_the_umask_and_the_workers_user(glade_server, app_dir, nobody):
    # A short directory: AF_UNIX paths are limited to about 100 bytes.
    with tempfile.TemporaryDirectory(prefix="glade-") as directory:
        path = os.path.join(directory, "glade.sock")
        server = glade_server(
            "ids_app:app",
            *("-u", "nobody", "--umask", "0o007"),
            bind=f"unix:{path}",
            cwd=app_dir,
        )
        info = os.stat(path)
        assert stat.S_ISSOCK(info.st_mode)
        assert stat.S_IMODE(info.st_mode) == 0o770
        assert (info.st_uid, info.st_gid) == (nobody.pw_uid, nobody.pw_gid)
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(5)
            sock.connect(path)
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            (response,) = split_responses(read_until_close(sock, timeout=5))
        assert response.status == 200
        assert response.body.decode().startswith(f"{nobody.pw_uid} ")
        assert server.stop() == 0


def test_by_default_a_unix_socket_is_open_to_every_local_user(glade_server, app_dir):
    """umask 0, as in gunicorn: nginx, running as its own user, can connect."""
    with tempfile.TemporaryDirectory(prefix="glade-") as directory:
        path = os.path.join(directory, "glade.sock")
        server = glade_server("ids_app:app", bind=f"unix:{path}", cwd=app_dir)
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o777
        assert server.stop() == 0


def test_a_worker_that_may_not_reopen_the_log_keeps_the_old_file(glade_server, app_dir, nobody):
    """USR1 after a rotation: the master (root) reopens; a worker running as
    nobody cannot create a file in root's log directory, says so, and carries on."""
    log_dir = tempfile.mkdtemp(prefix="glade-logs-")
    os.chmod(log_dir, 0o755)
    try:
        log = os.path.join(log_dir, "error.log")
        server = glade_server(
            "ids_app:app", "-u", "nobody", "--error-logfile", log, cwd=app_dir, wait_ready=False
        )
        assert wait_until(lambda: "BOOTING -> SERVING" in _read(log), 20)
        os.rename(log, log + ".1")
        server.signal(signal.SIGUSR1)
        assert wait_until(lambda: "still writing to the previous file" in _read(log + ".1"), 5)
        port = re.search(r"Listening at: http://127\.0\.0\.1:(\d+)", _read(log + ".1")).group(1)
        assert http_get("127.0.0.1", int(port))[0] == 200  # the worker still serves
        assert server.stop() == 0
        old, new = _read(log + ".1"), _read(log)
        assert "cannot reopen " + log in old
        assert "SIGUSR1: reopening log files" in old
        assert "master: DRAINING -> STOPPED" in new
        assert TRACEBACK not in old + new
        assert server.tracebacks() == 0  # nor on the processes' own stderr
    finally:
        shutil.rmtree(log_dir, ignore_errors=True)


def _read(path: str) -> str:
    try:
        with open(path) as file:
            return file.read()
    except FileNotFoundError:
        return ""
