"""The table is the one source: every setting reaches the CLI, the
environment, files, --print-config and the docs, and the docs are fresh."""

from __future__ import annotations

from pathlib import Path

import pytest

from glade.cli import build_parser, format_config, load
from glade.config import BY_NAME, HOOKS, SECTIONS, SETTINGS
from glade.config.docs import main as docs_main
from glade.config.docs import render

REPO = Path(__file__).resolve().parents[3]

# One valid text value per setting that the environment can set, and what it
# becomes. A new setting without a sample here fails the test below.
SAMPLES = {
    "config": None,  # chooses the file; tested in test_config_sources.py
    "bind": ("127.0.0.1:9999", ["127.0.0.1:9999"]),
    "backlog": ("64", 64),
    "reuse_port": ("true", True),
    "workers": ("3", 3),
    "worker_class": ("sync", "sync"),
    "worker_connections": ("50", 50),
    "threads": ("4", 4),
    "block_warn_ms": ("0", 0),
    "max_requests": ("100", 100),
    "max_requests_jitter": ("10", 10),
    "timeout": ("12.5", 12.5),
    "graceful_timeout": ("5", 5.0),
    "keepalive": ("0", 0.0),
    "shutdown_delay": ("1.5", 1.5),
    "first_byte_timeout": ("2", 2.0),
    "header_min_rate": ("100", 100),
    "request_timeout": ("2.5", 2.5),
    "max_worker_memory": ("512", 512),
    "max_worker_lifetime": ("3600", 3600.0),
    "max_worker_lifetime_jitter": ("60", 60.0),
    "metrics_bind": ("127.0.0.1:9100", "127.0.0.1:9100"),
    "statsd_host": ("localhost:8125", "localhost:8125"),
    "statsd_prefix": ("web", "web"),
    "dogstatsd_tags": ("env:prod,app:web", "env:prod,app:web"),
    "header_timeout": ("3", 3.0),
    "body_timeout": ("4", 4.0),
    "limit_request_line": ("0", 0),
    "limit_request_fields": ("10", 10),
    "limit_request_field_size": ("100", 100),
    "limit_request_head": ("65536", 65536),
    "limit_request_body": ("1048576", 1048576),
    "wsgi_app": ("pkg.mod:make_app()", "pkg.mod:make_app()"),
    "chdir": ("/srv", "/srv"),
    "pythonpath": ("a,b", ["a", "b"]),
    "script_name": ("/base", "/base"),
    "raw_env": ("A=1", ["A=1"]),
    "preload_app": ("yes", True),
    "reload": ("1", True),
    "forwarded_allow_ips": ("*", ["*"]),
    "proxy_headers": ("false", False),
    "proxy_host_headers": ("true", True),
    "secure_scheme_headers": ("X-Forwarded-Ssl=on", {"X-FORWARDED-SSL": "on"}),
    "proxy_protocol": ("v2", "v2"),
    "proxy_allow_ips": ("10.0.0.1", ["10.0.0.1"]),
    "certfile": ("c.pem", "c.pem"),
    "keyfile": ("k.pem", "k.pem"),
    "ca_certs": ("ca.pem", "ca.pem"),
    "cert_reqs": ("required", 2),
    "ciphers": ("ECDHE+AESGCM", "ECDHE+AESGCM"),
    "daemon": ("false", False),
    "pidfile": ("/tmp/glade.pid", "/tmp/glade.pid"),
    "user": ("1000", 1000),
    "group": ("root", "root"),
    "initgroups": ("true", True),
    "umask": ("022", 0o22),
    "proc_name": ("web", "web"),
    "reload_extra_files": ("a.html", ["a.html"]),
    "errorlog": ("/tmp/e.log", "/tmp/e.log"),
    "loglevel": ("WARNING", "warning"),
    "accesslog": ("-", "-"),
    "access_log_format": ("json", "json"),
    "error_log_format": ("JSON", "json"),
    "syslog": ("true", True),
    "syslog_addr": ("unix:///dev/log#dgram", "unix:///dev/log#dgram"),
    "syslog_prefix": ("site", "site"),
    "syslog_facility": ("local7", "local7"),
    "disable_redirect_access_to_syslog": ("1", True),
    "logconfig_dict": ('{"version": 1}', {"version": 1}),
}


def test_every_environment_setting_has_a_sample():
    assert set(SAMPLES) == {s.name for s in SETTINGS if s.env_var}


@pytest.mark.parametrize("name", [n for n, sample in SAMPLES.items() if sample])
def test_every_setting_from_its_environment_variable(name, monkeypatch):
    text, expected = SAMPLES[name]
    monkeypatch.setenv(BY_NAME[name].env_var, text)
    cfg = load([])
    assert getattr(cfg, name) == expected
    assert str(cfg.source_of(name)) == f"env {BY_NAME[name].env_var}"


