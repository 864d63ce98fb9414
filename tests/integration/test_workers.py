"""Several workers: the master forks them and replaces one that dies."""

from __future__ import annotations

import os
import signal
import socket

import requests
from support.server import run_until_exit, wait_until


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


def test_preload_imports_a_sync_app_once_in_the_master(glade_server):
    server = glade_server("validated:app", "-k", "sync", "-w", "2", "--preload")
    assert "Preloaded the app: validated:app" in server.output()
    for _ in range(6):
        assert requests.get(server.url + "/imported-by", timeout=5).text == str(server.pid)


def test_preload_of_an_app_that_cannot_load_stops_before_listening(tmp_path):
    (tmp_path / "broken.py").write_text("import json\n\nSETTINGS = json.loads('{')\n")
    status, text = run_until_exit(
        "-k", "sync", "--preload", "-b", "127.0.0.1:0", "broken:app", cwd=tmp_path
    )
    assert status == 1, text
    assert "the app failed to load: JSONDecodeError: " in text
    assert "(at broken.py:3)" in text
    assert "--preload: the app could not be loaded; stopping" in text
    assert "Listening at" not in text and "Booted worker" not in text
    assert "Traceback" not in text


def _answers_to_a_burst(server, count: int, path: str) -> list[bytes]:
    """Open `count` connections and send a request on each while every
    worker is stopped, so that all of them wait in the listener's queue at
    once (a client's or a proxy's keep-alive pool opened in one go); resume
    the workers and return each connection's answer."""
    workers = server.worker_pids()
    clients = []
    try:
        for pid in workers:
            os.kill(pid, signal.SIGSTOP)
        try:
            for _ in range(count):
                client = socket.create_connection((server.host, server.port), timeout=10)
                clients.append(client)
                client.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        finally:
            for pid in workers:
                os.kill(pid, signal.SIGCONT)
        answers = []
        for client in clients:
            reply = b""
            while not (b"\r\n\r\n" in reply and reply.split(b"\r\n\r\n", 1)[1]):
                chunk = client.recv(4096)
                assert chunk, reply
                reply += chunk
            answers.append(reply.split(b"\r\n\r\n", 1)[1])
        return answers
    finally:
        for client in clients:
            client.close()


def test_gevent_workers_accept_one_connection_per_turn_of_their_loop(glade_server):
    """As nginx by default (multi_accept off): a burst of connections is
    shared by the workers instead of kept by the first to wake, which took
    all it found while the others waited for a CPU, and kept their
    keep-alive load for good. Shown in a way that does not depend on how
    the system schedules the processes: of 64 connections queued at once,
    each worker serves its share over as many turns of its event loop (before:
    the first to wake accepted all it found in one turn)."""
    server = glade_server("lifecycle_app:app", "-w", "2", "-k", "gevent")
    workers = wait_until(lambda: len(server.worker_pids()) == 2 and server.worker_pids(), 10)
    for pid in workers:
        server.wait_for_output(f"Booted worker {pid}", timeout=10)
    answers = [answer.split() for answer in _answers_to_a_burst(server, 64, "/loop-turn")]
    turns = {pid: [int(turn) for who, turn in answers if int(who) == pid] for pid in workers}
    assert sum(len(served) for served in turns.values()) == 64, answers
    for served in turns.values():
        assert len(set(served)) == len(served), turns
    assert server.tracebacks() == 0, server.output()


def test_a_lone_gevent_worker_accepts_all_it_finds(glade_server):
    """With no other worker to share them with, one accept per turn would
    only pace the accepts (a third of the rate of one-request connections)."""
    server = glade_server("lifecycle_app:app", "-k", "gevent")
    answers = [answer.split() for answer in _answers_to_a_burst(server, 64, "/loop-turn")]
    turns = [int(turn) for _, turn in answers]
    assert len(set(turns)) < 8, turns
    assert server.tracebacks() == 0, server.output()
