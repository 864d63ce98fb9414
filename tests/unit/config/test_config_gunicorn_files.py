"""Realistic gunicorn config files (tests/configs/) load unchanged with
`glade -c FILE`: the effective values are what gunicorn would use, and each
setting Glade ignores is named in exactly one warning line."""

from __future__ import annotations

import grp
import multiprocessing
import pwd
from pathlib import Path

import pytest

from glade.cli import load

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
CPUS = multiprocessing.cpu_count()


def warned(cfg) -> list[str]:
    """The setting named by each warning, in order."""
    return [line.split("'")[1] for line in cfg.warnings]


def load_file(name: str, *argv: str):
    return load(["-c", str(CONFIGS / name), *argv])


def test_every_file_here_is_tested():
    tested = {name for name in globals() if name.startswith("test_")}
    for path in CONFIGS.glob("*.py"):
        assert f"test_{path.stem}" in tested, path.name


def test_django_nginx():
    cfg = load_file("django_nginx.py")
    assert cfg.wsgi_app == "myproject.wsgi:application"
    assert cfg.bind == ["unix:/run/gunicorn.sock"]
    assert cfg.workers == CPUS * 2 + 1
    assert (cfg.timeout, cfg.accesslog, cfg.errorlog, cfg.loglevel) == (120.0, "-", "-", "info")
    assert warned(cfg) == ["capture_output"]


def test_docker_env_driven(monkeypatch, capsys):
    monkeypatch.setenv("WEB_CONCURRENCY", "3")
    monkeypatch.setenv("PORT", "8080")
    monkeypatch.setenv("LOG_LEVEL", "warning")
    monkeypatch.setenv("KEEP_ALIVE", "10")
    cfg = load_file("docker_env_driven.py")
    assert cfg.workers == 3
    assert str(cfg.source_of("workers")) == "env WEB_CONCURRENCY"
    # The file builds bind from HOST and PORT itself, so PORT does not override it.
    assert cfg.bind == ["0.0.0.0:8080"]
    assert str(cfg.source_of("bind")).endswith("docker_env_driven.py:44")
    assert (cfg.loglevel, cfg.keepalive, cfg.timeout, cfg.graceful_timeout) == (
        "warning",
        10.0,
        120.0,
        120.0,
    )
    assert (cfg.errorlog, cfg.accesslog) == ("-", "-")
    assert warned(cfg) == ["worker_tmp_dir"]  # and no typo warnings for its helpers
    assert '"workers": 3' in capsys.readouterr().out  # the file's own print ran


def test_docker_env_driven_without_environment():
    cfg = load_file("docker_env_driven.py")
    assert cfg.workers == max(CPUS, 2)
    assert cfg.bind == ["0.0.0.0:80"]


def test_heroku(monkeypatch):
    monkeypatch.setenv("PORT", "41000")
    monkeypatch.setenv("WEB_CONCURRENCY", "4")
    cfg = load_file("heroku.py")
    assert cfg.bind == ["0.0.0.0:41000"]
    assert cfg.workers == 4
    assert (cfg.max_requests, cfg.max_requests_jitter, cfg.timeout, cfg.keepalive) == (
        1000,
        50,
        30.0,
        2.0,
    )
    assert cfg.preload_app is True
    assert warned(cfg) == []


def test_flask_gevent():
    cfg = load_file("flask_gevent.py")
    assert cfg.bind == ["0.0.0.0:10000"]
    assert cfg.workers == CPUS * 2 + 1
    assert (cfg.worker_class, cfg.worker_connections, cfg.timeout) == ("gevent", 1000, 60.0)
    assert cfg.loglevel == "debug"
    assert cfg.access_log_format.endswith('"%(a)s" %(D)s')
    assert cfg.wsgi_app == "app:create_app()"
    assert cfg.warnings == []


def test_gunicorn_example():
    cfg = load_file("gunicorn_example.py")
    assert cfg.bind == ["127.0.0.1:8000"]
    assert (cfg.backlog, cfg.workers, cfg.worker_class, cfg.worker_connections) == (
        2048,
        2,
        "sync",
        1000,
    )
    assert (cfg.timeout, cfg.keepalive, cfg.daemon, cfg.pidfile) == (30.0, 2.0, False, None)
    assert cfg.raw_env == ["DJANGO_SECRET_KEY=something", "SPAM=eggs"]
    for hook in ("post_fork", "pre_fork", "pre_exec", "when_ready", "worker_int", "worker_abort"):
        assert callable(getattr(cfg, hook)), hook
    assert str(cfg.source_of("worker_int")).endswith("gunicorn_example.py:47")
    assert warned(cfg) == []  # spew, tmp_upload_dir, user... are at their defaults


def test_behind_proxy():
    cfg = load_file("behind_proxy.py")
    assert cfg.bind == ["0.0.0.0:8000", "[::]:8000"]
    assert (cfg.workers, cfg.worker_class, cfg.worker_connections) == (4, "gevent", 2000)
    assert cfg.forwarded_allow_ips == ["*"]
    assert cfg.secure_scheme_headers == {"X-FORWARDED-PROTO": "https"}
    assert cfg.proxy_protocol == "auto"
    assert cfg.proxy_allow_ips == ["10.0.0.0/8", "172.16.0.0/12"]
    assert (cfg.limit_request_line, cfg.limit_request_fields, cfg.limit_request_field_size) == (
        8190,
        200,
        16380,
    )
    assert warned(cfg) == []


