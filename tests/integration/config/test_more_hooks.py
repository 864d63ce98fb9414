"""The hooks that fire around requests and on the rarer signals, in a real server:
pre_request/post_request, worker_abort (a stuck worker), worker_exit after the
graceful timeout cut a request, and pre_exec (USR2)."""

from __future__ import annotations

import http.client
import json
import os
import signal
import time

from support.server import TRACEBACK, wait_until

HOOKS = """
import json
import os

def record(name, **fields):
    fd = os.open(os.environ["HOOK_LOG"], os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    try:
        os.write(fd, (json.dumps({"hook": name, "pid": os.getpid(), **fields}) + "\\n").encode())
    finally:
        os.close(fd)

def pre_request(worker, req):
    record("pre_request", method=req.method, path=req.path, query=req.query,
           host=dict(req.headers).get("HOST"), worker=worker.pid)

def post_request(worker, req, environ, resp):
    record("post_request", path=req.path, status=resp.status, code=resp.status_code,
           script=environ["SCRIPT_NAME"], worker=worker.pid)

def worker_abort(worker):
    record("worker_abort", worker=worker.pid)

def worker_exit(server, worker):
    record("worker_exit", worker=worker.pid)

def pre_exec(server):
    record("pre_exec", master=server.pid)
"""


def entries(path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


def named(path, hook: str) -> list[dict]:
    return [entry for entry in entries(path) if entry["hook"] == hook]


def start(glade_server, tmp_path, *args):
    config = tmp_path / "hooks.conf.py"
    config.write_text(HOOKS)
    log = tmp_path / "hooks.jsonl"
    server = glade_server("lifecycle_app:app", "-c", str(config), *args, env={"HOOK_LOG": str(log)})
    return server, log


def test_pre_and_post_request_hooks_see_each_request(glade_server, tmp_path):
    server, log = start(glade_server, tmp_path, "-w", "1")
    assert server.get("/pid?x=1")[0] == 200
    worker = server.worker_pids()[0]
    assert named(log, "pre_request") == [
        {
            "hook": "pre_request",
            "pid": worker,
            "method": "GET",
            "path": "/pid",
            "query": "x=1",
            "host": f"{server.host}:{server.port}",
            "worker": worker,
        }
    ]
    # post_request runs after the response went out: it may come a moment later.
    assert wait_until(lambda: named(log, "post_request"), 5)
    assert named(log, "post_request") == [
        {
            "hook": "post_request",
            "pid": worker,
            "path": "/pid",
            "status": "200 OK",
            "code": 200,
            "script": "",
            "worker": worker,
        }
    ]


def test_worker_abort_runs_when_a_stuck_worker_is_aborted(glade_server, tmp_path):
    server, log = start(glade_server, tmp_path, "-w", "1", "--timeout", "2")
    stuck = server.worker_pids()[0]
    assert server.get("/spin?30", timeout=15)[0] == 500
    assert wait_until(lambda: named(log, "worker_abort"), 10)
    assert named(log, "worker_abort")[0]["worker"] == stuck
    assert server.tracebacks() == 0


def test_worker_exit_runs_after_the_graceful_timeout_cut(glade_server, tmp_path):
    server, log = start(glade_server, tmp_path, "-w", "1", "--graceful-timeout", "2")
    worker = server.worker_pids()[0]
    connection = http.client.HTTPConnection(server.host, server.port, timeout=15)
    connection.request("GET", "/sleep?30")
    time.sleep(0.5)
    server.signal(signal.SIGTERM)
    assert server.wait(timeout=10) == 0
    connection.close()
    assert [e["worker"] for e in named(log, "worker_exit")] == [worker]
    output = server.output()
    assert "graceful timeout; cut 1 in-flight requests" in output
    assert "SIGKILL" not in output


def test_pre_exec_runs_before_a_binary_upgrade(glade_server, tmp_path):
    pidfile = tmp_path / "glade.pid"
    server, log = start(glade_server, tmp_path, "-w", "1", "--pid", str(pidfile))
    server.signal(signal.SIGUSR2)
    assert wait_until(lambda: named(log, "pre_exec"), 10)
    assert named(log, "pre_exec")[0]["master"] == server.pid
    new_pidfile = tmp_path / "glade.pid.2"
    assert wait_until(new_pidfile.exists, 20)
    new_master = int(new_pidfile.read_text())
    try:
        assert wait_until(lambda: server.output().count("BOOTING -> SERVING (1") == 2, 20)
        server.signal(signal.SIGTERM)
        assert server.wait(timeout=10) == 0
    finally:
        os.kill(new_master, signal.SIGTERM)
    assert server.output().count(TRACEBACK) == 0
