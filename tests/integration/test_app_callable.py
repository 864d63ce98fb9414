"""An app that cannot take (environ, start_response) stops the server at
boot, with one line that says what to write instead; every shape of a real
WSGI app is still accepted and served."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest
from support.server import TESTS_DIR, TRACEBACK, http_get, run_until_exit

FRAMEWORK_APPS = TESTS_DIR / "frameworks" / "apps"

APPS = '''
import functools

def _answer(body, environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]

def create_app(greeting=b"from a factory"):
    return functools.partial(_answer, greeting)

def create_app_for(config_name):
    return create_app()

def create_app_with(*, config_name):
    return create_app()

def factory_of_factories():
    return create_app

def application(environ, start_response):
    return _answer(b"a function", environ, start_response)

class ClassApp:
    """PEP 3333's class app: calling the class starts the response."""

    def __init__(self, environ, start_response):
        self.start_response = start_response

    def __iter__(self):
        self.start_response("200 OK", [("Content-Length", "9")])
        yield b"a class"
        yield b"!!"

class CallableApp:
    def __call__(self, environ, start_response):
        return _answer(b"an instance", environ, start_response)

instance = CallableApp()
partial = functools.partial(_answer, b"a partial")

def logged(app):
    @functools.wraps(app)
    def wrapper(*args, **kwargs):
        return app(*args, **kwargs)
    return wrapper

wrapped = logged(application)

class Opaque:
    """Like a compiled (C) app: inspect finds no signature to read."""

    @property
    def __signature__(self):
        raise ValueError("no signature found for builtin")

    def __call__(self, environ, start_response):
        return _answer(b"opaque", environ, start_response)

opaque = Opaque()
'''


@pytest.fixture
def apps_dir(tmp_path):
    (tmp_path / "shapes.py").write_text(textwrap.dedent(APPS))
    return tmp_path


def check_config(spec: str, cwd, env=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "glade", "--check-config", "-b", "127.0.0.1:0", spec],
        cwd=str(cwd),
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=30,
    )


MISTAKES = [
    (
        "shapes:create_app",
        "app 'shapes:create_app': create_app takes (greeting=b'from a factory'), not a WSGI "
        "app's (environ, start_response); if it is an app factory, write 'shapes:create_app()'",
    ),
    (
        "shapes:create_app_for",
        "app 'shapes:create_app_for': create_app_for takes (config_name), not a WSGI app's "
        "(environ, start_response); if it is an app factory, write "
        "'shapes:create_app_for(...)' with its arguments",
    ),
    (
        "shapes:create_app_with",
        "create_app_with takes (*, config_name), not a WSGI app's (environ, start_response); "
        "if it is an app factory, write 'shapes:create_app_with(...)' with its arguments",
    ),
    (
        "shapes:factory_of_factories()",
        "app 'shapes:factory_of_factories()': factory_of_factories() returned a callable that "
        "takes (greeting=b'from a factory'), not a WSGI app's (environ, start_response)",
    ),
]


@pytest.mark.parametrize(("spec", "line"), MISTAKES, ids=[spec for spec, _ in MISTAKES])
@pytest.mark.parametrize("worker_class", ["gevent", "sync"])
def test_an_app_that_cannot_take_environ_and_start_response_stops_the_boot(
    apps_dir, spec, line, worker_class
):
    status, text = run_until_exit(
        "-k", worker_class, "-w", "2", "-b", "127.0.0.1:0", spec, cwd=apps_dir
    )
    assert status == 1, text
    assert text.count(line) == 1, text
    assert text.count("A worker could not boot; stopping") == 1
    assert "Booted worker" not in text
    assert TRACEBACK not in text, text


@pytest.mark.parametrize(("spec", "line"), MISTAKES[:2], ids=[spec for spec, _ in MISTAKES[:2]])
def test_check_config_finds_it_too(apps_dir, spec, line):
    result = check_config(spec, apps_dir)
    assert result.returncode == 1, result
    assert result.stderr.splitlines() == [f"glade: error: {line}"]
    assert result.stdout == ""


def test_preload_finds_it_in_the_master(apps_dir):
    status, text = run_until_exit(
        "--preload", "-b", "127.0.0.1:0", "shapes:create_app", cwd=apps_dir
    )
    assert status == 1, text
    assert "if it is an app factory, write 'shapes:create_app()'" in text
    assert TRACEBACK not in text, text


@pytest.mark.parametrize(
    ("spec", "body"),
    [
        ("shapes:create_app()", b"from a factory"),
        ("shapes:application", b"a function"),
        ("shapes:ClassApp", b"a class!!"),
        ("shapes:instance", b"an instance"),
        ("shapes:partial", b"a partial"),
        ("shapes:wrapped", b"a function"),
        ("shapes:opaque", b"opaque"),
    ],
)
def test_every_shape_of_a_wsgi_app_is_served(glade_server, apps_dir, spec, body):
    server = glade_server(spec, "-w", "1", cwd=apps_dir)
    assert http_get(server.host, server.port) == (200, body)
    assert server.tracebacks() == 0


@pytest.mark.parametrize(
    ("spec", "env", "path", "body"),
    [
        ("flaskapp:app", {}, "/hello", b"Hello from Flask\n"),
        (
            "djangosite.wsgi:application",
            {"DJANGO_SETTINGS_MODULE": "djangosite.settings"},
            "/hello",
            b"Hello from Django\n",
        ),
    ],
    ids=["flask", "django"],
)
def test_flask_and_django_apps_pass_the_check(glade_server, spec, env, path, body):
    result = check_config(spec, FRAMEWORK_APPS, env={**os.environ, **env})
    assert result.returncode == 0, result.stderr
    assert f"glade: config and app OK: {spec}" in result.stdout
    server = glade_server(spec, "-w", "1", cwd=FRAMEWORK_APPS, env=env)
    assert http_get(server.host, server.port, path) == (200, body)
