"""Operations on real processes: /metrics after known traffic, /livez and
/readyz through a stop, and workers recycled by memory and lifetime with no
failed request."""

from __future__ import annotations

import http.client
import os
import signal
import socket
import time

import pytest
from prometheus_client.parser import text_string_to_metric_families
from support.load import Load
from support.server import GladeServer, ServerError, free_port, http_get, wait_until

APP = "ops_app:app"


class Probes:
    """The master's /metrics, /livez and /readyz."""

    def __init__(self, port: int) -> None:
        self.port = port

    def get(self, path: str, timeout: float = 5.0) -> tuple[int, bytes]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            connection.request("GET", path)
            response = connection.getresponse()
            return response.status, response.read()
        finally:
            connection.close()

    def metrics(self) -> dict:
        """{(sample name, ((label, value), ...)): value}"""
        status, body = self.get("/metrics")
        assert status == 200
        samples = {}
        for family in text_string_to_metric_families(body.decode()):
            for sample in family.samples:
                samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
        return samples

    def value(self, name: str, **labels) -> float:
        return self.metrics().get((name, tuple(sorted(labels.items()))), 0.0)

    def wait_for(self, name: str, expected: float, timeout: float = 10.0, **labels) -> float:
        """The sample's value, once it reaches `expected` or `timeout` passed."""
        wait_until(lambda: self.value(name, **labels) >= expected, timeout, interval=0.1)
        return self.value(name, **labels)


def start(*args: str, app: str = APP, env: dict | None = None) -> tuple[GladeServer, Probes]:
    port = free_port()
    server = GladeServer(app, "--metrics-bind", f"127.0.0.1:{port}", *args, env=env)
    return server, Probes(port)


def get(server, path: str) -> tuple[int, bytes]:
    return http_get(server.host, server.port, path, timeout=10)


def test_metrics_count_known_traffic_and_survive_a_reload():
    server, probes = start("-w", "2")
    with server:
        for _ in range(6):
            assert get(server, "/")[0] == 200
        for _ in range(3):
            assert get(server, "/status?404")[0] == 404
        assert get(server, "/sleep?0.3")[0] == 200
        probes.wait_for("glade_requests_total", 7, method="GET", code="200")
        samples = probes.metrics()
        assert samples[("glade_requests_total", (("code", "200"), ("method", "GET")))] == 7
        assert samples[("glade_requests_total", (("code", "404"), ("method", "GET")))] == 3
        assert samples[("glade_request_duration_seconds_count", ())] == 10
        assert samples[("glade_request_duration_seconds_bucket", (("le", "0.25"),))] == 9
        assert samples[("glade_request_duration_seconds_bucket", (("le", "0.5"),))] == 10
        assert samples[("glade_request_duration_seconds_sum", ())] >= 0.3
        assert samples[("glade_workers", (("state", "ready"),))] == 2
        assert samples[("glade_requests_in_flight", ())] == 0
        memory = {
            labels[0][1]: value
            for (name, labels), value in samples.items()
            if name == "glade_worker_memory_bytes"
        }
        assert sorted(memory) == sorted(str(pid) for pid in server.worker_pids())
        assert all(value > 5 * 1024 * 1024 for value in memory.values())
        assert samples[("glade_listen_queue", (("listener", f"127.0.0.1:{server.port}"),))] == 0

        # New workers start from zero; the old ones' counts stay in the sums.
        mark = server.output_size()
        server.signal(signal.SIGHUP)
        server.wait_for_output("Reload complete", since=mark, timeout=20)
        wait_until(lambda: probes.value("glade_workers", state="ready") == 2 or None, 10)
        assert get(server, "/")[0] == 200
        probes.wait_for("glade_requests_total", 8, method="GET", code="200")
        samples = probes.metrics()
        assert samples[("glade_requests_total", (("code", "200"), ("method", "GET")))] == 8
        assert samples[("glade_requests_total", (("code", "404"), ("method", "GET")))] == 3
        assert samples[("glade_worker_restarts_total", (("cause", "reload"),))] == 2
        assert server.tracebacks() == 0


def test_livez_and_readyz_while_serving():
    server, probes = start("-w", "1")
    with server:
        assert probes.get("/livez") == (200, b"live\n")
        assert probes.get("/readyz") == (200, b"ready: 1 workers\n")
        assert probes.get("/nothing-here")[0] == 404


def test_readyz_turns_503_at_sigterm_while_the_app_still_answers():
    """During --shutdown-delay the app still answers, and readiness is
    already off: a load balancer moves traffic away before the listener
    closes."""
    server, probes = start("-w", "1", "--shutdown-delay", "2")
    with server:
        assert probes.get("/readyz")[0] == 200
        server.signal(signal.SIGTERM)
        sent = time.monotonic()
        while probes.get("/readyz")[0] != 503:
            assert time.monotonic() - sent < 1.0
            time.sleep(0.005)
        assert time.monotonic() - sent < 0.1
        assert get(server, "/") == (200, b"Hello, World!")  # still serving
        assert probes.get("/livez")[0] == 200
        assert server.wait(timeout=15) == 0
    assert server.tracebacks() == 0


