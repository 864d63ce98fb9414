"""Mistakes a user makes: each is one line naming the setting, the value,
where it came from (file:line, env var or flag) and what is expected.
(tests/integration/config/test_config_errors.py checks the exit status 2 and
the absence of tracebacks with a real process.)"""

from __future__ import annotations

import os

import pytest

from glade.cli import UsageError, load
from glade.config import ConfigError


def error_of(*argv, **env) -> str:
    with pytest.raises(ConfigError) as caught:
        load(list(argv), environ=env or None)
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_negative_workers_from_each_source(write):
    assert error_of("-w", "-1") == (
        "setting 'workers' (from flag -w/--workers) is '-1'; expected an integer >= 1, or auto"
    )
    assert error_of(GLADE_WORKERS="-1") == (
        "setting 'workers' (from env GLADE_WORKERS) is '-1'; expected an integer >= 1, or auto"
    )
    assert error_of(WEB_CONCURRENCY="0") == (
        "setting 'workers' (from env WEB_CONCURRENCY) is '0'; expected an integer >= 1, or auto"
    )
    write("gunicorn.conf.py", "import os\n\nworkers = -1\n")
    assert error_of("-c", "gunicorn.conf.py") == (
        "setting 'workers' (from gunicorn.conf.py:3) is -1; expected an integer >= 1, or auto"
    )


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("workers = 'four'", "'four'; expected an integer >= 1"),
        ("workers = 2.5", "2.5; expected an integer >= 1"),
        ("workers = True", "True; expected an integer >= 1"),
        ("timeout = '30s'", "'30s'; expected a number of seconds >= 0"),
        ("keepalive = -1", "-1; expected a number of seconds >= 0"),
        # The compiled parser holds the request limits as C integers.
        ("limit_request_line = 2**63", "expected an integer from 0 to 2147483647"),
        ("limit_request_head = 2**31", "2147483648; expected an integer from 0 to 2147483647"),
        ("bind = 8000", "8000; expected an address like 127.0.0.1:8000"),
        ("bind = ['127.0.0.1:80', 42]", "expected an address like 127.0.0.1:8000"),
        ("pythonpath = 3", "3; expected a list of strings"),
        ("loglevel = 'loud'", "'loud'; expected one of debug, info, warning"),
        ("worker_class = 'gthread'", "'gthread'; expected gevent or sync (gevent serves"),
        ("worker_class = 'uvicorn.workers.UvicornWorker'", "Glade serves WSGI apps only"),
        ("secure_scheme_headers = ['X-Forwarded-Proto']", "expected a dict of header"),
        ("forwarded_allow_ips = '10.0.0.1,proxy.internal'", "'proxy.internal' is not an IP"),
        ("forwarded_allow_ips = ['10.0.0.0/33']", "'10.0.0.0/33' is not an IP address"),
        ("raw_env = ['NOEQUALS']", "expected a list of NAME=VALUE strings"),
        ("umask = 'rw'", "expected an octal integer"),
        ("user = 'no-such-user-here'", "there is no user named 'no-such-user-here'"),
        ("group = 'no-such-group-here'", "there is no group named 'no-such-group-here'"),
        ("user = 1.5", "expected a user name or a numeric id"),
    ],
)
def test_wrong_type_in_a_python_file(write, line, expected):
    write("gunicorn.conf.py", f"# deploy settings\n{line}\n")
    message = error_of("-c", "gunicorn.conf.py")
    name = line.split(" =")[0]
    assert message.startswith(f"setting {name!r} (from gunicorn.conf.py:2) is ")
    assert expected in message


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("127.0.0.1:99999", "expected a port number 0-65535"),
        ("::1:8000", "an IPv6 address needs brackets"),
        ("[::1", "expected [IPV6]:PORT"),
        ("unix:", "expected unix:PATH"),
        ("localhost:http", "expected a port number"),
    ],
)
def test_bad_bind_address(address, expected):
    message = error_of("-b", address)
    assert message.startswith(f"setting 'bind' (from flag -b/--bind) is {[address]!r}; ")
    assert expected in message


def test_daemon_is_refused_pointing_to_systemd(write):
    write("gunicorn.conf.py", "bind = '0.0.0.0:80'\ndaemon = True\n")
    message = error_of("-c", "gunicorn.conf.py")
    assert message.startswith("setting 'daemon' (from gunicorn.conf.py:2) is True; expected false")
    assert "systemd" in message
    assert "systemd" in error_of("--daemon")
    write("ok.py", "daemon = False\n")
    assert load(["-c", "ok.py"]).daemon is False


def test_unknown_setting_in_toml(write):
    write("glade.toml", "workers = 2\nwrokers = 4\n")
    assert error_of() == (
        "setting 'wrokers' = 4 (from glade.toml:2) is not a Glade setting; did you mean 'workers'?"
    )
    write("glade.toml", "[tool]\nflavour = 'x'\n")
    assert error_of() == (
        "setting 'tool' = {'flavour': 'x'} (from glade.toml:1) is not a Glade setting; "
        "see glade --help-settings"
    )
    write("glade.toml", "print_config = true\n")
    assert "cannot be set in a config file" in error_of()


