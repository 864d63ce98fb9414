"""Serving connections in greenlets: accept, sweep deadlines, drain, cut.

One `GeventServer` per gevent process, used by Glade's gevent worker and by
the gunicorn worker class alike, so both accept, time out, drain and cut
connections the same way. Each connection runs the one serving loop
(workers/connection.py) in a greenlet of its own, without a gevent Pool
(its bookkeeping costs more than a short connection's own work), so the
`worker_connections` limit is kept here.

A greenlet that has served a connection waits for the next one instead of
ending (`_serve_many`), as a thread pool keeps its threads. Starting a
greenlet costs more than a short connection's whole HTTP work: CPython maps
a fresh 16 KiB block for its Python frames and unmaps it when it ends (two
system calls, and the block's pages faulted in anew every time), and gevent
builds and tears down the greenlet's own state. Reused, a `Connection:
close` request costs 37 µs of worker CPU instead of 67 (docs/benchmarks.md).
A greenlet left idle for a whole `IDLE_CHECK_EVERY` ends, so a quiet worker
keeps none; each connection starts with empty `contextvars`, as in a new
greenlet. (Greenlet-local objects, `threading.local` once patched, do carry
over from one connection to the next, as they do on a thread pool's threads.)

Connections take turns (`Turns`): one whose next request came without a
wait gives way to the others between two requests.

A drain sets `ServingState.draining`; each connection reads it from its own
greenlet. Busy ones finish with `Connection: close`; ones waiting for a
request close after `drain_grace` of quiet (the sweeper expires them).

The same sweeper ends the requests that outlive --request-timeout (see
workers/request_timeout.py); with that setting it runs over TLS too, where
it has no socket deadlines to keep.
"""

from __future__ import annotations

import heapq
import os
import socket as _stdlib_socket
import traceback
from collections.abc import Callable
from time import monotonic

import gevent
import gevent.event
from gevent import monkey

from glade.logging import error_log
from glade.tls import handshake
from glade.workers.accepting import AcceptErrors
from glade.workers.base import WorkerAborted, needs_nodelay
from glade.workers.connection import Connection
from glade.workers.memory import SurgeTrimmer
from glade.workers.options import ServingOptions, ServingState
from glade.workers.request_timeout import RequestTimedOut

# The unpatched select: asks the kernel, never switches greenlets.
_poll_select = monkey.get_original("select", "select")
SWEEP_INTERVAL = 0.2
# How often a worker looks whether a surge of connections is over, and
# ends the greenlets that have waited that long for a connection to serve.
IDLE_CHECK_EVERY = 1.0
# Idle greenlets are ended this many at a time.
END_IDLE_BATCH = 256
# A connection giving way waits this long: any time above zero ends at the
# loop's next poll (Turns.give_way).
GIVE_WAY_SECONDS = 1e-6
# A full worker looks this often for new clients waiting in the backlog.
FULL_POLL = 0.05
# At most this many waiting connections are closed at once to make room.
SHED_BATCH = 32
# A head still arriving after this long (one normally comes in one packet, or
# a few) is a slow one: a full worker closes it with a 408 to make room.
SLOW_HEAD = 1.0
FULL_WARNING_EVERY = 10.0
# How often the drain beats, unless told otherwise.
TICK = 1.0
# How long cut greenlets get to unwind before the worker exits anyway.
KILL_WAIT = 1.0