def test_systemd_service():
    try:
        pwd.getpwnam("www-data")
        grp.getgrnam("www-data")
    except KeyError:
        pytest.skip("this machine has no www-data user or group, which the file names")
    cfg = load_file("systemd_service.py")
    assert (cfg.chdir, cfg.wsgi_app) == ("/srv/www/mysite", "mysite.wsgi")
    assert cfg.pythonpath == ["/srv/www/mysite", "/srv/www/lib"]
    assert cfg.bind == ["127.0.0.1:8001"]
    assert (cfg.workers, cfg.user, cfg.group, cfg.umask) == (3, "www-data", "www-data", 0o007)
    assert cfg.pidfile == "/run/mysite/gunicorn.pid"
    assert (cfg.errorlog, cfg.accesslog) == (
        "/var/log/mysite/error.log",
        "/var/log/mysite/access.log",
    )
    assert (cfg.loglevel, cfg.proc_name, cfg.graceful_timeout) == ("warning", "mysite", 10.0)
    assert warned(cfg) == []


def test_json_logging():
    cfg = load_file("json_logging.py")
    assert cfg.accesslog == "-"
    assert cfg.access_log_format.startswith('{"remote": "%(h)s"')
    assert cfg.logconfig_dict["loggers"]["gunicorn.error"]["level"] == "INFO"
    assert warned(cfg) == []


def test_prometheus_multiprocess(monkeypatch):
    monkeypatch.setenv("APP_PORT", "9100")
    cfg = load_file("prometheus_multiprocess.py")
    assert cfg.bind == [":9100"]
    assert (cfg.workers, cfg.worker_class, cfg.timeout) == (4, "sync", 90.0)
    assert (cfg.max_requests, cfg.max_requests_jitter) == (5000, 500)
    assert cfg.child_exit.__name__ == "child_exit"  # imports prometheus_client only when called
    assert cfg.warnings == []


def test_cloud_run(monkeypatch):
    monkeypatch.setenv("PORT", "8081")
    cfg = load_file("cloud_run.py")
    assert cfg.bind == [":8081"]
    assert (cfg.workers, cfg.threads, cfg.timeout) == (1, 8, 0.0)
    assert warned(cfg) == ["threads"]
    assert "greenlet" in cfg.warnings[0]


def test_tls_direct():
    cfg = load_file("tls_direct.py")
    assert cfg.bind == ["0.0.0.0:443"]
    assert cfg.certfile.endswith("fullchain.pem") and cfg.keyfile.endswith("privkey.pem")
    assert (cfg.ca_certs, cfg.ciphers, cfg.cert_reqs) == (
        "/etc/ssl/certs/ca-certificates.crt",
        "ECDHE+AESGCM",
        0,
    )
    assert warned(cfg) == []


def test_development():
    cfg = load_file("development.py")
    assert cfg.bind == ["127.0.0.1:5000"]
    assert (cfg.workers, cfg.worker_class, cfg.reload, cfg.timeout) == (1, "sync", True, 3600.0)
    assert (cfg.loglevel, cfg.accesslog) == ("debug", "-")
    assert cfg.reload_extra_files == ["templates/index.html"]
    assert warned(cfg) == []


def test_django_hooks():
    cfg = load_file("django_hooks.py")
    assert cfg.wsgi_app == "config.wsgi:application"
    assert (cfg.workers, cfg.worker_class, cfg.worker_connections) == (3, "gevent", 500)
    assert (cfg.max_requests, cfg.max_requests_jitter) == (1200, 100)
    assert (cfg.graceful_timeout, cfg.timeout) == (25.0, 25.0)
    hooks = (
        "on_starting",
        "post_fork",
        "post_worker_init",
        "pre_request",
        "post_request",
        "worker_exit",
        "nworkers_changed",
        "on_exit",
    )
    for hook in hooks:
        assert callable(getattr(cfg, hook)), hook
    assert cfg.warnings == []


def test_tuned_sync(monkeypatch):
    monkeypatch.setenv("GUNICORN_WORKERS", "6")
    cfg = load_file("tuned_sync.py")
    assert cfg.wsgi_app == "service.main:app"
    assert (cfg.bind, cfg.backlog, cfg.workers, cfg.worker_class) == (
        ["0.0.0.0:8080"],
        4096,
        6,
        "sync",
    )
    assert (cfg.timeout, cfg.graceful_timeout, cfg.keepalive) == (120.0, 60.0, 75.0)
    assert (cfg.max_requests, cfg.max_requests_jitter, cfg.limit_request_line) == (10000, 1000, 0)
    assert cfg.loglevel == "warning"
    assert warned(cfg) == ["worker_tmp_dir"]


@pytest.mark.parametrize("name", sorted(p.name for p in CONFIGS.glob("*.py")))
def test_argv_still_overrides_the_file(name):
    cfg = load_file(name, "-w", "9", "-b", "127.0.0.1:0")
    assert (cfg.workers, cfg.bind) == (9, ["127.0.0.1:0"])
