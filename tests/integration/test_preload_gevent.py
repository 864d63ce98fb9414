"""--preload with the gevent worker: a zygote patches, imports the app once,
and forks the workers, which are the master's children and share the app."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
from support.server import GladeServer, http_get, run_until_exit, wait_until

APP = """\
import os
import socket
import warnings

with open(os.environ["IMPORT_LOG"], "a") as log:
    log.write(f"{os.getpid()}\\n")

VERSION = "one"


def app(environ, start_response):
    body = f"{os.getpid()} {os.getppid()} {socket.socket.__module__} {VERSION}".encode()
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [body]
"""


@pytest.fixture
def preloaded(tmp_path):
    (tmp_path / "counted.py").write_text(APP)
    imports = tmp_path / "imports.log"
    server = GladeServer(
        "counted:app",
        "-w",
        "3",
        "--preload",
        "--graceful-timeout",
        "5",
        cwd=tmp_path,
        env={"IMPORT_LOG": str(imports), "PYTHONWARNINGS": "always"},
    )
    with server:
        yield server, imports, tmp_path


def answers(server, count: int = 12) -> list[list[str]]:
    return [http_get(server.host, server.port, "/")[1].decode().split() for _ in range(count)]


def importers(imports: Path) -> list[int]:
    return [int(line) for line in imports.read_text().split()]


def test_the_app_is_imported_once_by_the_zygote_and_served_by_the_masters_children(preloaded):
    server, imports, _ = preloaded
    zygote = server.zygote_pid()
    assert zygote is not None
    assert importers(imports) == [zygote]
    workers = server.worker_pids()
    assert len(workers) == 3
    seen = set()
    for pid, parent, socket_module, _ in wait_until(lambda: answers(server), 5):
        assert int(pid) in workers
        assert int(parent) == server.pid  # re-parented: the master reaps them
        assert socket_module.startswith("gevent")  # patched before the app's import
        seen.add(int(pid))
    output = server.output()
    assert "MonkeyPatchWarning" not in output
    assert f"The zygote {zygote} has imported the app (--preload)" in output
    assert server.tracebacks() == 0


def test_a_killed_worker_is_forked_again_from_the_same_zygote(preloaded):
    server, imports, _ = preloaded
    victim = server.worker_pids()[0]
    os.kill(victim, signal.SIGKILL)
    replaced = wait_until(
        lambda: len(server.worker_pids()) == 3 and victim not in server.worker_pids(), 10
    )
    assert replaced, server.worker_pids()
    assert len(importers(imports)) == 1  # no new import
    assert all(int(parent) == server.pid for _, parent, _, _ in answers(server))


def test_a_reload_starts_a_new_zygote_with_the_new_code(preloaded):
    server, imports, app_dir = preloaded
    old_zygote = server.zygote_pid()
    old_workers = server.worker_pids()
    (app_dir / "counted.py").write_text(APP.replace('VERSION = "one"', 'VERSION = "two"'))
    mark = server.output_size()
    server.signal(signal.SIGHUP)
    server.wait_for_output("Reload complete", since=mark, timeout=30)
    new_zygote = wait_until(
        lambda: server.zygote_pid() not in (None, old_zygote) and server.zygote_pid(), 10
    )
    assert new_zygote, "no new zygote"
    assert importers(imports) == [old_zygote, new_zygote]
    assert wait_until(lambda: not Path(f"/proc/{old_zygote}").exists(), 10)
    # The old workers drain after "Reload complete"; until they have stopped
    # accepting, a new connection may still reach one of them.
    assert wait_until(lambda: not set(old_workers) & set(server.worker_pids()), 10)
    assert {version for _, _, _, version in answers(server)} == {"two"}
    assert server.tracebacks() == 0


def test_sigterm_stops_workers_and_zygote(preloaded):
    server, _, _ = preloaded
    zygote = server.zygote_pid()
    workers = server.worker_pids()
    server.signal(signal.SIGTERM)
    assert server.wait(timeout=15) == 0
    time.sleep(0.1)
    for pid in (zygote, *workers):
        assert not Path(f"/proc/{pid}").exists() or b"Z" in Path(f"/proc/{pid}/stat").read_bytes()
    assert server.tracebacks() == 0


def test_an_app_that_cannot_load_stops_the_server_with_one_line(tmp_path):
    (tmp_path / "broken.py").write_text("import json\n\nSETTINGS = json.loads('{')\n")
    status, text = run_until_exit("--preload", "-b", "127.0.0.1:0", "broken:app", cwd=tmp_path)
    assert status == 1, text
    assert "--preload: the app failed to load: JSONDecodeError: " in text
    assert "(at broken.py:3)" in text
    assert "Booted worker" not in text
    assert "Traceback" not in text
