"""The pidfile: written at start, renamed during an upgrade, removed at exit."""

from __future__ import annotations

import os

from glade.logging import error_log


class Pidfile:
    def __init__(self, path: str) -> None:
        self.path = path

    def write(self, pid: int) -> None:
        temporary = f"{self.path}.{pid}.tmp"
        with open(temporary, "w") as file:
            file.write(f"{pid}\n")
        os.replace(temporary, self.path)

    def rename(self, new_path: str) -> None:
        try:
            os.replace(self.path, new_path)
        except FileNotFoundError:
            pass
        self.path = new_path

    def remove(self, pid: int) -> None:
        """Remove the file if it is still ours (an upgraded master may own it now)."""
        try:
            with open(self.path) as file:
                owner = int(file.read().strip() or 0)
        except (OSError, ValueError):
            return
        if owner == pid:
            try:
                os.unlink(self.path)
            except OSError as error:
                error_log.warning("cannot remove pidfile %s: %s", self.path, error)
