"""Shared fixtures: `glade_server` starts real servers and always stops them."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from support.server import GladeServer


@pytest.fixture
def glade_server():
    """Factory: ``glade_server("app:app", "-w", "2")`` -> a ready GladeServer."""
    started: list[GladeServer] = []

    def start(app: str, *args: str, **kwargs) -> GladeServer:
        server = GladeServer(app, *args, **kwargs)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
        server.log_path.unlink(missing_ok=True)
