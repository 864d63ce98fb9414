"""`glade -w auto` in a container: as many workers as the cgroup's CPU quota
allows. The cgroup is a fake tree that GLADE_CGROUP_ROOT points at, the way
an operator would point it at a cgroup file system mounted elsewhere."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest
import requests
from support.server import APPS_DIR, wait_until

USABLE = len(os.sched_getaffinity(0))


def fake_cgroup(directory, cpu_max: str) -> dict[str, str]:
    directory.mkdir(exist_ok=True)
    (directory / "cpu.max").write_text(cpu_max + "\n")
    return {"GLADE_CGROUP_ROOT": str(directory), "WEB_CONCURRENCY": ""}


@pytest.mark.parametrize(
    ("cpu_max", "expected"),
    [
        ("300000 100000", min(3, USABLE)),  # 3 CPUs, but never more than there are to run on
        ("100000 100000", 1),  # one CPU on a bigger machine: one worker, not one per core
        ("max 100000", USABLE),  # no quota: the CPUs this process may run on
    ],
    ids=["3-cpus", "1-cpu", "no-quota"],
)
def test_auto_starts_one_worker_per_cpu_of_the_quota(glade_server, tmp_path, cpu_max, expected):
    env = fake_cgroup(tmp_path / "cgroup", cpu_max)
    server = glade_server("validated:app", "-w", "auto", "-k", "sync", env=env)
    assert len(server.worker_pids()) == expected, server.output()
    assert requests.get(server.url + "/pid", timeout=5).status_code == 200
    assert server.tracebacks() == 0, server.output()


def test_web_concurrency_wins_over_auto(glade_server, tmp_path):
    env = fake_cgroup(tmp_path / "cgroup", "100000 100000")
    env["WEB_CONCURRENCY"] = "2"
    server = glade_server("validated:app", "-w", "auto", "-k", "sync", env=env)
    assert len(server.worker_pids()) == 2, server.output()


@pytest.mark.skipif(USABLE < 2, reason="needs two CPUs to run on")
def test_a_reload_reads_the_quota_again(glade_server, tmp_path):
    """A container given more CPUs: HUP, and auto counts them."""
    env = fake_cgroup(tmp_path / "cgroup", "100000 100000")
    server = glade_server("validated:app", "-w", "auto", "-k", "sync", env=env)
    (old,) = server.worker_pids()
    (tmp_path / "cgroup" / "cpu.max").write_text("max 100000\n")
    server.signal(signal.SIGHUP)

    def resized():
        pids = server.worker_pids()
        return len(pids) == USABLE and old not in pids

    assert wait_until(resized, timeout=15), (server.worker_pids(), server.output())
    assert server.tracebacks() == 0, server.output()


def test_print_config_and_check_config_say_where_the_number_came_from(tmp_path):
    env = {**os.environ, **fake_cgroup(tmp_path / "cgroup", "150000 100000")}
    env.pop("GLADE_CMD_ARGS", None)
    expected = min(2, USABLE)

    def glade(*args: str) -> str:
        result = subprocess.run(
            [sys.executable, "-m", "glade", "-w", "auto", *args],
            cwd=str(APPS_DIR),
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert result.returncode == 0, result.stderr
        return result.stdout

    (line,) = [line for line in glade("--print-config").splitlines() if line.startswith("workers")]
    assert line.startswith(f"workers = {expected} ")
    assert "# flag -w/--workers (auto: cgroup cpu.max 150000/100000" in line
    assert glade("--check-config", "validated:app").startswith(
        f"glade: config and app OK: validated:app, {expected} gevent "
        f"worker{'s' * (expected != 1)} (auto: cgroup cpu.max 150000/100000"
    )
