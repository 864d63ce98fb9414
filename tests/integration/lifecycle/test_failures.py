"""When things go wrong: crashes, apps that cannot boot, stuck workers, a dead master."""

from __future__ import annotations

import http.client
import os
import shutil
import signal
import time

import pytest
from support.load import hold_requests, join_all
from support.server import TRACEBACK, children_of, run_until_exit, wait_until

APP = "lifecycle_app:app"


def test_a_crashed_worker_is_replaced(glade_server):
    server = glade_server(APP, "-w", "1")
    first = server.worker_pids()
    try:
        server.get("/crash", timeout=5)
    except (http.client.HTTPException, OSError):
        pass  # the worker died mid-request, as the app asked
    assert wait_until(lambda: server.worker_pids() not in ([], first), 10)
    assert wait_until(lambda: server.get()[0] == 200, 10)
    assert "died unexpectedly (exit status 13)" in server.output()
    assert server.tracebacks() == 0


def test_a_worker_that_cannot_boot_stops_the_server_once(tmp_path):
    (tmp_path / "broken.py").write_text("import a_module_that_does_not_exist\napp = None\n")
    status, text = run_until_exit("-w", "3", "-b", "127.0.0.1:0", "broken:app", cwd=tmp_path)
    assert status != 0
    assert "No module named 'a_module_that_does_not_exist'" in text
    assert text.count("A worker could not boot; stopping") == 1
    assert text.count("Booted worker") == 0


def test_an_app_that_fails_inside_a_library_is_named_at_its_own_line(tmp_path):
    """The error line points at the app's file, not at the library that raised."""
    (tmp_path / "bad_settings.py").write_text('import json\n\nSETTINGS = json.loads("{")\n')
    status, text = run_until_exit("-b", "127.0.0.1:0", "bad_settings:app", cwd=tmp_path)
    assert status == 1, text
    assert "the app failed to load: JSONDecodeError: " in text
    assert "(at bad_settings.py:3)" in text
    assert text.count(TRACEBACK) == 0, text


HANGING_APP = """
import time

def app(environ, start_response):
    start_response("200 OK", [("Content-Length", "2")])
    return [b"ok"]

if {hang!r} == "sleep":
    time.sleep(3600)  # a cooperative wait under gevent: the hub keeps running
elif {hang!r} == "spin":
    while True:  # pure CPU: nothing else runs
        pass
"""


def write_hanging_app(directory, hang: str) -> None:
    (directory / "hanging.py").write_text(HANGING_APP.format(hang=hang))
    shutil.rmtree(directory / "__pycache__", ignore_errors=True)


@pytest.mark.parametrize(
    ("worker_class", "hang", "line"),
    [
        ("gevent", "sleep", "time.sleep(3600)"),
        ("gevent", "spin", "while True:"),
        ("sync", "sleep", "time.sleep(3600)"),
    ],
)
def test_an_app_whose_import_hangs_stops_the_server_and_says_where(
    tmp_path, worker_class, hang, line
):
    write_hanging_app(tmp_path, hang)
    (tmp_path / "hooks.py").write_text(
        "import sys\n"
        "def worker_abort(worker):\n    print('worker_abort ran', file=sys.stderr)\n"
        "def worker_exit(server, worker):\n    print('worker_exit ran', file=sys.stderr)\n"
    )
    started = time.monotonic()
    status, text = run_until_exit(
        *("-k", worker_class, "--timeout", "2", "-c", "hooks.py"),
        *("-w", "2", "-b", "127.0.0.1:0", "hanging:app"),
        cwd=tmp_path,
    )
    assert status == 1, text
    assert time.monotonic() - started < 10
    assert "has not finished booting in 2." in text
    assert "did not finish booting within 2 s (--timeout)" in text
    assert 'hanging.py", line' in text and line in text  # where the import hangs
    assert "the app did not finish loading within 2 s (--timeout) (at hanging.py:" in text
    assert text.count("A worker could not boot; stopping") == 1
    # The master acts on a boot error once that worker has exited, hooks run.
    assert "worker_abort ran" in text and "worker_exit ran" in text
    assert text.count(TRACEBACK) == 0, text