class Turns:
    """How the connections of one gevent process share it.

    A greenlet runs until it waits. A keep-alive client whose next request
    is already there when its response has gone out (a client as fast as
    the server, or pipelining) never makes its greenlet wait, so under an
    app that is CPU work (a template, a serializer) the worker served a few
    clients on and on while the others waited for seconds: with Django and
    64 clients on one worker, the median response came in 0.6 ms and the
    slowest 1% after 1.2 to 1.5 s, with wrk timeouts (gunicorn's gevent
    worker alike).

    So the serving loop (workers/connection.py `_serve`) keeps, for its
    connection, the run of requests served without the event loop polling
    in between (the loop's `iteration` unchanged). After a request that
    takes the run `budget_while_others_wait` past its first request's end
    while other events are known to wait (the loop's `pendingcnt`), or
    `budget` past it when none are (the loop has not looked since), the
    connection gives way: it waits until the loop's next poll, and resumes
    after what that poll found. Measured with that Django app: the median
    response in 30 ms, the slowest 1% in 58 to 75 ms, no timeout, the same
    rate. A client that waits for each response before sending the next
    (most of them, under load) makes its greenlet wait anyway, and costs
    the loop an attribute read and a comparison per request.
    """

    __slots__ = ("hub", "loop")

    budget = 0.001
    budget_while_others_wait = 0.0002

    def __init__(self, hub) -> None:
        self.hub = hub
        self.loop = hub.loop

    def give_way(self) -> None:
        """Wait for the loop's next poll, behind the events it finds.

        A timer at the lowest priority: libev runs the ready watchers of
        a higher priority first, and within one priority the latest first,
        which would put an ordinary timer ahead of the clients that poll
        found (and gevent.sleep(0) may resume before the loop polls at all).
        """
        loop = self.loop
        with loop.timer(GIVE_WAY_SECONDS, priority=loop.MINPRI) as timer:
            loop.update_now()
            self.hub.wait(timer)


