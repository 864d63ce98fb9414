"""deploy/Dockerfile, and Glade as PID 1 the way a container runs it.

Docker itself cannot run here, so the Dockerfile is read as text (and its
command line by Glade's own parser), and what being PID 1 means is tested
without it: `unshare --pid --fork --mount-proc` starts the real `glade` as
PID 1 of a PID namespace of its own, as a container runtime does. There the
kernel hands Glade's master every orphaned process, and the master must reap
them without taking them for workers, and still stop cleanly on SIGTERM.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from support.deploy import DEPLOY_DIR, glade_config, workers_from_auto
from support.server import LISTENING, TRACEBACK, children_of, http_get, kill_group, wait_until

from glade.addresses import parse_address

HERE = Path(__file__).resolve().parent
APP = "deploy_app:app"


# -- the Dockerfile ------------------------------------------------------------


def instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, continuation lines joined."""
    logical, current = [], ""
    for line in path.read_text().splitlines():
        stripped = line.strip()
        if not stripped or (stripped.startswith("#") and not current):
            continue
        if stripped.startswith("#"):
            continue  # a comment inside a continued instruction
        current += " " + stripped.removesuffix("\\").strip()
        if not stripped.endswith("\\"):
            logical.append(current.strip())
            current = ""
    found = []
    for text in logical:
        name, _, arguments = text.partition(" ")
        found.append((name.upper(), arguments.strip()))
    return found


def the_last(name: str, found: list[tuple[str, str]]) -> str:
    values = [arguments for instruction, arguments in found if instruction == name]
    assert values, f"no {name} in the Dockerfile"
    return values[-1]


def test_dockerfile_runs_glade_as_pid_1_as_an_unprivileged_user():
    found = instructions(DEPLOY_DIR / "Dockerfile")
    assert re.fullmatch(r"python:3\.\d+-slim", the_last("FROM", found))
    # Exec form (a JSON array): no shell between the runtime and Glade.
    assert json.loads(the_last("ENTRYPOINT", found)) == ["glade"]
    command = json.loads(the_last("CMD", found))
    user = the_last("USER", found).split(":")[0]
    assert user not in ("root", "0")
    assert any(
        instruction == "RUN" and "useradd" in arguments and arguments.endswith(f" {user}")
        for instruction, arguments in found
    )
    installs = [args for name, args in found if name == "RUN" and "pip install" in args]
    assert any('"glade[metrics]"' in args for args in installs)

    cfg = glade_config(command)
    assert workers_from_auto(cfg)
    assert "--worker-tmp-dir" not in command  # the heartbeat is a pipe
    exposed = {int(port) for port in the_last("EXPOSE", found).split()}
    assert parse_address(cfg.metrics_bind).port in exposed
    assert {parse_address(bind).port for bind in cfg.bind} <= exposed


def test_dockerignore_keeps_local_state_out_of_the_image():
    ignored = (DEPLOY_DIR / "Dockerfile.dockerignore").read_text().split()
    for entry in (".git", ".venv", ".env", "__pycache__"):
        assert entry in ignored


# -- Glade as PID 1 ---------------------------------------------------------------


def unshare_problem() -> str | None:
    """Why Glade cannot be started as PID 1 of a new PID namespace here, if it cannot."""
    unshare = shutil.which("unshare")
    if unshare is None:
        return "unshare (util-linux) is not installed"
    try:
        result = subprocess.run(
            [unshare, "--pid", "--fork", "--mount-proc", "true"],
            capture_output=True,
            timeout=10,
        )
    except subprocess.TimeoutExpired:
        return "unshare --pid --fork --mount-proc did not finish within 10 s"
    if result.returncode != 0:
        why = result.stderr.decode(errors="replace").strip()
        return f"unshare --pid --fork --mount-proc is not permitted here: {why}"
    return None


def namespace_pid(pid: int) -> int | None:
    """A process's pid as its own (innermost) PID namespace sees it."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    match = re.search(r"^NSpid:\s+(.*)$", status, re.M)
    return int(match.group(1).split()[-1]) if match else None


def child_with_namespace_pid(parent: int, wanted: int) -> int | None:
    for pid in children_of(parent):
        if namespace_pid(pid) == wanted:
            return pid
    return None


def process_state(pid: int) -> str | None:
    """The state letter of a process (Z for a zombie), None once it is reaped."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[0]


def test_glade_as_pid_1_reaps_orphans_and_drains(tmp_path):
    problem = unshare_problem()
    if problem:
        pytest.skip(problem)
    log = tmp_path / "glade.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("GLADE_")}
    env["PYTHONUNBUFFERED"] = "1"
    command = [
        *("unshare", "--pid", "--fork", "--mount-proc"),
        *(sys.executable, "-m", "glade", "-w", "1", "-b", "127.0.0.1:0", APP),
    ]
    with open(log, "wb") as output:
        proc = subprocess.Popen(
            command,
            cwd=HERE,
            stdout=output,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
        )
    try:
        ready = wait_until(lambda: "master: BOOTING -> SERVING" in log.read_text(), 20)
        assert ready, log.read_text()
        host, port = LISTENING.search(log.read_text()).group(1).rsplit(":", 1)
        (master,) = children_of(proc.pid)  # unshare's child: the namespace's init
        assert namespace_pid(master) == 1
        (worker,) = children_of(master)

        # A double fork: the worker's shell exits, its `sleep` is orphaned and
        # goes to PID 1, Glade's master, which must reap it when it exits.
        status, body = http_get(host, int(port), "/orphan?seconds=1")
        assert status == 200
        orphan = child_with_namespace_pid(master, int(body))
        assert orphan is not None, "the orphan was not handed to the master"
        assert process_state(orphan) != "Z"
        assert wait_until(lambda: process_state(orphan) is None, 10), (
            f"the orphan is left as {process_state(orphan)!r}, not reaped"
        )
        # It was not taken for a worker: the same worker serves, none was added.
        assert http_get(host, int(port), "/") == (200, b"ok")
        assert children_of(master) == [worker]

        # A child the worker never waits for: the drain orphans it.
        status, body = http_get(host, int(port), "/child?seconds=60")
        assert status == 200
        child = child_with_namespace_pid(worker, int(body))
        assert child is not None
        os.kill(master, signal.SIGTERM)
        assert proc.wait(timeout=15) == 0  # unshare exits with its child's status
        # With the namespace's init gone, the kernel ends the rest of it.
        assert wait_until(lambda: process_state(child) is None, 10)
    finally:
        kill_group(proc.pid)
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=5)

    output = log.read_text()
    assert "master: DRAINING -> STOPPED" in output, output
    assert "died unexpectedly" not in output, output
    assert output.count("Booted worker") == 1, output
    assert output.count(TRACEBACK) == 0, output
