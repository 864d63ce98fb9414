"""Server hooks in a real server: a config file whose hooks append one JSON
line each to a file; the test reads what was called, in which process, and
with which `server` and `worker` attributes."""

from __future__ import annotations

import json
import os
import signal
import textwrap

import requests
from support.server import TRACEBACK, wait_until

RECORDING_HOOKS = """
import json
import os

HOOK_LOG = os.environ["HOOK_LOG"]


def record(name, server=None, worker=None, **extra):
    entry = {"hook": name, "pid": os.getpid(), **extra}
    if server is not None:
        entry["server"] = {
            "pid": server.pid,
            "num_workers": server.num_workers,
            "cfg_workers": server.cfg.workers,
        }
    if worker is not None:
        entry["worker"] = {
            "pid": worker.pid,
            "age": worker.age,
            "alive": worker.alive,
            "cfg_workers": worker.cfg.workers,
        }
    fd = os.open(HOOK_LOG, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    try:
        os.write(fd, (json.dumps(entry) + "\\n").encode())
    finally:
        os.close(fd)


def on_starting(server):
    record("on_starting", server)
    server.log.info("hook: on_starting says hello")


def when_ready(server):
    record("when_ready", server)


def pre_fork(server, worker):
    record("pre_fork", server, worker)


def post_fork(server, worker):
    record("post_fork", server, worker)
    worker.log.info("hook: post_fork in %s", worker.pid)


def post_worker_init(worker):
    record("post_worker_init", worker=worker)


def nworkers_changed(server, new_value, old_value):
    record("nworkers_changed", server, new=new_value, old=old_value)


def worker_exit(server, worker):
    record("worker_exit", server, worker)


def child_exit(server, worker):
    record("child_exit", server, worker)


def on_exit(server):
    record("on_exit", server)
"""