class GeventServer:
    """The connections of one gevent process, from accept to close."""

    def __init__(
        self,
        options: ServingOptions,
        state: ServingState,
        *,
        max_connections: int,
        tls=None,
        suppress_ragged_eofs: bool = True,
        on_abort: Callable[[], None] | None = None,
        shares_listeners: bool = False,
    ) -> None:
        self.options = options
        self.state = state
        self.max_connections = max_connections
        # Other workers accept on the same listeners (see _wait_for_client).
        self.shares_listeners = shares_listeners
        self.tls = tls
        self.suppress_ragged_eofs = suppress_ragged_eofs
        self.on_abort = on_abort  # a connection's greenlet raised WorkerAborted
        # Set when a connection ends, and by whoever else wants the main
        # greenlet to look again (signals): the drain waits on it.
        self.wake = gevent.event.Event()
        self.greenlets: set = set()
        self._slot_free = gevent.event.Event()
        self._acceptors: list = []
        self._shed = 0  # connections closed to make room, since the last warning
        self._full_logged_at = -FULL_WARNING_EVERY
        self._sweeper = None
        self._trimmer = SurgeTrimmer()
        self._memory_keeper = None
        self._listeners: list = []
        # Greenlets waiting for a connection to serve, the most recently
        # used last; and the fewest of them since the last idle check: that
        # many at the front have had nothing to do since then.
        self._idle: list = []
        self._fewest_idle = 0
        self._hub = gevent.get_hub()
        # gevent's libev loops count their iterations; its libuv loop does
        # not (its `iteration` is -1), and there connections do not take turns.
        state.turns = Turns(self._hub) if self._hub.loop.iteration >= 0 else None

    # -- serving ---------------------------------------------------------------

    def start(self, listeners, templates) -> None:
        """Accept on every listener (re-created as gevent sockets) and sweep."""
        for listener, template in zip(listeners, templates, strict=True):
            sock = _cooperative(listener)
            self._listeners.append((sock, template))
            self._acceptors.append(gevent.spawn(self._accept_loop, sock, template))
        if self.options.sweeps_deadlines or self.options.request_timeout:
            self._sweeper = gevent.spawn(self._sweep_deadlines)
        self._memory_keeper = gevent.spawn(self._return_memory)

    def _accept_loop(self, sock, template: dict) -> None:
        greenlets = self.greenlets
        limit = self.max_connections
        nodelay = needs_nodelay(sock)
        errors = AcceptErrors()
        one_per_turn = self.shares_listeners
        while True:
            while len(greenlets) >= limit:
                self._slot_free.clear()
                if _client_waiting(sock) and self._make_room():
                    self._slot_free.wait(1.0)  # the closed ones end at their next turn
                else:
                    self._slot_free.wait(FULL_POLL)
            try:
                if one_per_turn:
                    _wait_for_client(sock)
                client, remote = sock.accept()
            except OSError as error:
                pause = errors.pause_after(error)
                if pause:
                    gevent.sleep(pause)
                continue
            errors.succeeded()
            self._start_connection(client, remote, template, nodelay)

    def _make_room(self) -> int:
        """Full, with a new client waiting: close the connections that have
        kept the worker waiting longest for a request (idle keep-alive ones
        and new ones that have sent nothing, quiet for at least the drain
        grace, and ones whose request head has been arriving for over
        SLOW_HEAD), up to SHED_BATCH, as nginx closes its reusable
        connections. How many; a connection whose request is being answered
        is never touched.

        The grace is the closing rule's, as in a drain: a keep-alive client
        sends its next request a moment after its response, and a
        connection closed in that moment loses the request (a busy worker
        at its limit would otherwise shed the very clients it is serving)."""
        now = monotonic()
        quiet_since = now - self.options.drain_grace
        slow_heads_since = now - SLOW_HEAD
        waiting = [
            c
            for c in self.state.connections
            if (0.0 < c.idle_since <= quiet_since or 0.0 < c.head_since <= slow_heads_since)
            and not c.expired
        ]
        oldest = heapq.nsmallest(SHED_BATCH, waiting, key=_waiting_since)
        for connection in oldest:
            connection.expire()
        self._full_report(len(oldest))
        return len(oldest)

    def _full_report(self, closed: int) -> None:
        """One warning line at most every FULL_WARNING_EVERY seconds."""
        self._shed += closed
        now = monotonic()
        if now < self._full_logged_at + FULL_WARNING_EVERY:
            return
        if self._shed:
            error_log.warning(
                "worker %d is full (worker_connections %d): closed %d connections idle "
                "or slow to send a request, oldest first, to make room for new clients",
                os.getpid(),
                self.max_connections,
                self._shed,
            )
        else:
            error_log.warning(
                "worker %d is full (worker_connections %d), none of its connections "
                "idle for long: new clients wait in the kernel's backlog",
                os.getpid(),
                self.max_connections,
            )
        self._full_logged_at = now
        self._shed = 0

    def _start_connection(self, client, remote, template: dict, nodelay: bool) -> None:
        if nodelay:
            client.setsockopt(_stdlib_socket.IPPROTO_TCP, _stdlib_socket.TCP_NODELAY, 1)
        greenlets = self.greenlets
        work = (client, remote, template, monotonic())
        idle = self._idle
        if idle:
            servant = idle.pop()
            if len(idle) < self._fewest_idle:
                self._fewest_idle = len(idle)
            greenlets.add(servant)
            self._hub.loop.run_callback(self._hand_over, servant, work)
        else:
            # The list is emptied by the greenlet: its arguments stay with
            # it for its whole life, and must not hold this client's socket.
            greenlets.add(gevent.spawn(self._serve_many, [work]))
        if len(greenlets) > self._trimmer.peak:
            self._trimmer.peak = len(greenlets)

    def _hand_over(self, servant, work: tuple) -> None:
        """Give an idle greenlet its next connection (a callback of the hub,
        the one place a parked greenlet may be switched to from). One that
        ended meanwhile (a stray exception thrown into it) is replaced."""
        if servant.dead:
            self.greenlets.discard(servant)
            self.greenlets.add(gevent.spawn(self._serve_many, [work]))
        else:
            servant.switch(work)

    def _serve_many(self, first: list) -> None:
        """Serve a connection, then wait for the next one, until the worker
        drains or this greenlet has been idle for a whole IDLE_CHECK_EVERY."""
        work = first.pop()
        me = gevent.getcurrent()
        park = self._hub.switch
        idle = self._idle
        while True:
            self._serve(*work)
            work = None  # nothing of the last connection is held while idle
            if self.state.draining:
                return
            me.gr_context = None  # the next connection's code starts with empty contextvars
            idle.append(me)
            try:
                work = park()
                while type(work) is not tuple:  # a stray switch, not a hand-over
                    work = park()
            except BaseException:
                # Ended while idle (GreenletExit), or a stray exception meant
                # for a connection that has finished (an app's leaked
                # gevent.Timeout): either way, this greenlet is done.
                if me in idle:
                    idle.remove(me)
                return

    def _return_memory(self) -> None:
        """End the greenlets idle since the last look, and, once a surge of
        connections is over, give their memory back (memory.py)."""
        while True:
            gevent.sleep(IDLE_CHECK_EVERY)
            self._end_idle(self._fewest_idle)
            self._fewest_idle = len(self._idle)
            # Idle greenlets still hold their memory: the surge is over once
            # they have ended too.
            if self._trimmer.check(len(self.greenlets) + len(self._idle)):
                error_log.debug("returned the memory of a surge of connections to the system")

    def _end_idle(self, count: int) -> None:
        """End `count` idle greenlets, those unused longest, a batch at a
        time: thousands at once would hold the event loop for a while."""
        ending = self._idle[:count]
        del self._idle[:count]
        for start in range(0, len(ending), END_IDLE_BATCH):
            gevent.killall(ending[start : start + END_IDLE_BATCH])

    def _serve(self, client, remote, template: dict, accepted_at: float) -> None:
        options = self.options
        try:
            if self.tls is not None:
                client = handshake(
                    self.tls,
                    client,
                    accepted_at + options.header_timeout,
                    suppress_ragged_eofs=self.suppress_ragged_eofs,
                )
                if client is None:
                    return
            connection = Connection(client, remote, options, self.state, template)
            connection.task = gevent.getcurrent()
            connection.serve(accepted_at)
        except WorkerAborted:
            # The stack is logged; the rest of the worker stops now.
            if self.on_abort is not None:
                self.on_abort()
        finally:
            self.greenlets.discard(gevent.getcurrent())
            self._slot_free.set()
            if self.state.draining:
                self.wake.set()  # the drain re-checks what is left

    def _sweep_deadlines(self) -> None:
        """Expire the connections whose wait has outlived its deadline, and
        end the requests that have outlived --request-timeout.

        One greenlet doing this a few times a second replaces a timer per
        recv (and per request); a timeout then fires up to SWEEP_INTERVAL
        late. While the worker drains, a connection waiting for a request
        expires after `drain_grace` of quiet, unless its request has just
        arrived.
        """
        sleep = gevent.sleep
        run_callback = gevent.get_hub().loop.run_callback
        state = self.state
        grace = self.options.drain_grace
        waits = self.options.sweeps_deadlines
        requests = bool(self.options.request_timeout)
        while True:
            sleep(SWEEP_INTERVAL)
            now = monotonic()
            draining = state.draining
            for connection in list(state.connections):
                if requests:
                    app_deadline = connection.app_deadline
                    if app_deadline and app_deadline <= now:
                        run_callback(_end_request, connection, app_deadline)
                        continue
                if not waits:
                    continue
                deadline = connection.deadline
                if not deadline:
                    continue
                if deadline <= now and not connection.idle_since and not connection.writing:
                    # A read in a request (its head or body): an answer follows,
                    # with a lingering close that must still read the client.
                    run_callback(_end_read_wait, connection, deadline)
                elif deadline <= now or (
                    draining
                    and connection.idle_since
                    and now >= connection.idle_since + grace
                    and not connection.request_waiting()
                ):
                    connection.expire()
            # Not kept while asleep: the last connection (and its greenlet) may be gone.
            connection = None

    # -- stopping --------------------------------------------------------------

    def stop_accepting(self, *, take_backlog: bool) -> int:
        """Stop the accept loops; with `take_backlog`, first serve every
        connection the kernel already completed, then close the listeners.

        When the last copy of a listening socket closes, the kernel resets
        every connection still in its queue: clients that were told
        "connected" would get a reset. Taking them first means each one
        gets an answer (with `Connection: close`). Returns how many it took.
        """
        gevent.killall(self._acceptors)
        self._acceptors = []
        taken = 0
        for sock, template in self._listeners:
            if take_backlog:
                taken += self._accept_backlog(sock, template)
            sock.close()
        self._listeners = []
        return taken

    def _accept_backlog(self, sock, template: dict) -> int:
        sock.setblocking(False)
        nodelay = needs_nodelay(sock)
        taken = 0
        while True:
            try:
                client, remote = sock.accept()
            except OSError:
                return taken  # EAGAIN: the queue is empty
            client.setblocking(True)
            # Even past worker_connections: a drain must answer them all.
            self._start_connection(client, remote, template, nodelay)
            taken += 1

    def drain(
        self,
        cut_at: float,
        *,
        beat: Callable[[], None],
        forced: Callable[[], bool],
        who: str,
        beat_every: float = TICK,
        keep_accepting_for: float = 0.0,
        take_backlog: bool = True,
    ) -> None:
        """Stop accepting, and let every connection finish, until `cut_at`.

        `keep_accepting_for`: when the listeners close for good and the
        kernel already starts no new handshake, the ones under way complete
        within a round trip: accept those for this long first. `beat()` runs
        every `beat_every` seconds (the heartbeat); `forced()` is asked at
        every wake-up, and True stops the wait (a forced stop). Without
        `take_backlog`, what the kernel queued is left to the other workers.
        """
        self.state.draining = True
        if keep_accepting_for:
            gevent.sleep(keep_accepting_for)
        self.stop_accepting(take_backlog=take_backlog)
        busy = self.state.busy()
        error_log.info(
            "%s draining: %d in-flight, %d waiting for a request",
            who,
            busy,
            len(self.greenlets) - busy,
        )
        next_beat = 0.0
        # Greenlets, not connections: one taken from the backlog may not
        # have started to run yet.
        while self.greenlets and not forced():
            now = monotonic()
            if now >= cut_at:
                return
            if now >= next_beat:
                beat()
                next_beat = now + beat_every
            self.wake.clear()
            self.wake.wait(max(min(cut_at, next_beat) - now, 0.01))

    def _report_left(self, cut: list, unwind: float, who: str) -> None:
        """One warning for the cut greenlets still running: code that caught
        GreenletExit (a bare `except:`) and went on. The worker exits
        without them; the line shows where the first of them is, as a
        request timeout's does."""
        left = [task for task in cut if not task.dead]
        if not left:
            return
        first = left[0]
        stack = "  (not serving a request)"
        for connection in self.state.connections:
            if connection.task is first and first.gr_frame is not None:
                stack = connection.request_stack(first.gr_frame)
                break
        error_log.warning(
            "%s: %d connections still running %g s after being cut (their code caught "
            "GreenletExit and went on); exiting without them; one was here:\n%s",
            who,
            len(left),
            unwind,
            stack,
        )

    def cut(self, why: str, who: str, *, unwind: float = KILL_WAIT) -> None:
        """End every connection left, logging how many requests that cut;
        their greenlets get `unwind` seconds to finish unwinding."""
        if self.greenlets:
            websockets = self.state.websockets()
            busy = self.state.busy() - websockets
            error_log.warning(
                "%s: %s; cut %d in-flight requests%s (%d connections)",
                who,
                why,
                busy,
                f" and closed {websockets} WebSocket connections" if websockets else "",
                len(self.greenlets),
            )
            if busy and self.options.on_cut is not None:
                self.options.on_cut(busy)
            cut = list(self.greenlets)
            gevent.killall(cut, block=False)
            # Not killall's own timeout: it raises when a greenlet outlives it.
            gevent.joinall(cut, timeout=unwind)
            self._report_left(cut, unwind, who)
        self._end_idle(len(self._idle))
        for helper in (self._sweeper, self._memory_keeper):
            if helper is not None:
                helper.kill()
        self._sweeper = self._memory_keeper = None