@pytest.mark.parametrize(
    "name", [n for n, s in SAMPLES.items() if s and BY_NAME[n].flags and n != "daemon"]
)
def test_every_setting_from_its_flags(name):
    """(-D/--daemon is refused; see test_config_errors.py.)"""
    setting = BY_NAME[name]
    text, expected = SAMPLES[name]
    for flag in setting.flags + setting.gunicorn_flags:
        argv = [flag] if setting.is_switch else [flag, text]
        cfg = load(argv)
        if setting.is_switch:
            assert getattr(cfg, name) is True
        else:
            assert getattr(cfg, name) == expected
        assert str(cfg.source_of(name)).startswith(f"flag {flag}")


def test_every_file_setting_from_a_python_file(write):
    lines = []
    for name, sample in SAMPLES.items():
        if sample and BY_NAME[name].in_file:
            lines.append(f"{name} = {sample[1]!r}")
    write("glade.conf.py", "\n".join(lines) + "\n")
    cfg = load([])
    for number, (name, sample) in enumerate(
        ((n, s) for n, s in SAMPLES.items() if s and BY_NAME[n].in_file), 1
    ):
        assert getattr(cfg, name) == sample[1]
        assert str(cfg.source_of(name)) == f"glade.conf.py:{number}"


def test_defaults_are_valid_values():
    for setting in SETTINGS:
        if setting.hook_args is None:
            assert setting.parse(setting.default) == setting.default, setting.name


def test_table_shape():
    names = [s.name for s in SETTINGS]
    assert len(names) == len(set(names))
    flags = [f for s in SETTINGS for f in s.flags + s.gunicorn_flags]
    assert len(flags) == len(set(flags))
    for setting in SETTINGS:
        assert setting.section in SECTIONS
        assert setting.doc.strip().endswith("."), setting.name
        assert setting.expects, setting.name
    assert set(HOOKS) == {
        "on_starting", "on_reload", "when_ready", "pre_fork", "post_fork",
        "post_worker_init", "worker_int", "worker_abort", "pre_exec", "pre_request",
        "post_request", "child_exit", "worker_exit", "nworkers_changed", "on_exit",
    }  # fmt: skip
    for name in HOOKS:
        hook = BY_NAME[name]
        assert (hook.flags, hook.env_var, hook.section) == ((), None, "Server hooks")


def test_help_groups_flags_by_section_in_the_docs_order():
    text = build_parser().format_help()
    positions = [text.index(f"\n{section}:\n") for section in SECTIONS]
    assert positions == sorted(positions)
    for setting in SETTINGS:
        if not setting.flags:
            continue
        section = text.index(f"\n{setting.section}:\n")
        following = [p for p in positions if p > section]
        end = following[0] if following else len(text)
        assert section < text.index(setting.flags[-1]) < end, setting.name
    assert "--limit-request-field_size" not in text  # gunicorn's spelling: accepted, not shown
    assert "on_starting(server)" in text


def test_print_config_lists_every_value_setting_once(write):
    write("glade.conf.py", "workers = 2\n")
    text = format_config(load(["-t", "9"]))
    for setting in SETTINGS:
        count = sum(line.startswith(f"{setting.name} = ") for line in text.splitlines())
        assert count == (0 if setting.is_action else 1), setting.name
    assert "workers = 2" in text and "# glade.conf.py:1" in text
    assert "timeout = 9.0" in text and "# flag -t/--timeout" in text


def test_docs_are_generated_from_the_table():
    text = render()
    for setting in SETTINGS:
        assert f"### `{setting.name}`" in text
        for flag in setting.flags:
            assert f"`{flag}" in text
        if setting.env_var:
            assert f"`{setting.env_var}`" in text
    assert "`WEB_CONCURRENCY`" in text and "`PORT`" in text


def test_docs_say_what_each_setting_accepts():
    """The range of a bounded setting (the request limits) is in its entry,
    as the error for a value outside it says."""
    text = " ".join(render().split())
    entry = text.split("### `limit_request_line`", 1)[1].split("###", 1)[0]
    assert "Accepts an integer from 0 to 2147483647." in entry
    for setting in SETTINGS:
        if setting.hook_args is None and not setting.is_action:
            assert f"Accepts {setting.expects}" in text, setting.name


def test_docs_settings_md_is_fresh():
    """Fails when the table changed and docs/settings.md was not regenerated."""
    path = REPO / "docs" / "settings.md"
    assert docs_main(["--check", str(path)]) == 0, (
        "docs/settings.md is stale: run `python -m glade.config.docs docs/settings.md`"
    )


def test_docs_generator_writes_the_file(tmp_path):
    path = tmp_path / "settings.md"
    assert docs_main([str(path)]) == 0
    assert path.read_text(encoding="utf-8") == render()
    assert docs_main(["--check", str(path)]) == 0
    path.write_text("old", encoding="utf-8")
    assert docs_main(["--check", str(path)]) == 1
