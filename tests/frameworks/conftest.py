"""Fixtures for tests/frameworks: a real Glade serving Flask or Django.

`site` starts one server per test module, framework and worker class
(four in all), and stops it when the module is done; the server's exit
status and its whole log are checked then.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from support.server import TRACEBACK, GladeServer

APPS_DIR = Path(__file__).resolve().parent / "apps"
BIG_FILE_SIZE = 8 * 1024 * 1024

APP_SPECS = {
    "flask": ("flaskapp:app", {}),
    "django": (
        "djangosite.wsgi:application",
        {"DJANGO_SETTINGS_MODULE": "djangosite.settings"},
    ),
}
SITES = [
    ("flask", "gevent"),
    ("flask", "sync"),
    ("django", "gevent"),
    ("django", "sync"),
]


def log_problems(text: str) -> list[str]:
    """Lines of a Glade log that mean something went wrong."""
    return [
        line
        for line in text.splitlines()
        if TRACEBACK in line or "[ERROR]" in line or "[CRITICAL]" in line
    ]


@dataclass
class Site:
    framework: str
    worker: str
    server: GladeServer
    big_file: Path
    log_start: int = field(default=0)

    @property
    def url(self) -> str:
        return self.server.url

    def assert_log_clean(self) -> None:
        """No traceback or error in what the server logged during this test."""
        new = self.server.output()[self.log_start :]
        assert new.count(TRACEBACK) == 0, new
        assert log_problems(new) == [], new


@pytest.fixture(scope="session")
def big_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("frameworks") / "big.bin"
    path.write_bytes(os.urandom(BIG_FILE_SIZE))
    return path


@pytest.fixture(scope="module", params=SITES, ids=["-".join(site) for site in SITES])
def site(request, big_file):
    framework, worker = request.param
    spec, env = APP_SPECS[framework]
    # One worker: /reads reports a per-process counter, and it must be the
    # process that served the file.
    server = GladeServer(
        spec,
        "-k",
        worker,
        "-w",
        "1",
        cwd=APPS_DIR,
        env={**env, "FRAMEWORK_BIG_FILE": str(big_file)},
    )
    try:
        yield Site(framework, worker, server, big_file)
    finally:
        status = server.stop()
    output = server.output()
    assert status == 0, output
    assert output.count(TRACEBACK) == 0, output


@pytest.fixture(autouse=True)
def _mark_log(request):
    """Remember where the log was when a test began (see Site.assert_log_clean)."""
    if "site" in request.fixturenames:
        site = request.getfixturevalue("site")
        site.log_start = len(site.server.output())
    yield