def test_restarts_are_counted_by_cause():
    server, probes = start("-w", "1", "--max-requests", "5")
    with server:
        for _ in range(6):
            assert get(server, "/")[0] == 200
        probes.wait_for("glade_worker_restarts_total", 1, cause="max_requests")
        wait_until(lambda: probes.value("glade_workers", state="ready") == 1 or None, 10)
        # The retired worker may still be finishing its drain: wait for it to go.
        (worker,) = wait_until(lambda: pids if len(pids := server.worker_pids()) == 1 else None, 10)
        os.kill(worker, signal.SIGKILL)
        assert probes.wait_for("glade_worker_restarts_total", 1, cause="crash") == 1
        wait_until(lambda: probes.value("glade_workers", state="ready") == 1 or None, 10)
        assert get(server, "/")[0] == 200


def test_the_listen_queue_shows_connections_no_worker_takes():
    server, probes = start("-w", "1")
    with server:
        (worker,) = server.worker_pids()
        os.kill(worker, signal.SIGSTOP)
        waiting = []
        try:
            for _ in range(5):
                waiting.append(socket.create_connection((server.host, server.port), timeout=5))
            listener = f"127.0.0.1:{server.port}"
            value = wait_until(
                lambda: probes.value("glade_listen_queue", listener=listener) == 5 or None, 5
            )
            assert value, probes.value("glade_listen_queue", listener=listener)
        finally:
            os.kill(worker, signal.SIGCONT)
            for sock in waiting:
                sock.close()


def test_a_worker_that_stays_above_max_worker_memory_is_replaced_with_no_failure():
    server, probes = start("-w", "2", "--max-worker-memory", "120")
    with server:
        mark = server.output_size()
        with Load(server.host, server.port, clients=4, max_seconds=60) as load:
            load.wait_for(50)
            assert get(server, "/grow?200") == (200, b"grown")
            server.wait_for_output(
                "stayed above --max-worker-memory 120 MiB", since=mark, timeout=15
            )
            server.wait_for_output("Booted worker", since=mark, timeout=15)
            ok_before = load.counts["ok"]
            load.wait_for(ok_before + 50)
            counts = load.stop()
        assert counts["failed"] == 0, load.errors
        assert counts["ok"] > 100
        assert probes.value("glade_worker_restarts_total", cause="memory") == 1
        output = server.output(mark)
        assert "Replacing worker" in output
        assert server.tracebacks() == 0


def test_workers_are_replaced_at_max_worker_lifetime_with_no_failure():
    server, probes = start("-w", "2", "--max-worker-lifetime", "2")
    with server:
        with Load(server.host, server.port, clients=4, max_seconds=60) as load:
            replaced = wait_until(
                lambda: probes.value("glade_worker_restarts_total", cause="lifetime") >= 4 or None,
                20,
            )
            counts = load.stop()
        assert replaced, probes.value("glade_worker_restarts_total", cause="lifetime")
        assert counts["failed"] == 0, load.errors
        assert "(--max-worker-lifetime)" in server.output()
        assert server.tracebacks() == 0


def test_metrics_bind_without_prometheus_client_stops_with_a_clear_line(tmp_path):
    hidden = tmp_path / "prometheus_client"
    hidden.mkdir()
    (hidden / "__init__.py").write_text("raise ImportError('not installed here')\n")
    env = {"PYTHONPATH": f"{tmp_path}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    with pytest.raises(ServerError) as failed:
        start("-w", "1", env=env)
    output = str(failed.value)
    assert "glade exited with 1" in output
    assert "--metrics-bind needs prometheus_client: pip install 'glade[metrics]'" in output
    assert "Traceback" not in output


def test_an_app_with_prometheus_multiprocess_metrics_keeps_working(tmp_path):
    """The app's own multiprocess metrics and Glade's side by side, with the
    child_exit recipe from docs/operations.md in the config file."""
    directory = tmp_path / "prometheus"
    directory.mkdir()
    config = tmp_path / "glade.conf.py"
    config.write_text(
        "def child_exit(server, worker):\n"
        "    from prometheus_client import multiprocess\n"
        "    multiprocess.mark_process_dead(worker.pid)\n"
    )
    env = {"PROMETHEUS_MULTIPROC_DIR": str(directory)}
    server, probes = start("-w", "2", "-c", str(config), app="prometheus_app:app", env=env)
    with server:
        for _ in range(10):
            assert get(server, "/")[0] == 200
        status, body = get(server, "/app-metrics")
        assert status == 200
        assert b"app_hits_total 10.0" in body
        probes.wait_for("glade_requests_total", 11, method="GET", code="200")
        assert probes.value("glade_requests_total", method="GET", code="200") == 11
        (worker, _) = server.worker_pids()
        os.kill(worker, signal.SIGKILL)
        wait_until(lambda: len(server.worker_pids()) == 2 or None, 10)
        status, body = get(server, "/app-metrics")
        assert status == 200
        assert b"app_hits_total 10.0" in body  # the dead worker's hits are kept
