"""What the tests of deploy/ share: where the files are, and how a command
line written in one of them reads to Glade itself."""

from __future__ import annotations

import tempfile
from pathlib import Path

from glade.cli import load
from glade.config.loader import Config

REPO_DIR = Path(__file__).resolve().parents[2]
DEPLOY_DIR = REPO_DIR / "deploy"
KUBERNETES_DIR = DEPLOY_DIR / "kubernetes"
SYSTEMD_DIR = DEPLOY_DIR / "systemd"
DOCS_DIR = REPO_DIR / "docs"

# What a stop needs past --shutdown-delay and --graceful-timeout before the
# supervisor (kubelet, systemd) may send SIGKILL: the master's own backstop
# (2 s after a worker's deadline) and the processes' exit.
STOP_MARGIN = 5.0


def glade_config(argv: list[str]) -> Config:
    """The Config that `glade ARGV` runs with, read by Glade's own parser: a
    misspelt flag or a bad value fails here. No environment and no config
    file take part, so only what the file says counts."""
    with tempfile.TemporaryDirectory() as empty:
        return load(list(argv), environ={}, cwd=empty)


def workers_from_auto(cfg: Config) -> bool:
    """`-w auto` was asked for (the loader has turned it into a number)."""
    return cfg.notes.get("workers", "").startswith("auto")
