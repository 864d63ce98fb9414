"""The config as a user meets it: `glade --print-config`, `--check-config`,
mistakes (exit 2, one line, no traceback), warnings at startup, and servers
configured by files, PORT and GLADE_CMD_ARGS."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import requests
from support.server import APPS_DIR, TESTS_DIR, TRACEBACK, free_port, wait_until

REPO = TESTS_DIR.parent


def glade(*args: str, cwd, env=None, timeout: float = 20.0) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("GLADE_")}
    for name in ("WEB_CONCURRENCY", "PORT", "FORWARDED_ALLOW_IPS", "SCRIPT_NAME"):
        clean.pop(name, None)
    clean.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "glade", *args],
        cwd=str(cwd),
        env=clean,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(textwrap.dedent(text).lstrip("\n"))
    return path


def test_print_config_shows_each_value_and_its_source(tmp_path):
    write(
        tmp_path,
        "gunicorn.conf.py",
        """
        import multiprocessing
        workers = 3
        threads = 4
        """,
    )
    result = glade(
        "-c", "gunicorn.conf.py", "-t", "9", "--print-config",
        cwd=tmp_path, env={"GLADE_KEEPALIVE": "7", "GLADE_CMD_ARGS": "--backlog 99"},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    lines = {line.split(" = ")[0]: line for line in result.stdout.splitlines() if " = " in line}
    assert lines["workers"].startswith("workers = 3 ")
    assert lines["workers"].endswith("# gunicorn.conf.py:2")
    assert lines["keepalive"].endswith("# env GLADE_KEEPALIVE")
    assert lines["backlog"].endswith("# GLADE_CMD_ARGS --backlog")
    assert lines["timeout"].startswith("timeout = 9.0 ")
    assert lines["timeout"].endswith("# flag -t/--timeout")
    assert lines["max_requests"].endswith("# default")
    assert lines["threads"].endswith("# gunicorn.conf.py:3 (ignored)")
    assert result.stderr == (
        "glade: warning: setting 'threads' (from gunicorn.conf.py:3) is ignored: "
        "a gevent worker runs each connection in a greenlet (see worker_connections)\n"
    )


def test_check_config_loads_the_config_and_the_app(tmp_path):
    write(tmp_path, "glade.toml", f'pythonpath = ["{APPS_DIR}"]\nworkers = 2\n')
    result = glade("--check-config", "validated:app", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (
        result.stdout
        == "glade: config and app OK: validated:app, 2 gevent workers on 127.0.0.1:8000\n"
    )


@pytest.mark.parametrize(
    ("args", "files", "error"),
    [
        (("validated:nope",), {}, "module 'validated' has no attribute 'nope'"),
        (("-w", "0", "validated:app"), {}, "setting 'workers' (from flag -w/--workers) is '0'"),
        (
            ("--chdir", "/no/such/dir", "validated:app"),
            {},
            "setting 'chdir' (from flag --chdir) is '/no/such/dir'; expected an existing directory",
        ),
        (
            ("--access-logfile", "/no/such/dir/access.log", "validated:app"),
            {},
            "expected a file in a writable directory",
        ),
        (
            ("-b", "no-such-host.invalid:8000", "validated:app"),
            {},
            "no-such-host.invalid:8000: cannot resolve the host",
        ),
        (("validated:app",), {"glade.toml": "wrokers = 2\n"}, "did you mean 'workers'?"),
        ((), {}, "no app given"),
    ],
    ids=["bad-app", "bad-value", "no-chdir", "log-dir", "unresolvable", "toml-key", "no-app"],
)
def test_check_config_reports_problems_and_exits_1(tmp_path, args, files, error):
    for name, text in files.items():
        write(tmp_path, name, text)
    env = {"GLADE_PYTHONPATH": str(APPS_DIR)}
    result = glade("--check-config", *args, cwd=tmp_path, env=env)
    assert result.returncode == 1, result
    assert TRACEBACK not in result.stdout + result.stderr
    errors = result.stderr.splitlines()
    assert len(errors) == 1 and errors[0].startswith("glade: error: "), result.stderr
    assert error in errors[0]


MISTAKES = {
    "negative-workers-in-file": (
        {"gunicorn.conf.py": "import os\nworkers = -2\n"},
        ("-c", "gunicorn.conf.py"),
        {},
        "setting 'workers' (from gunicorn.conf.py:2) is -2; expected an integer >= 1",
    ),
    "unknown-toml-key": (
        {"glade.toml": "bind = '0.0.0.0:8000'\nworker_class = 'gevent'\ntimeuot = 5\n"},
        (),
        {},
        "setting 'timeuot' = 5 (from glade.toml:3) is not a Glade setting; did you mean 'timeout'?",
    ),
    "wrong-type-in-pyproject": (
        {"pyproject.toml": "[project]\nname = 'x'\n\n[tool.glade]\nworkers = 'many'\n"},
        (),
        {},
        "setting 'workers' (from pyproject.toml:5) is 'many'; expected an integer >= 1",
    ),
    "bad-bind-in-env": (
        {},
        (),
        {"GLADE_BIND": "0.0.0.0:http"},
        "setting 'bind' (from env GLADE_BIND) is '0.0.0.0:http'; expected a port number",
    ),
    "unreadable-file": (
        {},
        ("-c", "."),
        {},
        "cannot read config file '.' (from flag -c/--config): Is a directory",
    ),
    "hook-not-callable": (
        {"gunicorn.conf.py": "workers = 2\nwhen_ready = True\n"},
        ("-c", "gunicorn.conf.py"),
        {},
        "setting 'when_ready' (from gunicorn.conf.py:2) is True; "
        "expected a function taking 1 argument (server)",
    ),
    "hook-wrong-arity": (
        {"gunicorn.conf.py": "def child_exit(server):\n    pass\n"},
        ("-c", "gunicorn.conf.py"),
        {},
        "setting 'child_exit' (from gunicorn.conf.py:1) is <function child_exit(server)>; "
        "expected a function taking 2 arguments (server, worker)",
    ),
    "daemon": (
        {"gunicorn.conf.py": "daemon = True\n"},
        ("-c", "gunicorn.conf.py"),
        {},
        "setting 'daemon' (from gunicorn.conf.py:1) is True; expected false: Glade does "
        "not daemonize",
    ),
    "config-file-raises": (
        {"gunicorn.conf.py": "import os\n\nbind = os.environ['BIND']\n"},
        ("-c", "gunicorn.conf.py"),
        {},
        "config file gunicorn.conf.py:3: KeyError: 'BIND'",
    ),
    "bad-cmd-args": (
        {},
        (),
        {"GLADE_CMD_ARGS": "--timeout soon"},
        "setting 'timeout' (from GLADE_CMD_ARGS --timeout) is 'soon'; "
        "expected a number of seconds >= 0",
    ),
    "mistyped-flag-in-cmd-args": (
        {},
        (),
        {"GLADE_CMD_ARGS": "--timout 30"},
        "env GLADE_CMD_ARGS is '--timout 30'; unknown flag --timout; did you mean --timeout?",
    ),
}


@pytest.mark.parametrize("case", MISTAKES, ids=list(MISTAKES))
def test_mistakes_are_one_line_and_exit_2(tmp_path, case):
    files, args, env, message = MISTAKES[case]
    for name, text in files.items():
        write(tmp_path, name, text)
    result = glade(*args, "validated:app", cwd=tmp_path, env=env)
    assert result.returncode == 2, result
    assert result.stdout == ""
    assert TRACEBACK not in result.stderr
    errors = result.stderr.splitlines()
    assert len(errors) == 1, result.stderr
    assert errors[0].startswith(f"glade: error: {message}"), errors[0]


def test_help_groups_flags_like_the_docs(tmp_path):
    result = glade("--help", cwd=tmp_path)
    assert result.returncode == 0
    sections = [line[:-1] for line in result.stdout.splitlines() if line.endswith(":")]
    docs = (REPO / "docs" / "settings.md").read_text()
    documented = [line[3:] for line in docs.splitlines() if line.startswith("## ")]
    assert [s for s in sections if s in documented] == [s for s in documented if s in sections]
    assert "Server hooks" in sections and "Timeouts" in sections


def test_help_points_at_help_settings_not_at_a_file_pip_users_lack(tmp_path):
    result = glade("--help", cwd=tmp_path)
    assert result.returncode == 0
    assert "docs/settings.md" not in result.stdout
    epilog = " ".join(result.stdout.split()).rsplit("old_value), on_exit(server).", 1)[1]
    assert "glade --help-settings prints every setting in full" in epilog


def _entries(text: str, names) -> dict[str, list[str]]:
    """`name` -> the lines of its entry (the indented lines under it)."""
    entries: dict[str, list[str]] = {}
    current = None
    for line in text.splitlines():
        if line in names:
            current = entries.setdefault(line, [])
        elif current is not None and (line.startswith("    ") or not line):
            current.append(line.strip())
        else:
            current = None
    return entries


def test_help_settings_prints_every_setting_in_full(tmp_path):
    from glade.config.settings import SETTINGS, format_default

    result = glade("--help-settings", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    entries = _entries(result.stdout, {setting.name for setting in SETTINGS})
    assert set(entries) == {setting.name for setting in SETTINGS}
    for setting in SETTINGS:
        lines = entries[setting.name]
        facts = dict(line.split(":  ", 1) for line in lines if ":  " in line)
        facts = {name: value.strip() for name, value in facts.items()}
        if setting.hook_args is not None:
            assert facts["Config file"] == f"def {setting.name}({', '.join(setting.hook_args)}):"
        else:
            for flag in setting.flags:
                assert flag in facts["Flag"].replace(",", " ").split(), setting.name
            if setting.in_env:
                assert setting.env_var in facts["Environment"], setting.name
            if setting.in_file:
                assert facts["Config key"] == setting.name
            assert facts["Default"] == format_default(setting), setting.name
            if not setting.is_action:
                assert facts["Accepts"] == setting.expects, setting.name
        doc = " ".join(setting.doc.replace("`", "").split())
        assert doc in " ".join(lines), setting.name


def test_help_settings_piped_into_head_ends_quietly(tmp_path):
    """`glade --help-settings | head`: the reader leaves early; no traceback."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("GLADE_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "glade", "--help-settings"],
        cwd=str(tmp_path),
        env=clean,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
    )
    proc.stdout.close()  # before Glade writes a byte: its write meets EPIPE
    try:
        _, errors = proc.communicate(timeout=20)
    finally:
        proc.kill()
    assert proc.returncode == 0
    assert errors == b""


