"""Smoke tests of the benchmark harness: quick, real runs that write results.

The first runs only the ceiling, so it needs neither glade nor the anchors venv; it
checks that the harness starts a server, drives wrk, parses it and writes the JSON.
The second runs the framework workloads (F: Flask, G: Django) on glade -k gevent for
a second each: the app modules import, every server command takes the workload's app,
and the probe finds its route. Speed itself is never asserted here (see
bench/README.md).
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from glade import extensions

REPO = Path(__file__).resolve().parents[2]
ENSURE_WRK = (
    "import sys; sys.path.insert(0, 'bench'); from harness.wrk import ensure_wrk; "
    "sys.exit(ensure_wrk() is None)"
)


def _wrk_available():
    """Find wrk, or install it the way run.py does (apt-get, bounded)."""
    try:
        done = subprocess.run([sys.executable, "-c", ENSURE_WRK], cwd=REPO, timeout=1300)
    except subprocess.TimeoutExpired:
        return False
    return done.returncode == 0


def _quick_run(tmp_path, *options):
    """`bench/run.py --quick` with `options`; returns the summary rows of its JSON."""
    if not _wrk_available():
        pytest.skip("wrk is not installed and `apt-get install -y wrk` failed")
    cmd = [sys.executable, "bench/run.py", "--quick", *options]
    done = subprocess.run(
        [*cmd, "--results-dir", str(tmp_path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    (json_path,) = tmp_path.glob("results-*.json")
    return json.loads(json_path.read_text())["summary"]


@pytest.mark.timeout(1500)
@pytest.mark.skipif(
    len(os.sched_getaffinity(0)) < 2 or not shutil.which("taskset"),
    reason="--per-core needs two CPUs and taskset",
)
def test_per_core_runs_each_server_and_wrk_on_a_cpu_of_its_own(tmp_path):
    """--per-core: the server (every process and thread of it) on one CPU,
    wrk on another, as the stored command lines and settings say."""
    _quick_run(tmp_path, "--servers", "ceiling", "--per-core", "--no-chart")
    (json_path,) = tmp_path.glob("results-*.json")
    document = json.loads(json_path.read_text())
    server_cpu, wrk_cpu = sorted(os.sched_getaffinity(0))[1::-1]
    assert document["settings"]["per_core"] == {"server_cpu": server_cpu, "wrk_cpu": wrk_cpu}
    (row,) = document["measurements"]
    assert row["command"].startswith(f"taskset -c {server_cpu} "), row["command"]
    assert row["wrk"].startswith(f"taskset -c {wrk_cpu} "), row["wrk"]
    assert row["requests_per_sec"] > 0, row


@pytest.mark.timeout(1500)
def test_quick_ceiling_run_writes_results(tmp_path):
    summary = _quick_run(tmp_path, "--servers", "ceiling")
    ceiling = [row for row in summary if row["server"] == "ceiling"]
    assert ceiling and ceiling[0]["median_rps"] > 0, summary


@pytest.mark.timeout(1500)
def test_quick_framework_run_serves_flask_and_django(tmp_path):
    options = ("--servers", "glade-gevent", "--workloads", "F,G", "--no-chart")
    summary = _quick_run(tmp_path, *options, "--duration", "1", "--warmup", "0")
    assert [row["workload"] for row in summary] == ["F", "G"], summary
    for row in summary:
        assert row["rounds_ok"] == 1 and row["median_rps"] > 0, row
        assert row["non_2xx"] == 0, row
        # The whole server's PSS holds its worker's private pages and more
        # (the master's, and shares of the pages they have in common).
        assert row["server_pss_kib_median"] > row["worker_uss_kib_max"] > 0, row


@pytest.mark.parametrize(
    "pure",
    [
        pytest.param(
            False,
            id="compiled",
            marks=pytest.mark.skipif(
                not extensions.in_use(), reason="the extensions are not built here"
            ),
        ),
        pytest.param(True, id="pure"),
    ],
)
def test_connection_path_harness_answers_every_shape(pure):
    """bench/connection_path.py, the per-request profile's harness, still runs
    Glade's serving loop end to end (it checks the responses were sent)."""
    env = {**os.environ, "GLADE_NO_EXTENSIONS": "1" if pure else ""}
    done = subprocess.run(
        [sys.executable, "bench/connection_path.py", "--rounds", "1", "--requests", "200"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].endswith("pure Python" if pure else "in use"), lines[0]
    assert [line.split(":")[0] for line in lines[1:]] == ["A", "B", "browser"], done.stdout
    assert all(float(line.split()[1]) > 0 for line in lines[1:]), done.stdout
