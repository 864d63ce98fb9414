"""--reload: notice that the app's code changed, so that a new worker takes over.

A worker cannot unload modules, so it does not reload anything itself: it
tells the master it wants to be replaced, exactly as `max_requests` does.
The master starts a new worker with the new code and drains this one once
the new one is ready, so no request fails during a reload. Polling the
modification times of the loaded modules once a second (with the heartbeat)
costs a few hundred stat calls: fine for development, which is what
`--reload` is for.
"""

from __future__ import annotations

import os
import sys

_UNSEEN = object()


class SourceWatcher:
    """Remembers the modification time of every loaded module's file (and
    `extra_files`) and says when one changes."""

    def __init__(self, extra_files=()) -> None:
        self.extra_files = [os.path.abspath(path) for path in extra_files]
        self._mtimes: dict[str, int | None] = {}
        self._snapshot()

    def _snapshot(self) -> None:
        self._mtimes = {path: _mtime(path) for path in self._files()}

    def _files(self):
        for module in list(sys.modules.values()):
            path = getattr(module, "__file__", None)
            if isinstance(path, str):
                yield path
        yield from self.extra_files

    def changed(self) -> str | None:
        """A file that changed since the last call (or since creation), or None.

        Modules imported since are recorded, not reported: they are new, not
        changed. After a change is reported, every file is looked at afresh.
        """
        for path in self._files():
            now = _mtime(path)
            known = self._mtimes.get(path, _UNSEEN)
            if known is _UNSEEN:
                self._mtimes[path] = now
            elif known != now:
                self._snapshot()
                return path
        return None


def _mtime(path: str) -> int | None:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return None  # gone: its coming back is a change too
