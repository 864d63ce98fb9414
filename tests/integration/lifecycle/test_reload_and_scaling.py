"""Reload, scaling, recycling and log reopening, under load: no request fails."""

from __future__ import annotations

import os
import shutil
import signal
import time
from pathlib import Path

import pytest
from support.load import Load
from support.server import wait_until

APP = "lifecycle_app:app"


def write_app(directory: Path, body: str, *, broken: bool = False) -> None:
    source = f"""
def app(environ, start_response):
    body = {body!r}.encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
"""
    if broken:
        source = "import a_module_that_does_not_exist\n" + source
    (directory / "reloadable.py").write_text(source)
    shutil.rmtree(directory / "__pycache__", ignore_errors=True)


def assert_no_failures(load: Load) -> None:
    assert load.counts["failed"] == 0, (load.counts, load.errors)
    assert load.counts["ok"] > 0


def test_sighup_reloads_the_app_with_no_failed_request(glade_server, tmp_path):
    write_app(tmp_path, "version one")
    server = glade_server("reloadable:app", "-w", "2", cwd=tmp_path)
    assert server.get() == (200, b"version one")
    old_workers = set(server.worker_pids())
    with Load(server.host, server.port, clients=4) as load:
        load.wait_for(100)
        write_app(tmp_path, "version two")
        server.signal(signal.SIGHUP)
        assert wait_until(lambda: "Reload complete" in server.output(), 15)
        assert wait_until(lambda: not old_workers & set(server.worker_pids()), 15)
        load.wait_for(load.counts["ok"] + 100)
    assert_no_failures(load)
    assert server.get() == (200, b"version two")
    output = server.output()
    # The new workers were ready before the old ones began to drain.
    assert output.index("Reload complete") < output.index("SERVING -> DRAINING")
    assert server.tracebacks() == 0


def test_sighup_with_a_broken_app_keeps_the_old_workers_serving(glade_server, tmp_path):
    write_app(tmp_path, "still here")
    server = glade_server("reloadable:app", "-w", "2", cwd=tmp_path)
    old_workers = set(server.worker_pids())
    write_app(tmp_path, "broken", broken=True)
    server.signal(signal.SIGHUP)
    assert wait_until(lambda: "Reload failed" in server.output(), 15), server.output()
    time.sleep(0.5)
    assert server.get() == (200, b"still here")
    assert old_workers <= set(server.worker_pids())
    assert server.proc.poll() is None
    assert "a_module_that_does_not_exist" in server.output()


def _edit_app(directory: Path, body: str, *, broken: bool = False) -> None:
    """Rewrite the app and move its modification time on, as an editor's save does."""
    write_app(directory, body, broken=broken)
    later = time.time() + 2
    os.utime(directory / "reloadable.py", (later, later))


def test_reload_serves_edited_code_and_survives_a_broken_edit(glade_server, tmp_path):
    write_app(tmp_path, "version one")
    server = glade_server("reloadable:app", "-w", "2", "--reload", cwd=tmp_path)
    assert server.get() == (200, b"version one")
    first = set(server.worker_pids())
    with Load(server.host, server.port, clients=4) as load:
        load.wait_for(50)
        _edit_app(tmp_path, "version two")
        assert wait_until(lambda: server.get() == (200, b"version two"), 15), server.output()
        # Both workers of version one are gone before the next edit: until
        # then they still serve, and the next test would see them.
        assert wait_until(lambda: not first & set(server.worker_pids()), 15), server.output()
        load.wait_for(load.counts["ok"] + 50)
    assert_no_failures(load)  # the new workers took over before the old ones left
    assert "reloadable.py changed (--reload)" in server.output()

    _edit_app(tmp_path, "broken", broken=True)
    assert wait_until(lambda: "The changed app did not load" in server.output(), 15)
    assert "a_module_that_does_not_exist" in server.output()
    assert server.get() == (200, b"version two")  # the previous code keeps serving

    _edit_app(tmp_path, "version three")
    assert wait_until(lambda: server.get() == (200, b"version three"), 20), server.output()
    assert server.proc.poll() is None
    assert server.tracebacks() == 0


def test_reload_extra_files_are_watched_too(glade_server, tmp_path):
    write_app(tmp_path, "same code")
    template = tmp_path / "page.html"
    template.write_text("<p>one</p>")
    server = glade_server(
        "reloadable:app", "--reload", "--reload-extra-file", str(template), cwd=tmp_path
    )
    first = server.worker_pids()
    later = time.time() + 2
    os.utime(template, (later, later))
    assert wait_until(lambda: "page.html changed (--reload)" in server.output(), 10)
    assert wait_until(lambda: server.worker_pids() and server.worker_pids() != first, 15)
    assert server.get() == (200, b"same code")


def test_ttin_and_ttou_scale_under_load(glade_server):
    server = glade_server(APP, "-w", "2")
    with Load(server.host, server.port, clients=4) as load:
        load.wait_for(100)
        server.signal(signal.SIGTTIN)
        assert wait_until(lambda: len(server.worker_pids()) == 3, 10)
        assert wait_until(lambda: server.output().count("Booted worker") == 3, 10)
        server.signal(signal.SIGTTOU)
        assert wait_until(lambda: "Worker" in server.output() and "exited" in server.output(), 15)
        assert wait_until(lambda: len(server.worker_pids()) == 2, 10)
        load.wait_for(load.counts["ok"] + 100)
    assert_no_failures(load)
    assert server.tracebacks() == 0


def test_max_requests_recycles_workers_with_no_failed_request(glade_server):
    server = glade_server(APP, "-w", "2", "--max-requests", "200", "--max-requests-jitter", "50")
    with Load(server.host, server.port, clients=4) as load:
        assert wait_until(lambda: server.output().count("Booted worker") >= 4, 30)
        load.wait_for(load.counts["ok"] + 50)
    assert_no_failures(load)
    assert "max_requests" in server.output()
    assert server.tracebacks() == 0


def test_sigusr1_reopens_a_moved_log_file(glade_server, tmp_path):
    log = tmp_path / "error.log"
    server = glade_server(APP, "-w", "1", "--error-logfile", str(log), wait_ready=False)
    assert wait_until(lambda: log.exists() and "BOOTING -> SERVING" in log.read_text(), 20)
    rotated = tmp_path / "error.log.1"
    os.rename(log, rotated)
    server.signal(signal.SIGUSR1)
    assert wait_until(log.exists, 5)
    server.signal(signal.SIGTERM)
    assert server.wait(timeout=10) == 0
    assert "SIGUSR1: reopening log files" in rotated.read_text()
    assert "master: DRAINING -> STOPPED" in log.read_text()


def test_sigwinch_drains_workers_and_sighup_brings_them_back(glade_server):
    server = glade_server(APP, "-w", "2")
    server.signal(signal.SIGWINCH)
    assert wait_until(lambda: server.worker_pids() == [], 10)
    with pytest.raises(OSError):
        server.get(timeout=0.5)  # the socket is kept: connects, but nobody answers
    server.signal(signal.SIGHUP)
    assert wait_until(lambda: len(server.worker_pids()) == 2, 10)
    assert wait_until(lambda: server.get()[0] == 200, 10)
    assert server.tracebacks() == 0
