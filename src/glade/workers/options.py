"""What a connection reads from its worker: options built once, and a small shared state.

`ServingOptions` is frozen and built once per worker from the config (or,
under gunicorn, from gunicorn's config): connections read plain attributes
instead of reaching into a worker. `ServingState` is the little that changes
while the worker runs, shared by all its connections, the way uvicorn's
ServerState is.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from glade.http.connection import Phase
from glade.http.parser import Limits

# While a worker drains, a connection waiting for a request is closed once it
# has been quiet this long (since its last response, or since it was
# accepted). A client that reuses connections under load sends its next
# request well within it, gets it answered with `Connection: close`, and so
# never races the close; a pooled connection nobody uses is closed at once.
DRAIN_GRACE = 0.5

# A request head may take this long before --header-min-rate applies, and may
# pause this long at most (a head arrives in one or a few packets, so only a
# client that trickles it, or stops in its middle, comes near either).
HEAD_GRACE = 5.0


@dataclass(frozen=True, slots=True)
class ServingOptions:
    app: Callable
    limits: Limits
    header_timeout: float  # a request head, from its first byte (or the accept)
    keepalive: float  # an idle connection between requests; 0: one request only
    body_timeout: float  # no progress reading a body or writing a response
    # A new connection's first byte, from the accept (0: header_timeout's).
    first_byte_timeout: float = 0.0
    # Bytes per second a head must average after HEAD_GRACE (0: no such rule).
    header_min_rate: float = 0.0
    # --request-timeout: how long the app may take over one request (0: no limit).
    request_timeout: float = 0.0
    # How long a close that may leave client bytes unread reads and drops
    # them first (see Connection._linger).
    linger_seconds: float = 2.0
    drain_grace: float = DRAIN_GRACE
    # How waits are bounded: a sweeper greenlet (gevent, plain TCP), or
    # socket timeouts (TLS, the sync worker).
    sweeps_deadlines: bool = False
    can_sendfile: bool = True
    proxy_protocol: str = "off"
    proxy_peers: Callable[[str], bool] = field(default=lambda peer: False)
    access_log: Any = None
    # The hooks, or None when not set (then requests do not pay for their
    # arguments), with the config that calls them and the worker they get.
    # Told of each answered request (method, status, seconds) and of requests
    # ended early (how many): the worker's metrics and StatsD; None when off.
    on_request: Callable[[str, int, float], None] | None = None
    on_cut: Callable[[int], None] | None = None
    pre_request: Callable | None = None
    post_request: Callable | None = None
    hook_config: Any = None
    hook_worker: Any = None


class ServingState:
    """What the connections of one worker share while it runs.

    `draining` is set once, by the worker, when its drain begins; each
    connection reads it from its own greenlet: a response whose head goes
    out after that says `Connection: close`, and a connection waiting for a
    request closes after DRAIN_GRACE of quiet.
    """

    __slots__ = ("connections", "draining", "request_done", "turns")

    def __init__(self, request_done: Callable[[], None]) -> None:
        self.draining = False
        self.connections: set = set()
        self.request_done = request_done
        # How connections that share a process take turns (the gevent
        # worker's Turns); None where a process serves one at a time.
        self.turns = None

    def busy(self) -> int:
        """Connections in the middle of a request (from its head to the end
        of its response)."""
        responding = Phase.RESPONDING
        return sum(1 for connection in self.connections if connection.http.phase is responding)

    def websockets(self) -> int:
        """Connections whose upgrade request's app holds on without an HTTP
        response: the app took the socket (a WebSocket), as far as Glade can tell."""
        count = 0
        for connection in self.connections:
            http = connection.http
            if http.phase is Phase.RESPONDING and http.request.upgrade and not http.head_sent:
                count += 1
        return count
