"""Fixtures shared by the integration tests of the data path."""

from __future__ import annotations

import pytest
from support.server import GladeServer


@pytest.fixture(scope="module", params=["gevent", "sync"])
def worker_class(request) -> str:
    """Each test of a module runs against both workers (or one, when a test
    narrows it with ``parametrize("worker_class", [...], indirect=True)``)."""
    return request.param


@pytest.fixture(scope="module")
def server(request, worker_class):
    """One server per module and worker, started with the module's SERVER_ARGS."""
    args = getattr(request.module, "SERVER_ARGS", ())
    with GladeServer("validated:app", "-k", worker_class, *args) as server:
        yield server
