"""Every config test starts from a clean slate: no GLADE_* or conventional
variables from the developer's shell, and an empty working directory (so
no glade.conf.py or pyproject.toml is found by accident)."""

from __future__ import annotations

import os
import textwrap

import pytest

CONVENTIONAL = ("WEB_CONCURRENCY", "PORT", "FORWARDED_ALLOW_IPS", "SCRIPT_NAME")


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch, tmp_path):
    for name in list(os.environ):
        if name.startswith("GLADE_") or name in CONVENTIONAL:
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def write(tmp_path):
    """write("glade.conf.py", "workers = 2") -> the path, text dedented."""

    def write(name: str, text: str):
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return path

    return write
