"""The master's view of a worker: the state table and what follows from it."""

from __future__ import annotations

import pytest

from glade.supervisor.worker_handle import TRANSITIONS, WorkerHandle, WorkerState


def handle() -> WorkerHandle:
    return WorkerHandle(
        pid=1, age=1, generation=1, status_fd=-1, control_fd=-1, started=0, last_beat=0
    )


def test_every_state_has_a_row_and_aborting_is_final():
    assert set(TRANSITIONS) == set(WorkerState)
    assert TRANSITIONS[WorkerState.ABORTING] == frozenset()


def test_a_move_the_table_does_not_allow_raises():
    worker = handle()
    worker.move(WorkerState.STOPPING)
    with pytest.raises(RuntimeError):
        worker.move(WorkerState.READY)


def test_booting_and_ready_workers_count_toward_the_wanted_number():
    worker = handle()
    assert worker.active
    worker.ready_at = 1.0
    worker.move(WorkerState.READY)
    assert worker.active
    worker.move(WorkerState.RETIRING)
    assert not worker.active
    worker.keep()  # its replacement failed: it serves on
    assert worker.state is WorkerState.READY and worker.active
    worker.move(WorkerState.STOPPING)
    assert not worker.active and worker.told_to_stop


def test_a_worker_aborted_while_booting_still_counts_until_it_exits():
    """Its exit is a boot error, which decides what comes next."""
    worker = handle()
    worker.move(WorkerState.ABORTING)
    assert worker.active and worker.told_to_stop
    served = handle()
    served.ready_at = 1.0
    served.move(WorkerState.READY)
    served.move(WorkerState.ABORTING)
    assert not served.active  # replaced at once


def test_a_retiring_worker_that_never_booted_goes_back_to_booting():
    worker = handle()
    worker.move(WorkerState.RETIRING)
    worker.keep()
    assert worker.state is WorkerState.BOOTING