def _end_request(connection, deadline: float) -> None:
    """Raise RequestTimedOut in the greenlet of a request past its deadline.

    Runs as a callback of the hub, as gevent.kill's throw does, not in the
    sweeper: thrown into from the sweeper, the greenlet would switch to the
    hub at its next wait and leave the sweeper suspended for good. By the time
    it runs, the greenlet may have finished that request (it can run
    between the sweep and this callback), so the deadline is checked again
    here, where no greenlet runs: the very same float object, set anew for
    every request, means the very same request, still in the app.
    """
    task = connection.task
    if connection.app_deadline is not deadline or task is None or task.dead:
        return
    stack = connection.request_stack(task.gr_frame)
    connection.app_deadline = 0.0  # raised once; the request's cleanup is not timed
    task.throw(RequestTimedOut(stack))


def _end_read_wait(connection, deadline: float) -> None:
    """End a read past its deadline with TimeoutError, thrown into its
    greenlet from the hub (as _end_request does), not by shutting the socket
    for reading as expire() does: after that shutdown, the kernel answers any
    further byte from the client with a reset, which destroys the 408 (or the
    app's answer) before the client reads it if it is still sending. expire()
    stays for the waits between requests, which end in a quiet close. The
    very same deadline object means the very same wait (each recv sets its
    own), so a wait that ended meanwhile is left alone."""
    task = connection.task
    if connection.deadline is not deadline or task is None or task.dead:
        return
    connection.deadline = 0.0
    task.throw(TimeoutError("read timed out"))


