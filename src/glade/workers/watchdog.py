"""Warn when one greenlet keeps gevent's event loop from running.

A timer in the event loop records when the loop last ran; a native thread
(not a greenlet: greenlets are exactly what is blocked) looks at that
moment a few times per threshold. When the loop has been still for longer
than `block_warn_ms`, the thread logs the main thread's current stack,
which is the code of the greenlet that is hogging the loop, once per
blocking episode. This costs one timer callback every few tens of
milliseconds, unlike a trace function on every greenlet switch.
"""

from __future__ import annotations

import sys
import traceback
from time import monotonic

from glade.logging import error_log


class BlockWatchdog:
    @classmethod
    def start(cls, worker) -> BlockWatchdog | None:
        threshold_ms = getattr(worker.cfg, "block_warn_ms", 500)
        if not threshold_ms:
            return None
        watchdog = cls(worker.pid, threshold_ms / 1000.0)
        watchdog._start()
        return watchdog

    def __init__(self, pid: int, threshold: float) -> None:
        self.pid = pid
        self.threshold = threshold
        self.interval = max(min(threshold / 4, 0.25), 0.01)
        self.last_run = monotonic()
        self.reported = False
        self.stopped = False
        self.main_thread_id = None
        self._timer = None

    def _start(self) -> None:
        from gevent import get_hub
        from gevent.monkey import get_original

        # The real thread id: after patching, threading's idents are greenlets'.
        self.main_thread_id = get_original("_thread", "get_ident")()
        self._timer = get_hub().loop.timer(self.interval, self.interval)
        self._timer.start(self._loop_ran)
        self._sleep = get_original("time", "sleep")
        get_original("_thread", "start_new_thread")(self._watch, ())

    def _loop_ran(self) -> None:
        self.last_run = monotonic()
        self.reported = False

    def _watch(self) -> None:
        while not self.stopped:
            self._sleep(self.interval)
            blocked_for = monotonic() - self.last_run
            if blocked_for > self.threshold and not self.reported and not self.stopped:
                self.reported = True
                frame = sys._current_frames().get(self.main_thread_id)
                stack = "".join(traceback.format_stack(frame)).rstrip() if frame else "?"
                error_log.warning(
                    "worker %d: a greenlet has blocked the event loop for %.0f ms "
                    "(--block-warn-ms %.0f); it is running:\n%s",
                    self.pid,
                    blocked_for * 1000,
                    self.threshold * 1000,
                    stack,
                )

    def stop(self) -> None:
        self.stopped = True
        if self._timer is not None:
            self._timer.stop()
