"""Several workers: the master forks them and replaces one that dies."""

from __future__ import annotations

import os
import signal

import requests
from support.server import wait_until


def test_two_workers_and_a_killed_one_is_replaced(glade_server, worker_class):
    server = glade_server("validated:app", "-w", "2", "-k", worker_class, "--graceful-timeout", "3")
    workers = server.worker_pids()
    assert len(workers) == 2
    victim, survivor = workers
    mark = server.output_size()
    os.kill(victim, signal.SIGKILL)

    def replaced():
        pids = server.worker_pids()
        return len(pids) == 2 and victim not in pids and survivor in pids and pids

    pids = wait_until(replaced, timeout=5)
    assert pids, f"no replacement for worker {victim}: {server.worker_pids()}"
    (newcomer,) = set(pids) - {survivor}
    output = server.wait_for_output(f"Booted worker {newcomer}", timeout=10, since=mark)
    deaths = [line for line in output.splitlines() if str(victim) in line and "SIGKILL" in line]
    assert len(deaths) == 1, output  # the operator is told which worker died, and how
    for _ in range(6):
        response = requests.get(server.url + "/pid", timeout=5)
        assert response.status_code == 200
        assert int(response.text) in (survivor, newcomer)
    assert server.tracebacks() == 0, server.output()