def _wait_for_client(sock) -> None:
    """Wait until the listener has a connection to accept, in the event loop.

    With other workers on the same listeners, every accept waits for it,
    even when more connections are queued: one connection per turn of the
    loop, as nginx accepts by default (`multi_accept off`). A burst of
    connections (a client's or a proxy's keep-alive pool opened at once) is
    then shared by the workers: one that took all it found kept them all,
    while the others, woken by the same burst, were still waiting for a CPU;
    keep-alive connections stay where they land, so the whole load ran on
    one worker. A worker alone takes all it finds: one accept per turn
    costs it a third of its rate for connections of one request each (the
    turn, with all it serves, then paces the accepts). The wait is the
    gevent socket's own, on its own watcher (what its accept() does after
    EAGAIN). Whether other workers share the listeners is decided when a
    worker starts, from the `workers` setting; after TTIN or TTOU, the
    workers started before keep their way until they are replaced.
    """
    watcher = sock._read_event
    if watcher is None:  # closed: accept() raises EBADF, as it always did
        return
    sock._wait(watcher)


def _waiting_since(connection) -> float:
    return connection.idle_since or connection.head_since


def _client_waiting(sock) -> bool:
    """A connection waits in this listener's backlog (a poll that never yields)."""
    try:
        return bool(_poll_select([sock], [], [], 0)[0])
    except (OSError, ValueError):
        return False


def greenlet_stacks(skip_frame=None) -> str:
    """The stack of every greenlet but the one whose frame is `skip_frame`,
    and those idle between connections (they are all alike, and in no one's way)."""
    import gc

    from greenlet import getcurrent, greenlet

    current = getcurrent()
    stacks = []
    for item in gc.get_objects():
        if isinstance(item, greenlet) and item is not current and item.gr_frame is not None:
            if item.gr_frame is skip_frame or item.gr_frame.f_code is _IDLE_CODE:
                continue
            stacks.append(f"greenlet {item!r}:\n" + "".join(traceback.format_stack(item.gr_frame)))
    return "\n".join(stacks).rstrip()


# Where a greenlet waits between connections: its top frame is this one.
_IDLE_CODE = GeventServer._serve_many.__code__


def _cooperative(listener):
    """An inherited listener, re-created as a gevent socket on the same fd."""
    return _stdlib_socket.socket(listener.family, listener.type, fileno=listener.detach())
