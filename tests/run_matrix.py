#!/usr/bin/env python3
"""Run tests against the versions of Glade's dependencies people run, one venv each.

    python tests/run_matrix.py            # every entry of MATRIX
    python tests/run_matrix.py 22         # the entries whose name contains "22"

Entries:
- the gunicorn worker class (tests/contrib) under each gunicorn version;
- the connection and lifecycle tests under the oldest gevent and httptools
  that pyproject.toml allows (the main run has the newest): the seed of
  this project was a patch that broke with new gunicorn and gevent
  versions, so both ends of each range are tested.

Each entry gets its own venv under tests/.venv/ (ignored by git, pytest and
ruff), with Glade installed editable, so a source change needs no
reinstall. A venv is reused while its package list is unchanged; delete
tests/.venv/ to start over. Exit status 0 only if every entry passed.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
VENVS = Path(__file__).resolve().parent / ".venv"

CONNECTION_TESTS = [
    "tests/integration/lifecycle",
    "tests/integration/test_connections.py",
    "tests/integration/test_no_lost_bytes.py",
    "tests/unit/http",
]
# name -> (what pip installs next to Glade, the tests to run). gunicorn
# 22.0.0 is the version of gunicorn issue #3239, with the gevent of that
# report (24.2.1); gevent 24.2.1 and httptools 0.6.4 are pyproject.toml's
# floors (httptools 0.6.1 lets obs-fold and other smuggling vectors through).
MATRIX = {
    "gunicorn-27.0.1": (["gunicorn==27.0.1", "gevent"], ["tests/contrib"]),
    "gunicorn-22.0.0": (["gunicorn==22.0.0", "gevent==24.2.1"], ["tests/contrib"]),
    "oldest-gevent": (
        ["gevent==24.2.1", "httptools==0.6.4", "hypothesis>=6.100", "h11>=0.14"],
        CONNECTION_TESTS,
    ),
}
TEST_TOOLS = ["pytest>=8", "pytest-timeout>=2.2"]
STAMP = ".glade-contrib-installed"
SUMMARY = re.compile(r"\b\d+ (passed|failed|errors?|skipped)\b.* in [0-9.]+s")
COUNT = re.compile(r"(\d+) (passed|failed|errors?|skipped)")


def main(argv: list[str]) -> int:
    python = os.environ.get("PYTHON") or sys.executable
    names = [name for name in MATRIX if not argv or any(arg in name for arg in argv)]
    if not names:
        print(f"no matrix entry matches {argv}; entries: {', '.join(MATRIX)}")
        return 2
    results = []
    passed = failed = 0
    for name in names:
        started = time.monotonic()
        venv = VENVS / name
        packages, tests = MATRIX[name]
        ok = _ensure_venv(python, venv, [*packages, *TEST_TOOLS])
        setup = time.monotonic() - started
        status = "setup failed"
        if ok:
            status, counts = _run_tests(venv, name, tests)
            passed += counts.get("passed", 0)
            failed += counts.get("failed", 0) + counts.get("error", 0) + counts.get("errors", 0)
        else:
            failed += 1
        results.append((name, status, setup, time.monotonic() - started - setup))
    print("\nmatrix:")
    for name, status, setup, tests in results:
        print(f"  {name:18} {status:24} (venv {setup:5.1f} s, tests {tests:5.1f} s)")
    print(f"matrix: {passed} passed, {failed} failed")
    return 0 if all(status == "passed" for _, status, _, _ in results) else 1


def _ensure_venv(python: str, venv: Path, packages: list[str]) -> bool:
    wanted = "\n".join(packages) + "\n"
    stamp = venv / STAMP
    if stamp.exists() and stamp.read_text() == wanted:
        return True
    print(f"== creating {venv.relative_to(REPO)}: {' '.join(packages)}", flush=True)
    created = (venv / "bin" / "python").exists()
    if not created and subprocess.run([python, "-m", "venv", str(venv)]).returncode:
        return False
    command = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet"]
    command += ["--disable-pip-version-check", "-e", str(REPO), *packages]
    # The hot path's extensions are the project venv's, built in place by
    # `make` (the same Python): not built again for each venv.
    if subprocess.run(command, env=dict(os.environ, GLADE_NO_EXTENSIONS="1")).returncode:
        return False
    stamp.write_text(wanted)
    return True


def _run_tests(venv: Path, name: str, tests: list[str]) -> tuple[str, dict]:
    print(f"== {name}: pytest {' '.join(tests)}", flush=True)
    command = [str(venv / "bin" / "python"), "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    command += tests
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    env.pop("VIRTUAL_ENV", None)
    counts: dict[str, int] = {}
    with subprocess.Popen(
        command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    ) as pytest:
        for line in pytest.stdout:
            sys.stdout.write(line)
            if SUMMARY.search(line):  # pytest's closing line: "12 passed, 1 failed in 9.1s"
                counts = {word: int(number) for number, word in COUNT.findall(line)}
    sys.stdout.flush()
    code = pytest.returncode
    if code == 0:
        return "passed", counts
    if code == 5:
        return "ran no test", counts
    return f"failed (pytest exit {code})", counts


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
