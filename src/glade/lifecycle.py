"""The lifecycle state machine, shared by the master and the workers.

Every state a process can be in, and every move between states, is in the
TRANSITIONS table below; nothing else in Glade keeps an `alive` flag. A move
the table does not allow is a bug and raises. Every move is logged, so the
error log tells the story of a shutdown step by step.
"""

from __future__ import annotations

import enum

from glade.logging import error_log


class State(enum.Enum):
    BOOTING = "booting"
    SERVING = "serving"
    DRAINING = "draining"
    STOPPED = "stopped"


TRANSITIONS: dict[State, frozenset[State]] = {
    # A boot can fail (STOPPED) or be interrupted by a stop request (DRAINING).
    State.BOOTING: frozenset({State.SERVING, State.DRAINING, State.STOPPED}),
    # A forced stop skips the drain.
    State.SERVING: frozenset({State.DRAINING, State.STOPPED}),
    State.DRAINING: frozenset({State.STOPPED}),
    State.STOPPED: frozenset(),
}


class InvalidTransition(RuntimeError):
    pass


class Lifecycle:
    """The state of one process (`who` names it in the log)."""

    def __init__(self, who: str) -> None:
        self.who = who
        self.state = State.BOOTING

    def move(self, new: State, why: str = "") -> None:
        if new not in TRANSITIONS[self.state]:
            raise InvalidTransition(f"{self.who}: {self.state.name} -> {new.name} is not allowed")
        error_log.info(
            "%s: %s -> %s%s", self.who, self.state.name, new.name, f" ({why})" if why else ""
        )
        self.state = new

    @property
    def serving(self) -> bool:
        return self.state is State.SERVING

    @property
    def draining(self) -> bool:
        return self.state is State.DRAINING

    @property
    def stopped(self) -> bool:
        return self.state is State.STOPPED
