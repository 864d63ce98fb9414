"""Where settings come from: defaults < file < env < GLADE_CMD_ARGS < argv,
each value with its source. Real files on disk, real os.environ, real argv
through glade.cli.load (the path `glade` itself takes)."""

from __future__ import annotations

import pytest

from glade.cli import load
from glade.config import ConfigError


def test_defaults():
    cfg = load([])
    assert cfg.workers == 1
    assert cfg.bind == ["127.0.0.1:8000"]
    assert cfg.worker_class == "gevent"
    assert str(cfg.source_of("workers")) == "default"
    assert cfg.config is None
    assert cfg.warnings == []


def test_each_source_overrides_the_one_below(write, monkeypatch):
    write("glade.conf.py", "bind = '0.0.0.0:1'\nworkers = 2\n")
    cfg = load([])
    assert (cfg.workers, str(cfg.source_of("workers"))) == (2, "glade.conf.py:2")

    monkeypatch.setenv("GLADE_WORKERS", "3")
    cfg = load([])
    assert (cfg.workers, str(cfg.source_of("workers"))) == (3, "env GLADE_WORKERS")

    monkeypatch.setenv("GLADE_CMD_ARGS", "-w 4 --timeout '45'")
    cfg = load([])
    assert (cfg.workers, str(cfg.source_of("workers"))) == (4, "GLADE_CMD_ARGS -w/--workers")
    assert cfg.timeout == 45.0

    cfg = load(["--workers", "5"])
    assert (cfg.workers, str(cfg.source_of("workers"))) == (5, "flag --workers")
    assert cfg.timeout == 45.0  # GLADE_CMD_ARGS still applies to what argv does not set
    assert cfg.bind == ["0.0.0.0:1"]  # and the file to what nothing else sets
    assert cfg.argv == ["--workers", "5"]


def test_app_from_argument_and_from_file(write):
    write("glade.conf.py", "wsgi_app = 'mysite.wsgi:application'\n")
    assert load([]).wsgi_app == "mysite.wsgi:application"
    cfg = load(["other:app"])
    assert cfg.wsgi_app == "other:app"
    assert str(cfg.source_of("wsgi_app")) == "command line"


def test_repeated_bind_flags_listen_on_each():
    cfg = load(["-b", "127.0.0.1:8001", "--bind", "unix:/tmp/glade.sock"])
    assert cfg.bind == ["127.0.0.1:8001", "unix:/tmp/glade.sock"]


def test_bind_from_the_environment_may_list_several():
    cfg = load([], environ={"GLADE_BIND": "127.0.0.1:1, [::1]:2"})
    assert cfg.bind == ["127.0.0.1:1", "[::1]:2"]


# -- which config file ----------------------------------------------------------


def test_glade_conf_py_is_found_in_the_working_directory(write):
    write("glade.conf.py", "workers = 3\n")
    write("glade.toml", "workers = 4\n")
    cfg = load([])
    assert cfg.workers == 3
    assert str(cfg.source_of("config")) == "found in the working directory: glade.conf.py"


def test_glade_toml_is_found_next(write):
    write("glade.toml", "workers = 4\n")
    assert load([]).workers == 4


def test_pyproject_counts_only_with_a_tool_glade_table(write):
    write("pyproject.toml", "[project]\nname = 'x'\n[tool.ruff]\nline-length = 100\n")
    assert load([]).config is None
    write(
        "pyproject.toml",
        """
        [project]
        name = "x"

        [tool.glade]
        workers = 6
        bind = ["0.0.0.0:9000"]
        """,
    )
    cfg = load([])
    assert cfg.workers == 6
    assert str(cfg.source_of("workers")) == "pyproject.toml:5"
    assert cfg.bind == ["0.0.0.0:9000"]


def test_config_flag_wins_over_the_found_file(write):
    write("glade.conf.py", "workers = 3\n")
    write("conf/gunicorn.conf.py", "workers = 7\n")
    cfg = load(["-c", "conf/gunicorn.conf.py"])
    assert cfg.workers == 7
    assert str(cfg.source_of("workers")) == "conf/gunicorn.conf.py:1"
    assert str(cfg.source_of("config")) == "flag -c/--config"


def test_config_from_glade_config_and_from_glade_cmd_args(write, monkeypatch):
    write("a.py", "workers = 2\n")
    write("b.py", "workers = 3\n")
    monkeypatch.setenv("GLADE_CONFIG", "a.py")
    assert load([]).workers == 2
    monkeypatch.setenv("GLADE_CMD_ARGS", "-c b.py")
    assert load([]).workers == 3
    assert load(["--config", "a.py"]).workers == 2


def test_file_prefix_and_absolute_path(write):
    path = write("settings/server.py", "workers = 5\n")
    assert load(["-c", "file:settings/server.py"]).workers == 5
    cfg = load(["-c", str(path)])
    assert str(cfg.source_of("workers")) == f"{path}:1"


def test_python_module_config(write):
    write("deploy/__init__.py", "")
    write("deploy/glade_settings_for_test.py", "import os\n\nworkers = 4\ntimeout = 12\n")
    cfg = load(["-c", "python:deploy.glade_settings_for_test"])
    assert (cfg.workers, cfg.timeout) == (4, 12.0)
    assert str(cfg.source_of("workers")) == "deploy/glade_settings_for_test.py:3"