def test_a_reload_whose_app_hangs_keeps_the_old_workers_serving(glade_server, tmp_path):
    write_hanging_app(tmp_path, "no")
    server = glade_server("hanging:app", "-w", "2", "--timeout", "3", cwd=tmp_path)
    write_hanging_app(tmp_path, "sleep")
    server.signal(signal.SIGHUP)
    assert wait_until(lambda: "Reload failed" in server.output(), 20), server.output()
    assert server.get() == (200, b"ok")
    assert wait_until(lambda: len(server.worker_pids()) == 2, 10)
    assert server.proc.poll() is None
    output = server.output()
    assert "did not finish booting within 3 s" in output
    assert "Reload complete" not in output
    assert output.count(TRACEBACK) == 0, output


def test_a_stuck_worker_is_aborted_with_the_blocking_stack(glade_server):
    server = glade_server(APP, "-w", "1", "--timeout", "2")
    stuck_worker = server.worker_pids()
    # Three connections at once, then closed: the greenlets that served them
    # wait for new connections when the worker gets stuck.
    connections = [http.client.HTTPConnection(server.host, server.port, timeout=5) for _ in "123"]
    for connection in connections:
        connection.request("GET", "/pid")
    for connection in connections:
        assert connection.getresponse().status == 200
        connection.close()
    time.sleep(0.3)
    started = time.monotonic()
    results, threads = hold_requests(server.host, server.port, "/spin?60", 1)
    join_all(threads, 15)
    assert time.monotonic() - started < 8
    assert results[0][0] == 500, results
    assert wait_until(lambda: server.worker_pids() not in ([], stuck_worker), 10)
    assert wait_until(lambda: server.get()[0] == 200, 10)
    output = server.output()
    assert "WORKER TIMEOUT" in output
    assert 'lifecycle_app.py", line' in output  # where the app was stuck
    assert "while time.monotonic() < end" in output
    assert output.count(TRACEBACK) == 0, output
    # The other greenlets' stacks leave out the idle ones: all alike, in no one's way.
    others = output.partition("the other greenlets:")[2].partition("\n[")[0]
    assert "greenlet" in others, output
    assert "_serve_many" not in others, output


def test_a_worker_stuck_inside_c_code_is_killed_and_the_log_says_so(glade_server):
    server = glade_server(APP, "-w", "1", "--timeout", "2", "--block-warn-ms", "0")
    stuck_worker = server.worker_pids()
    results, threads = hold_requests(server.host, server.port, "/c-loop", 1)
    join_all(threads, 15)
    assert results[0][0] == "error"  # the worker died without a word to the client
    assert wait_until(lambda: server.worker_pids() not in ([], stuck_worker), 10)
    assert wait_until(lambda: server.get()[0] == 200, 10)
    output = server.output()
    assert "did not answer SIGABRT (blocked inside C code?)" in output
    assert output.count(TRACEBACK) == 0, output


def test_a_greenlet_blocking_the_loop_is_reported_once_with_its_stack(glade_server):
    server = glade_server(APP, "-w", "1", "--block-warn-ms", "200")
    assert server.get("/spin?0.6") == (200, b"spun")
    assert wait_until(lambda: "blocked the event loop" in server.output(), 5)
    time.sleep(0.3)
    output = server.output()
    assert output.count("blocked the event loop") == 1
    assert "while time.monotonic() < end" in output


def test_workers_leave_when_the_master_is_killed(glade_server):
    server = glade_server(APP, "-w", "2")
    workers = server.worker_pids()
    assert len(workers) == 2
    killed = time.monotonic()
    os.kill(server.pid, signal.SIGKILL)
    server.wait(timeout=5)

    def all_gone() -> bool:
        return not any(os.path.exists(f"/proc/{pid}") and _not_zombie(pid) for pid in workers)

    assert wait_until(all_gone, 5)
    assert time.monotonic() - killed < 1.5
    assert children_of(server.pid) == []


def _not_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as file:
            return file.read().split(") ")[1][0] != "Z"
    except OSError:
        return False