@pytest.mark.parametrize("name", sorted(p.name for p in (TESTS_DIR / "configs").glob("*.py")))
def test_realistic_gunicorn_files_print_their_config(tmp_path, name):
    result = glade("-c", str(TESTS_DIR / "configs" / name), "--print-config", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert TRACEBACK not in result.stderr
    warnings = result.stderr.splitlines()
    assert all(line.startswith("glade: warning: ") for line in warnings), result.stderr
    assert len(warnings) == len(set(warnings))


# -- real servers ----------------------------------------------------------------


def test_warnings_appear_once_at_startup(glade_server, tmp_path):
    config = write(tmp_path, "gunicorn.conf.py", "threads = 4\nspew = True\n")
    server = glade_server("validated:app", "-c", str(config), "-w", "2")
    output = server.output()
    assert output.count("glade: warning: setting 'threads'") == 1
    assert output.count("glade: warning: setting 'spew'") == 1


def test_port_binds_all_interfaces(glade_server):
    port = free_port()
    server = glade_server("validated:app", bind=None, env={"PORT": str(port)})
    assert server.address == f"0.0.0.0:{port}"
    assert requests.get(f"http://127.0.0.1:{port}/", timeout=10).text == "Hello, World!"


def test_glade_cmd_args_configures_the_server(glade_server):
    server = glade_server(
        "validated:app", env={"GLADE_CMD_ARGS": "-w 2 --access-logfile - --log-level=debug"}
    )
    assert len(server.worker_pids()) == 2
    requests.get(server.url + "/?q=cmdargs", timeout=10)
    server.wait_for_output('"GET /?q=cmdargs HTTP/1.1" 200')


def test_glade_conf_py_in_the_working_directory_is_used(glade_server, tmp_path):
    write(
        tmp_path,
        "glade.conf.py",
        f"""
        pythonpath = [{str(APPS_DIR)!r}]
        workers = 2
        worker_class = "sync"
        """,
    )
    server = glade_server("validated:app", cwd=tmp_path)
    assert len(server.worker_pids()) == 2
    assert "Using worker: sync" in server.output()
    assert requests.get(server.url, timeout=10).text == "Hello, World!"


@pytest.mark.parametrize("example", ["gunicorn.conf.py", "glade.toml"])
def test_example_configs_serve(glade_server, example):
    server = glade_server("hello:app", "-c", f"examples/{example}", "-w", "1", cwd=REPO)
    assert requests.get(server.url, timeout=10).text == "Hello, World!\n"
    server.signal(signal.SIGTERM)
    assert server.wait(timeout=20) == 0
    assert server.tracebacks() == 0


def test_raw_env_reaches_the_app_and_a_reload_updates_it(glade_server, tmp_path):
    config = tmp_path / "gunicorn.conf.py"
    config.write_text('raw_env = ["GREETING=hello", "FAREWELL=bye", "KEPT=overridden", "EMPTY="]\n')
    server = glade_server("validated:app", "-c", str(config), env={"KEPT": "from the shell"})
    assert server.get("/osenv?KEPT") == (200, b"overridden")
    assert server.get("/osenv?GREETING") == (200, b"hello")
    assert server.get("/osenv?FAREWELL") == (200, b"bye")
    config.write_text('raw_env = ["GREETING=bonjour"]\n')
    server.signal(signal.SIGHUP)
    assert wait_until(lambda: server.get("/osenv?GREETING") == (200, b"bonjour"), 15)
    # Names dropped from raw_env are gone, or back to what the master started with.
    assert server.get("/osenv?FAREWELL") == (200, b"")
    assert server.get("/osenv?KEPT") == (200, b"from the shell")


def test_raw_env_from_the_command_line(glade_server):
    server = glade_server("validated:app", "-e", "FROM_FLAG=yes", "--env", "OTHER=1")
    assert server.get("/osenv?FROM_FLAG") == (200, b"yes")
    assert server.get("/osenv?OTHER") == (200, b"1")