def read_entries(path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


def named(entries, hook: str) -> list[dict]:
    return [entry for entry in entries if entry["hook"] == hook]


def test_hooks_are_called_with_gunicorns_arguments(glade_server, tmp_path):
    config = tmp_path / "gunicorn.conf.py"
    config.write_text(RECORDING_HOOKS)
    log = tmp_path / "hooks.jsonl"
    server = glade_server("validated:app", "-c", str(config), "-w", "2", env={"HOOK_LOG": str(log)})
    assert requests.get(server.url, timeout=10).status_code == 200

    server.signal(signal.SIGTTIN)
    assert wait_until(lambda: len(named(read_entries(log), "post_worker_init")) == 3, 15)
    server.signal(signal.SIGTERM)
    assert server.wait(timeout=20) == 0

    entries = read_entries(log)
    master = server.pid
    assert entries[0]["hook"] == "on_starting"
    assert entries[0]["pid"] == master
    assert entries[0]["server"] == {"pid": master, "num_workers": 2, "cfg_workers": 2}
    assert entries[1]["hook"] == "when_ready"
    assert entries[-1]["hook"] == "on_exit"
    assert entries[-1]["pid"] == master

    pre_fork = named(entries, "pre_fork")
    assert [e["worker"]["age"] for e in pre_fork] == [1, 2, 3]
    assert {e["pid"] for e in pre_fork} == {master}

    post_fork = named(entries, "post_fork")
    worker_pids = {e["worker"]["pid"] for e in post_fork}
    assert len(worker_pids) == 3 and master not in worker_pids
    assert all(e["pid"] == e["worker"]["pid"] for e in post_fork)  # runs in the worker
    assert all(e["server"]["pid"] == master for e in post_fork)

    post_worker_init = named(entries, "post_worker_init")
    assert {e["pid"] for e in post_worker_init} == worker_pids
    assert all(e["worker"]["alive"] and e["worker"]["cfg_workers"] == 2 for e in post_worker_init)

    assert named(entries, "nworkers_changed") == [
        {
            "hook": "nworkers_changed",
            "pid": master,
            "new": 3,
            "old": 2,
            "server": {"pid": master, "num_workers": 3, "cfg_workers": 2},
        }
    ]

    worker_exit = named(entries, "worker_exit")
    assert {e["pid"] for e in worker_exit} == worker_pids
    child_exit = named(entries, "child_exit")
    assert {e["pid"] for e in child_exit} == {master}
    assert {e["worker"]["pid"] for e in child_exit} == worker_pids

    output = server.output()
    assert output.count("hook: on_starting says hello") == 1
    assert output.count("hook: post_fork in") == 3
    assert TRACEBACK not in output


def test_a_failing_hook_is_logged_and_the_server_goes_on(glade_server, tmp_path):
    config = tmp_path / "failing.conf.py"
    config.write_text(
        textwrap.dedent(
            """
            def post_fork(server, worker):
                raise RuntimeError("cannot reach the metrics daemon")


            def post_worker_init(worker):
                {}["missing"]
            """
        )
    )
    server = glade_server("validated:app", "-c", str(config), "-w", "2")
    response = requests.get(server.url, timeout=10)
    assert (response.status_code, response.text) == (200, "Hello, World!")
    output = server.output()
    failed = [line for line in output.splitlines() if "hook failed" in line]
    assert len(failed) == 4, output  # two hooks, two workers
    assert sum(f"The post_fork hook failed at {config}:3:" in line for line in failed) == 2
    assert sum(f"The post_worker_init hook failed at {config}:7:" in line for line in failed) == 2
    assert output.count("RuntimeError: cannot reach the metrics daemon") == 2
    server.signal(signal.SIGTERM)
    assert server.wait(timeout=20) == 0


def test_a_failing_startup_hook_stops_startup_with_one_clear_line(glade_server, tmp_path):
    for hook in ("on_starting", "when_ready"):
        config = tmp_path / f"{hook}.conf.py"
        config.write_text(f"def {hook}(server):\n    raise RuntimeError('no database')\n")
        server = glade_server("validated:app", "-c", str(config), wait_ready=False)
        assert server.wait(timeout=20) == 1
        output = server.output()
        lines = [line for line in output.splitlines() if f"the {hook} hook failed" in line]
        assert len(lines) == 1, output
        assert lines[0].endswith(f"at {config}:2: RuntimeError: no database")
        assert TRACEBACK not in output
        assert "Booted worker" not in output


def test_gunicorns_example_config_runs_with_its_hooks(glade_server):
    """gunicorn's own example_config.py (tests/configs/gunicorn_example.py),
    unchanged: its when_ready and post_fork hooks log through server.log."""
    from support.server import TESTS_DIR

    server = glade_server("validated:app", "-c", str(TESTS_DIR / "configs" / "gunicorn_example.py"))
    assert requests.get(server.url, timeout=10).text == "Hello, World!"
    output = server.output()
    assert output.count("Server is ready. Spawning workers") == 1
    assert output.count("Worker spawned (pid: ") == 2
    assert "glade: warning" not in output
    assert "Using worker: sync" in output
    server.signal(signal.SIGTERM)
    assert server.wait(timeout=20) == 0
    assert server.tracebacks() == 0


def test_sighup_reads_the_config_file_again_and_calls_on_reload(glade_server, tmp_path):
    log = tmp_path / "hooks.jsonl"
    config = tmp_path / "glade.conf.py"
    hooks = RECORDING_HOOKS + "\n\ndef on_reload(server):\n    record('on_reload', server)\n"
    config.write_text(f"workers = 1\n{hooks}")
    server = glade_server("validated:app", "-c", str(config), env={"HOOK_LOG": str(log)})
    assert len(server.worker_pids()) == 1

    config.write_text(f"workers = 2\n{hooks}")
    server.signal(signal.SIGHUP)
    assert wait_until(lambda: named(read_entries(log), "on_reload"), 10)
    assert wait_until(lambda: len(server.worker_pids()) == 2, 15)
    # Two workers may be one old and one new: the next HUP must come after
    # the reload is over, or it is ignored.
    server.wait_for_output("Reload complete", timeout=15)
    (reload,) = named(read_entries(log), "on_reload")
    assert reload["pid"] == server.pid and reload["server"]["cfg_workers"] == 2

    config.write_text("workers = -3\n")  # a mistake: the running config stays
    server.signal(signal.SIGHUP)
    server.wait_for_output("setting 'workers' (from ")
    assert "is -3; expected an integer >= 1" in server.output()
    assert requests.get(server.url, timeout=10).text == "Hello, World!"
    assert len(server.worker_pids()) == 2
    server.signal(signal.SIGTERM)
    assert server.wait(timeout=20) == 0
    assert server.tracebacks() == 0


def test_worker_int_runs_in_the_worker_told_to_stop_at_once(glade_server, tmp_path):
    log = tmp_path / "hooks.jsonl"
    config = tmp_path / "glade.conf.py"
    config.write_text(
        RECORDING_HOOKS + "\n\ndef worker_int(worker):\n    record('worker_int', worker=worker)\n"
    )
    server = glade_server("validated:app", "-c", str(config), env={"HOOK_LOG": str(log)})
    (worker,) = server.worker_pids()
    os.kill(worker, signal.SIGQUIT)  # what the master sends on a fast stop
    assert wait_until(lambda: named(read_entries(log), "worker_int"), 10)
    (entry,) = named(read_entries(log), "worker_int")
    assert entry["pid"] == entry["worker"]["pid"] == worker
