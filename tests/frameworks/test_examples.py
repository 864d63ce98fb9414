"""The framework examples run with the commands examples/README.md gives."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import requests

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
TIMEOUT = 10

# name -> (the README's --chdir and app, the file /source serves)
EXAMPLE_COMMANDS = {
    "flask": (
        ("--chdir", "examples", "flask_app:app"),
        EXAMPLES / "flask_app.py",
    ),
    "django": (
        ("--chdir", "examples/django_project", "mysite.wsgi:application"),
        EXAMPLES / "django_project" / "mysite" / "views.py",
    ),
}


@pytest.mark.parametrize("worker", ["gevent", "sync"])
@pytest.mark.parametrize("example", ["flask", "django"])
def test_example_serves_every_view(glade_server, example, worker):
    (chdir_flag, chdir, app), source = EXAMPLE_COMMANDS[example]
    server = glade_server(app, chdir_flag, chdir, "-k", worker, "-w", "1", cwd=REPO)
    url = server.url

    index = requests.get(f"{url}/", timeout=TIMEOUT)
    assert index.status_code == 200
    assert index.headers["Content-Type"].startswith("text/html")
    assert f"Glade + {example.capitalize()}" in index.text

    urlencoded = requests.post(f"{url}/form", data={"name": "Zoë"}, timeout=TIMEOUT)
    assert urlencoded.status_code == 200
    assert urlencoded.json() == {"fields": {"name": ["Zoë"]}, "files": {}}

    multipart = requests.post(
        f"{url}/form",
        data={"name": "Zoë"},
        files={"upload": ("hello.py", b"print('hi')\n", "text/x-python")},
        timeout=TIMEOUT,
    )
    assert multipart.status_code == 200
    upload = multipart.json()["files"]["upload"]
    assert (upload["filename"], upload["size"]) == ("hello.py", 12)

    api = requests.post(f"{url}/api/echo", json={"n": [1, 2, 3]}, timeout=TIMEOUT)
    assert api.status_code == 200
    assert api.json()["received"] == {"n": [1, 2, 3]}
    assert api.json()["server"].startswith("glade/")

    stream = requests.get(f"{url}/stream", params={"count": 3}, timeout=TIMEOUT)
    assert stream.status_code == 200
    assert stream.headers["Transfer-Encoding"] == "chunked"
    assert [line.split(" for ")[0] for line in stream.text.splitlines()] == [
        "line 0 of 3",
        "line 1 of 3",
        "line 2 of 3",
    ]

    file = requests.get(f"{url}/source", timeout=TIMEOUT)
    assert file.status_code == 200
    assert file.content == source.read_bytes()
    assert file.headers["Content-Length"] == str(source.stat().st_size)

    assert server.stop() == 0
    assert server.tracebacks() == 0, server.output()


def test_django_example_passes_its_checks():
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=EXAMPLES / "django_project",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout
