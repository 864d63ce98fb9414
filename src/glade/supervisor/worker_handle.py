"""The master's view of one worker: one state, and a table of its moves.

    BOOTING    forked; has not said `ready` yet
    READY      serving; counts toward the wanted number of workers
    RETIRING   to be replaced: serves until enough successors are ready
    STOPPING   told to stop (drain, or stop now)
    ABORTING   stuck: SIGABRT sent, its stack is on its way

A move the table does not allow is a bug and raises, as in lifecycle.py.
Whether a worker ever became ready is history, not state (`ready_at`): a
worker stopped or aborted while booting is judged differently from one that
served.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from glade.logging import error_log


class WorkerState(enum.Enum):
    BOOTING = "booting"
    READY = "ready"
    RETIRING = "retiring"
    STOPPING = "stopping"
    ABORTING = "aborting"


TRANSITIONS: dict[WorkerState, frozenset[WorkerState]] = {
    WorkerState.BOOTING: frozenset(
        {WorkerState.READY, WorkerState.RETIRING, WorkerState.STOPPING, WorkerState.ABORTING}
    ),
    WorkerState.READY: frozenset(
        {WorkerState.RETIRING, WorkerState.STOPPING, WorkerState.ABORTING}
    ),
    # Back to serving when its replacement failed (a reload, a broken edit).
    WorkerState.RETIRING: frozenset(
        {WorkerState.READY, WorkerState.BOOTING, WorkerState.STOPPING, WorkerState.ABORTING}
    ),
    # A draining worker whose heartbeat stops is stuck too.
    WorkerState.STOPPING: frozenset({WorkerState.ABORTING}),
    WorkerState.ABORTING: frozenset(),
}


@dataclass
class WorkerHandle:
    """What the master knows about one worker process."""

    pid: int
    age: int
    generation: int
    status_fd: int
    control_fd: int
    started: float
    last_beat: float
    worker: object = field(default=None, repr=False)  # the Worker object, for hooks
    state: WorkerState = WorkerState.BOOTING
    ready_at: float | None = None  # when it said `ready`, if it ever did
    busy: int = 0
    boot_error: str | None = None
    kill_at: float | None = None
    buffer: bytes = field(default=b"", repr=False)
    # With --metrics-bind: its latest counts (workers/stats.py).
    stats: dict | None = field(default=None, repr=False)
    # --max-worker-lifetime: when it is to be replaced (monotonic), if ever.
    retire_at: float | None = None
    # --max-worker-memory: checks in a row that found it above the limit.
    checks_over_memory: int = 0

    def move(self, new: WorkerState) -> None:
        if new not in TRANSITIONS[self.state]:
            raise RuntimeError(f"worker {self.pid}: {self.state.name} -> {new.name} is not allowed")
        error_log.debug("worker %d: %s -> %s", self.pid, self.state.name, new.name)
        self.state = new

    @property
    def booted(self) -> bool:
        return self.ready_at is not None

    @property
    def active(self) -> bool:
        """Counts toward the wanted number of workers. One aborted while
        booting still does: its exit is a boot error, which decides."""
        state = self.state
        if state is WorkerState.ABORTING:
            return not self.booted
        return state is WorkerState.BOOTING or state is WorkerState.READY

    @property
    def told_to_stop(self) -> bool:
        return self.state is WorkerState.STOPPING or self.state is WorkerState.ABORTING

    def keep(self) -> None:
        """A retiring worker serves on: its replacement failed."""
        if self.state is WorkerState.RETIRING:
            self.move(WorkerState.READY if self.booted else WorkerState.BOOTING)
