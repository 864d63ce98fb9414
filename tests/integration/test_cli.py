"""The command line: mistakes get one clear line and a non-zero exit, never
a traceback; the ways of naming and finding an app all work."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest
import requests
from support.server import APPS_DIR, TRACEBACK


def glade(*args: str, cwd=APPS_DIR, timeout: float = 20.0) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if not key.startswith("GLADE_")}
    return subprocess.run(
        [sys.executable, "-m", "glade", *args],
        cwd=str(cwd),
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def assert_one_clear_error(result: subprocess.CompletedProcess, text: str) -> None:
    assert result.returncode != 0, result
    output = result.stdout + result.stderr
    assert TRACEBACK not in output, output
    lines = [line for line in result.stderr.splitlines() if text in line]
    assert len(lines) == 1, result.stderr


@pytest.mark.parametrize(
    ("app", "error"),
    [
        ("no_such_module_here:app", "no module named 'no_such_module_here'"),
        ("validated:no_such_app", "module 'validated' has no attribute 'no_such_app'"),
        ("validated:NOT_CALLABLE", "not callable"),
        ("validated:create_app(", "cannot parse"),
    ],
    ids=["module-not-found", "attribute-missing", "not-callable", "unparsable"],
)
def test_app_that_cannot_be_loaded(app, error):
    result = glade("-b", "127.0.0.1:0", "-w", "2", app)
    assert_one_clear_error(result, error)
    assert app in result.stderr


def test_address_in_use():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = glade("-b", f"127.0.0.1:{port}", "validated:app")
    assert_one_clear_error(result, "address already in use")
    assert f"127.0.0.1:{port}" in result.stderr


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (("-w", "-1", "validated:app"), "--workers"),
        (("--keep-alive", "abc", "validated:app"), "--keep-alive"),
        (("-k", "threads", "validated:app"), "--worker-class"),
        (("--no-such-flag", "validated:app"), "--no-such-flag"),
        (("--forwarded-allow-ips", "10.0.0.1,proxy.lan", "validated:app"), "'proxy.lan'"),
        ((), "no app given"),
    ],
    ids=[
        "negative-workers",
        "keep-alive-not-a-number",
        "unknown-worker-class",
        "unknown-flag",
        "forwarded-allow-ips-not-an-address",
        "no-app",
    ],
)
def test_bad_command_line(args, error):
    result = glade(*args)
    assert result.returncode == 2, result
    assert_one_clear_error(result, error)
    assert "glade: error:" in result.stderr


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (("--timout", "30", "validated:app"), "unknown flag --timout; did you mean --timeout?"),
        (("--timout=30", "validated:app"), "unknown flag --timout; did you mean --timeout?"),
        (("validated:app", "--wokers", "2"), "unknown flag --wokers; did you mean --workers?"),
        (
            ("--keepalive", "5", "validated:app"),
            "unknown flag --keepalive; did you mean --keep-alive?",
        ),
        (("--no-such-flag", "validated:app"), "unknown flag --no-such-flag; see glade --help"),
    ],
    ids=["value-apart", "value-joined", "after-the-app", "gunicorn-key-as-flag", "no-match"],
)
def test_a_mistyped_flag_is_named_with_the_flag_it_resembles(args, line):
    result = glade(*args)
    assert result.returncode == 2, result
    assert result.stderr.splitlines()[-1] == f"glade: error: {line}"
    assert "validated:app" not in result.stderr  # the app is not what is wrong
    assert TRACEBACK not in result.stderr


def test_version():
    from glade import __version__

    result = glade("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"glade {__version__}"


def test_help_lists_the_flags():
    result = glade("--help")
    assert result.returncode == 0
    for flag in (
        "--bind",
        "--workers",
        "--worker-class",
        "--keep-alive",
        "--header-timeout",
        "--graceful-timeout",
        "--limit-request-body",
        "--chdir",
        "--pythonpath",
        "--access-logfile",
        "--version",
        "MODULE:APP",
    ):
        assert flag in result.stdout, flag


@pytest.mark.parametrize(
    ("app", "body"),
    [
        ("validated:create_app()", b"Hello from a factory"),
        ("validated:create_app('Built with an argument')", b"Built with an argument"),
        ("validated:create_app(greeting='By keyword')", b"By keyword"),
    ],
)
def test_app_factory(glade_server, app, body):
    server = glade_server(app, "--graceful-timeout", "3")
    response = requests.get(server.url, timeout=5)
    assert response.content == body


def test_chdir(glade_server, tmp_path):
    server = glade_server("validated:app", "--chdir", str(APPS_DIR), cwd=tmp_path)
    response = requests.get(server.url + "/environ", timeout=5)
    assert response.status_code == 200
    assert server.tracebacks() == 0


def test_pythonpath(glade_server, tmp_path):
    (tmp_path / "other").mkdir()
    server = glade_server(
        "validated:app", "--pythonpath", f"{tmp_path / 'other'},{APPS_DIR}", cwd=tmp_path
    )
    response = requests.get(server.url, timeout=5)
    assert response.content == b"Hello, World!"


def test_without_chdir_the_app_is_not_found(tmp_path):
    result = glade("-b", "127.0.0.1:0", "validated:app", cwd=tmp_path)
    assert_one_clear_error(result, "no module named 'validated'")
    assert str(tmp_path) in result.stderr  # the message says where it looked