def test_wrong_type_in_toml(write):
    write("glade.toml", 'bind = "0.0.0.0:8000"\ntimeout = "soon"\n')
    assert error_of() == (
        "setting 'timeout' (from glade.toml:2) is 'soon'; expected a number of seconds >= 0"
    )


def test_invalid_toml(write):
    write("glade.toml", "workers = \n")
    assert error_of().startswith("config file glade.toml: invalid TOML: ")


def test_pyproject_named_without_a_glade_table(write):
    write("pyproject.toml", "[project]\nname = 'x'\n")
    assert error_of("-c", "pyproject.toml") == "config file pyproject.toml: no [tool.glade] table"


def test_missing_and_unreadable_files(write, tmp_path):
    assert error_of("-c", "nope.py") == (
        "cannot read config file 'nope.py' (from flag -c/--config): No such file or directory"
    )
    (tmp_path / "adir.py").mkdir()
    assert error_of(GLADE_CONFIG="adir.py") == (
        "cannot read config file 'adir.py' (from env GLADE_CONFIG): Is a directory"
    )


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_file_without_read_permission(write):
    path = write("secret.py", "workers = 2\n")
    path.chmod(0)
    assert error_of("-c", "secret.py").endswith("(from flag -c/--config): Permission denied")


def test_python_file_that_fails(write):
    write("gunicorn.conf.py", "import os\n\nworkers = int(os.environ['NOT_SET_ANYWHERE_X'])\n")
    assert error_of("-c", "gunicorn.conf.py") == (
        "config file gunicorn.conf.py:3: KeyError: 'NOT_SET_ANYWHERE_X'"
    )
    write("gunicorn.conf.py", "workers = 2\nbind = '0.0.0.0:8000\n")
    assert error_of("-c", "gunicorn.conf.py").startswith(
        "config file gunicorn.conf.py:2: SyntaxError: "
    )
    write("gunicorn.conf.py", "import sys\nsys.exit(3)\n")
    assert (
        error_of("-c", "gunicorn.conf.py") == "config file gunicorn.conf.py: it called sys.exit()"
    )


def test_missing_python_module():
    assert error_of("-c", "python:no_such_settings_module").startswith(
        "config module 'no_such_settings_module': no module named 'no_such_settings_module'"
    )


def test_bad_glade_cmd_args():
    assert error_of(GLADE_CMD_ARGS="-w 'two") == (
        'env GLADE_CMD_ARGS is "-w \'two"; No closing quotation'
    )
    assert error_of(GLADE_CMD_ARGS="--wrokers 2") == (
        "env GLADE_CMD_ARGS is '--wrokers 2'; unknown flag --wrokers; did you mean --workers?"
    )
    assert error_of(GLADE_CMD_ARGS="-w x") == (
        "setting 'workers' (from GLADE_CMD_ARGS -w/--workers) is 'x'; "
        "expected an integer >= 1, or auto"
    )


def test_bad_argv_is_a_usage_error():
    with pytest.raises(UsageError, match=r"^unknown flag --wrokers; did you mean --workers\?$"):
        load(["--wrokers", "2"])
    with pytest.raises(UsageError, match=r"^unrecognized arguments: b:app$"):
        load(["a:app", "b:app"])
    with pytest.raises(UsageError, match="expected one argument"):
        load(["-w"])


# -- hooks ------------------------------------------------------------------------


def test_hook_that_is_not_callable(write):
    write("gunicorn.conf.py", "workers = 2\npost_fork = 'not a hook'\n")
    assert error_of("-c", "gunicorn.conf.py") == (
        "setting 'post_fork' (from gunicorn.conf.py:2) is 'not a hook'; "
        "expected a function, or an import path like myapp.hooks.on_starting"
    )
    write("gunicorn.conf.py", "on_exit = 42\n")
    assert error_of("-c", "gunicorn.conf.py") == (
        "setting 'on_exit' (from gunicorn.conf.py:1) is 42; "
        "expected a function taking 1 argument (server)"
    )


def test_hook_with_the_wrong_arguments(write):
    write(
        "gunicorn.conf.py",
        """
        bind = "0.0.0.0:8000"


        def post_fork(server):
            server.log.info("forked")
        """,
    )
    assert error_of("-c", "gunicorn.conf.py") == (
        "setting 'post_fork' (from gunicorn.conf.py:4) is <function post_fork(server)>; "
        "expected a function taking 2 arguments (server, worker)"
    )
    write("gunicorn.conf.py", "def nworkers_changed(server, new):\n    pass\n")
    assert "expected a function taking 3 arguments (server, new_value, old_value)" in (
        error_of("-c", "gunicorn.conf.py")
    )
    write("gunicorn.conf.py", "def post_request(worker):\n    pass\n")
    assert "expected a function taking 2, 3 or 4 arguments" in error_of("-c", "gunicorn.conf.py")


def test_hook_import_path_that_does_not_import(write):
    write("glade.toml", 'when_ready = "no_such_hooks_module.when_ready"\n')
    assert error_of().startswith(
        "setting 'when_ready' (from glade.toml:1) is 'no_such_hooks_module.when_ready'; "
        "cannot import 'no_such_hooks_module'"
    )
