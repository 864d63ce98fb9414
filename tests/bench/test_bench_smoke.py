"""Smoke test of the benchmark harness: one quick, real run against the ceiling server.

Only the ceiling, so it needs neither glade nor the anchors venv; it checks that the
harness starts a server, drives wrk, parses it and writes the JSON. Speed itself is
never asserted here (see bench/README.md).
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

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


@pytest.mark.timeout(1500)
def test_quick_ceiling_run_writes_results(tmp_path):
    if not _wrk_available():
        pytest.skip("wrk is not installed and `apt-get install -y wrk` failed")
    cmd = [sys.executable, "bench/run.py", "--quick", "--servers", "ceiling"]
    done = subprocess.run(
        [*cmd, "--results-dir", str(tmp_path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    (json_path,) = tmp_path.glob("results-*.json")
    summary = json.loads(json_path.read_text())["summary"]
    ceiling = [row for row in summary if row["server"] == "ceiling"]
    assert ceiling and ceiling[0]["median_rps"] > 0, summary