def test_python_file_without_py_suffix(write):
    write("gunicorn.conf", "workers = 2\n")
    assert load(["-c", "gunicorn.conf"]).workers == 2


def test_names_bound_inside_blocks_have_their_line(write):
    write(
        "glade.conf.py",
        """
        import os

        if os.environ.get("NEVER_SET_IN_TESTS"):
            workers = 8
        else:
            workers = 2
        try:
            from not_a_module_anywhere import timeout
        except ImportError:
            timeout = 10
        """,
    )
    cfg = load([])
    assert (cfg.workers, cfg.timeout) == (2, 10.0)
    assert str(cfg.source_of("workers")) == "glade.conf.py:6"
    assert str(cfg.source_of("timeout")) == "glade.conf.py:10"


# -- TOML -------------------------------------------------------------------------


def test_toml_file_types_and_lines(write):
    write(
        "glade.toml",
        """
        # a comment
        bind = [
            "127.0.0.1:8001",
            "unix:/tmp/glade-test.sock",
        ]
        workers = 3
        worker-class = "sync"
        "keepalive" = 7.5
        pythonpath = ["src", "lib"]
        preload_app = false

        [logconfig_dict]
        version = 1
        """,
    )
    cfg = load([])
    assert cfg.bind == ["127.0.0.1:8001", "unix:/tmp/glade-test.sock"]
    assert cfg.worker_class == "sync"
    assert cfg.keepalive == 7.5
    assert cfg.pythonpath == ["src", "lib"]
    assert cfg.logconfig_dict == {"version": 1}
    assert str(cfg.source_of("bind")) == "glade.toml:2"
    assert str(cfg.source_of("worker_class")) == "glade.toml:7"
    assert str(cfg.source_of("keepalive")) == "glade.toml:8"
    assert str(cfg.source_of("logconfig_dict")) == "glade.toml:12"
    assert [w for w in cfg.warnings if "preload_app" in w] == []  # false is the default


def test_toml_hooks_are_import_paths(write):
    write("myhooks_for_toml_test.py", "def on_starting(server):\n    pass\n")
    write("glade.toml", 'on_starting = "myhooks_for_toml_test.on_starting"\n')
    cfg = load([])
    assert cfg.on_starting.__name__ == "on_starting"


# -- the environment's conventions --------------------------------------------------


def test_web_concurrency_sets_workers_below_glade_workers(write, monkeypatch):
    write("glade.conf.py", "workers = 2\n")
    monkeypatch.setenv("WEB_CONCURRENCY", "5")
    cfg = load([])
    assert (cfg.workers, str(cfg.source_of("workers"))) == (5, "env WEB_CONCURRENCY")
    monkeypatch.setenv("GLADE_WORKERS", "6")
    assert load([]).workers == 6
    assert load(["-w", "7"]).workers == 7


def test_empty_web_concurrency_is_ignored(monkeypatch):
    monkeypatch.setenv("WEB_CONCURRENCY", "")
    assert load([]).workers == 1


def test_port_applies_only_when_nothing_set_bind(write, monkeypatch):
    monkeypatch.setenv("PORT", "5005")
    cfg = load([])
    assert cfg.bind == ["0.0.0.0:5005"]
    assert str(cfg.source_of("bind")) == "env PORT"
    assert load(["-b", "127.0.0.1:1"]).bind == ["127.0.0.1:1"]
    monkeypatch.setenv("GLADE_CMD_ARGS", "-b 127.0.0.1:2")
    assert load([]).bind == ["127.0.0.1:2"]
    monkeypatch.delenv("GLADE_CMD_ARGS")
    monkeypatch.setenv("GLADE_BIND", "127.0.0.1:3")
    assert load([]).bind == ["127.0.0.1:3"]
    monkeypatch.delenv("GLADE_BIND")
    write("glade.conf.py", "bind = '127.0.0.1:8000'\n")  # even the default value, set in a file
    assert load([]).bind == ["127.0.0.1:8000"]


def test_bad_port_is_an_error(monkeypatch):
    monkeypatch.setenv("PORT", "http")
    with pytest.raises(ConfigError, match=r"env PORT is 'http'; expected a port number"):
        load([])


def test_forwarded_allow_ips_and_script_name(monkeypatch):
    monkeypatch.setenv("FORWARDED_ALLOW_IPS", "10.0.0.1, 10.0.0.2")
    monkeypatch.setenv("SCRIPT_NAME", "/app/")
    cfg = load([])
    assert cfg.forwarded_allow_ips == ["10.0.0.1", "10.0.0.2"]
    assert str(cfg.source_of("forwarded_allow_ips")) == "env FORWARDED_ALLOW_IPS"
    assert cfg.script_name == "/app"
    assert cfg.warnings == []


def test_misspelt_glade_variable_warns_and_others_are_left_alone(monkeypatch):
    monkeypatch.setenv("GLADE_WROKERS", "3")
    monkeypatch.setenv("GLADE_CATALOG_SEARCH_PATH", "/usr/share/glade")  # the GTK tool's
    cfg = load([])
    assert cfg.warnings == [
        "env GLADE_WROKERS is not a Glade setting and is ignored; did you mean GLADE_WORKERS?"
    ]


def test_glade_cmd_args_can_name_the_app(monkeypatch):
    monkeypatch.setenv("GLADE_CMD_ARGS", "--workers=2 myapp:app")
    cfg = load([])
    assert (cfg.workers, cfg.wsgi_app) == (2, "myapp:app")
