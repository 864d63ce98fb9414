"""The compiled hot path and its pure-Python fallback, on real processes: the
startup line says which runs, GLADE_NO_EXTENSIONS forces the source, a build
older than its source is passed over, and an install without a C compiler
succeeds as pure Python."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import requests
from support.server import GladeServer

from glade import extensions

REPO = Path(__file__).resolve().parents[2]
APP = "extensions_app:app"
# The connection, the parser and the WSGI response: all imported by a
# worker before its first request.
SERVED = ("glade.http.connection", "glade.http.parser", "glade.wsgi.response")


def loaded_from(server: GladeServer) -> dict[str, str]:
    response = requests.get(server.url + "/", timeout=10)
    assert response.status_code == 200
    return dict(line.split(" ", 1) for line in response.text.splitlines())


needs_build = pytest.mark.skipif(
    not extensions.in_use(), reason="the extensions are not built here (make builds them)"
)


@needs_build
def test_a_built_install_serves_compiled_and_says_so():
    with GladeServer(APP, "-w", "1") as server:
        files = loaded_from(server)
        assert "compiled extensions: in use" in server.output()
    for name in SERVED:
        assert files[name].endswith(".so"), files


def test_glade_no_extensions_runs_the_source():
    with GladeServer(APP, "-w", "1", env={"GLADE_NO_EXTENSIONS": "1"}) as server:
        files = loaded_from(server)
        output = server.output()
    assert "compiled extensions: not used (GLADE_NO_EXTENSIONS is set): pure Python" in output
    assert "[WARNING]" not in output, output
    for name in SERVED:
        assert files[name].endswith(".py"), files


@needs_build
def test_an_extension_older_than_its_source_is_passed_over(tmp_path):
    """An edit since the last build: the hot path runs from its source (the
    edit is what runs), and one warning says so."""
    shutil.copytree(REPO / "src" / "glade", tmp_path / "glade")
    edited = tmp_path / "glade" / "http" / "parser.py"
    edited.write_text(edited.read_text() + "\n# an edit since the last build\n")
    env = {"PYTHONPATH": str(tmp_path), "GLADE_NO_EXTENSIONS": ""}
    with GladeServer(APP, "-w", "1", env=env) as server:
        files = loaded_from(server)
        output = server.output()
    assert files["glade.http.parser"] == str(edited), files
    warnings = [line for line in output.splitlines() if "[WARNING]" in line]
    assert len(warnings) == 1, output
    assert "glade.http.parser built from an older source" in warnings[0]
    # The others run from their source too: they use the C layout of its classes.
    assert files["glade.http.connection"].endswith(".py"), files


def test_a_wheel_built_without_a_c_compiler_is_pure_python(tmp_path):
    """No compiler (CC=false): the build says why in one line, succeeds, and
    the wheel holds the sources and no extension."""
    tree = tmp_path / "tree"
    for name in ("pyproject.toml", "setup.py", "README.md", "LICENSE"):
        tree.mkdir(exist_ok=True)
        shutil.copy(REPO / name, tree / name)
    shutil.copytree(
        REPO / "src", tree / "src", ignore=shutil.ignore_patterns("*.so", "*.sha256", "__pycache__")
    )
    shutil.copytree(REPO / "vendor", tree / "vendor")
    env = dict(os.environ, CC="false", LDSHARED="false")
    env.pop("GLADE_NO_EXTENSIONS", None)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-v",
            "--wheel-dir",
            str(tmp_path / "wheels"),
            str(tree),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "glade setup: cannot compile" in result.stdout + result.stderr
    (wheel,) = (tmp_path / "wheels").glob("glade-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "glade/http/parser.py" in names
    assert not [name for name in names if name.endswith((".so", ".sha256"))], names


@needs_build
def test_one_missing_extension_leaves_the_whole_hot_path_pure_python(tmp_path):
    """An extension that failed to compile: the others cannot run without it
    (they use the C layout of its classes), so none does, and one warning
    says so."""
    shutil.copytree(REPO / "src" / "glade", tmp_path / "glade")
    for extension in (tmp_path / "glade" / "http").glob("parser.*.so"):
        extension.unlink()
    env = {"PYTHONPATH": str(tmp_path), "GLADE_NO_EXTENSIONS": ""}
    with GladeServer(APP, "-w", "1", env=env) as server:
        files = loaded_from(server)
        output = server.output()
    for name in SERVED:
        assert files[name].endswith(".py"), files
    warnings = [line for line in output.splitlines() if "[WARNING]" in line]
    assert len(warnings) == 1, output
    assert "compiled extensions: not built" in warnings[0]
