"""The serving loop of one client connection, for every worker.

It drives the sans-IO HTTPConnection (http/connection.py) over a socket:
read bytes and feed them, take events, run the app, send what the HTTP
connection frames, keep the deadlines, close. Every decision about framing
and keep-alive is the HTTP connection's; this module only moves bytes,
waits and times. The gevent worker, the sync worker and the gunicorn worker
class all serve connections with this one loop.

Deadlines:
- a request head: `header_timeout` from its first byte (the first request's
  from the accept);
- between requests: `keepalive` of quiet; while the worker drains, only
  `drain_grace` of quiet (counted from the last response), so that a
  client that reuses the connection gets its next request answered with
  `Connection: close` instead of racing a close;
- reading a body and writing a response: `body_timeout` without progress.
  A slow but steady reader gets everything; one that stops reading is cut,
  with a log line;
- a whole request, from the app's call to the end of its response:
  `request_timeout`, if set (workers/request_timeout.py).

How waits are bounded: under gevent, on plain TCP, a socket timeout would
make gevent create and cancel a timer on every wait, which costs more than
parsing a small request. Instead each connection records when its current
wait must end (`deadline`), and one sweeper greenlet per worker shuts down
the sockets whose moment has passed (workers/gevent_serving.py); the
waiting greenlet wakes with an error and reports the timeout. A read inside
a request (its head or body) is the exception: it ends with TimeoutError
thrown into the greenlet, so that the socket stays open for reading while
the 408 goes out and the close lingers. Elsewhere (TLS, whose state a
shutdown would break; the sync worker) socket timeouts bound each wait.
"""

from __future__ import annotations

import _socket
import fcntl
import os
import socket
import sys
import termios
import time
from collections.abc import Callable
from time import monotonic

from greenlet import GreenletExit

from glade.hooks import RequestView, ResponseView, call_hook
from glade.http import proxy_protocol
from glade.http.connection import CLOSED, NEED_DATA, HTTPConnection, Phase, Request
from glade.http.errors import HTTPError
from glade.http.parser import Body
from glade.logging import error_log
from glade.workers.base import WorkerAborted
from glade.workers.options import HEAD_GRACE, ServingOptions, ServingState
from glade.workers.request_timeout import RequestTimedOut, stack_below
from glade.wsgi.environ import build_environ, connection_template
from glade.wsgi.input import BadRequestBody, ClientDisconnected, InputStream
from glade.wsgi.response import AppError, ResponseWriter, where_in_app

try:
    # A gevent socket's recv and send, in C (see gevent_io.pyx), for the
    # sockets whose waits the sweeper bounds.
    from glade.workers import gevent_io
except ImportError:  # pure Python: the sockets' own methods
    gevent_io = None

RECV_SIZE = 65536
# What the access log says of a connection the app took over (a WebSocket):
# the app answered the handshake itself, as a rule with 101 Switching Protocols.
TAKEN_OVER_STATUS = 101


class ClientStalled(ClientDisconnected):
    """The client stopped reading the response for `body_timeout`."""


class SocketTakenOver(Exception):
    """The app took the socket of an upgrade request (a WebSocket) and is
    done with it: it answered the handshake itself, so Glade sends nothing."""


def _no_body() -> bytes:
    return b""


class Connection:
    __slots__ = (
        "_head_received",
        "app_deadline",
        "deadline",
        "environ_template",
        "expired",
        "head_since",
        "http",
        "idle_since",
        "options",
        "remote",
        "request_alarm",
        "server",
        "sock",
        "task",
        "writing",
        "written",
    )

    def __init__(
        self,
        sock,
        remote,
        options: ServingOptions,
        server: ServingState,
        environ_template: dict,
        request_alarm: Callable[[float], None] | None = None,
    ) -> None:
        self.sock = sock
        self.remote = remote
        self.options = options
        self.server = server
        self.environ_template = connection_template(environ_template, remote)
        self.http = HTTPConnection(options.limits, keep_alive=options.keepalive > 0)
        self.idle_since = 0.0  # waiting for a request to begin since then (0: not waiting)
        self.head_since = 0.0  # receiving a request head since then (0: not receiving one)
        self._head_received = 0  # bytes of it, so far
        self.deadline = 0.0  # when the current wait must end (0: not waiting)
        self.writing = False  # the wait is a send
        self.expired = False
        self.written = 0  # bytes sent on this connection
        # --request-timeout: when the request being answered must end (0: no
        # request, or no limit). The gevent worker's sweeper reads it and
        # throws into `task`, the connection's greenlet; the sync worker is
        # told through `request_alarm(deadline)`, and `request_alarm(0.0)`
        # when the request is done.
        self.app_deadline = 0.0
        self.task = None
        self.request_alarm = request_alarm

    # -- the loop ------------------------------------------------------------

    def serve(self, accepted_at: float) -> None:
        """Serve requests until the connection ends; never raises an OSError."""
        server = self.server
        server.connections.add(self)
        try:
            self._serve(accepted_at)
            http = self.http
            if http.client_may_send_more or (http.client_may_pipeline and self.request_waiting()):
                self._linger()
        except ClientStalled as stalled:
            error_log.warning("%s", stalled)
        except ClientDisconnected:
            pass
        except OSError as error:
            error_log.debug("connection from %s ended: %s", _peer(self.remote), error)
        finally:
            server.connections.discard(self)
            self.idle_since = 0.0
            self.http.close()
            try:
                self.sock.close()
            except OSError:
                pass

    def _serve(self, accepted_at: float) -> None:
        http = self.http
        options = self.options
        head_deadline: float | None = accepted_at + options.header_timeout
        if options.proxy_protocol != "off" and not self._read_proxy_header(head_deadline):
            return
        idle_since = accepted_at
        data = b""
        turns = self.server.turns
        loop = None if turns is None else turns.loop
        last_turn = -1  # the event loop's iteration when the last response was out
        run_since = 0.0  # when this greenlet's run of requests without a wait began
        while True:
            try:
                event = http.next_event()
            except HTTPError as error:
                self._refuse(error)
                return
            if type(event) is Request:
                self.head_since = 0.0
                self._respond(event)
                idle_since = monotonic()
                if loop is not None:
                    # Taking turns (gevent_serving.Turns): a run of requests
                    # served without the loop polling gives way past its budget.
                    turn = loop.iteration
                    if turn != last_turn:
                        run_since = idle_since
                    elif idle_since - run_since >= (
                        turns.budget_while_others_wait if loop.pendingcnt else turns.budget
                    ):
                        turns.give_way()
                        turn = loop.iteration
                        idle_since = run_since = monotonic()
                    last_turn = turn
                # The next head's clock starts when it does: at its first
                # byte, or now if part of it came with this request.
                head_deadline = None
                continue
            if event is CLOSED:
                return
            # NEED_DATA: the next request, or the rest of one.
            if http.between_requests:
                data = self._wait_for_request(idle_since, head_deadline)
                if data is None:
                    return
            elif http.phase is Phase.RECEIVING:
                if head_deadline is None:
                    head_deadline = monotonic() + options.header_timeout
                data = self._receive_head(head_deadline, data)
                if data is None:
                    return
            else:
                # The rest of the last request's body, to be dropped.
                if head_deadline is None:
                    head_deadline = monotonic() + options.header_timeout
                try:
                    data = self._recv(head_deadline)
                except TimeoutError:
                    return
            if data:
                http.receive_data(data)
            else:
                http.receive_eof()

    def _wait_for_request(self, idle_since: float, head_deadline: float | None) -> bytes | None:
        """The first bytes of the next request; None when the connection is to
        close quietly: its idle time is over, or the worker drains and it has
        been quiet for the drain's grace."""
        options = self.options
        if head_deadline is not None:
            # The first request: its head's time counts from the accept, and
            # a connection that stays silent goes sooner.
            deadline = head_deadline
            if options.first_byte_timeout:
                deadline = min(deadline, idle_since + options.first_byte_timeout)
        elif self.http.keep_alive:
            deadline = idle_since + options.keepalive
        else:
            return None
        self.idle_since = idle_since
        try:
            while True:
                if self.server.draining:
                    self.http.start_closing()
                    deadline = min(deadline, idle_since + options.drain_grace)
                try:
                    if options.sweeps_deadlines:
                        return self._recv(deadline)
                    # A socket timeout cannot see a drain begin: wait in slices.
                    return self._recv(min(deadline, monotonic() + options.drain_grace))
                except TimeoutError:
                    if self.request_waiting():
                        if self.expired:  # shut for reading: this request is the last
                            self.http.start_closing()
                        continue  # it arrived as the wait ended: serve it
                    # Expired: by the sweeper at the deadline, for a drain, or to
                    # make room in a full worker. Else a slice of the wait ended.
                    if self.expired or monotonic() >= deadline:
                        return None
        finally:
            self.idle_since = 0.0

    def _receive_head(self, head_deadline: float, last: bytes) -> bytes | None:
        """More of a request head (`last` was its latest part); None when it
        came too slowly and was answered 408.

        Besides --header-timeout, a head that has taken HEAD_GRACE must have
        averaged --header-min-rate, and must not pause for HEAD_GRACE: a
        client that trickles it (slowloris) or stops in its middle holds a
        slot and its memory for seconds, not for the whole header timeout.
        """
        options = self.options
        rate = options.header_min_rate
        now = monotonic()
        if not self.head_since:
            self.head_since = now
            self._head_received = len(last)
        else:
            self._head_received += len(last)
        deadline = head_deadline
        if rate:
            grace = min(HEAD_GRACE, options.header_timeout)
            deadline = min(
                deadline,
                now + grace,
                self.head_since + grace + self._head_received / rate,
            )
        try:
            return self._recv(deadline)
        except TimeoutError:
            if monotonic() < deadline:  # expired early: a full worker made room
                reason = "request head still incomplete when a full worker needed its slot"
            elif deadline < head_deadline:
                reason = f"request head arriving too slowly (under {rate:g} bytes/s, or paused)"
            else:
                reason = "request head not received in time"
            self._refuse(HTTPError(408, reason))
            return None

    def _read_proxy_header(self, deadline: float) -> bool:
        """Before the first request: the load balancer's PROXY header, if it
        sent one. False when the connection is to be closed."""
        options = self.options
        data = b""
        while True:
            try:
                result = proxy_protocol.parse(data, options.proxy_protocol)
            except proxy_protocol.ProxyProtocolError as error:
                self._refuse(HTTPError(400, str(error)))
                return False
            if result is not proxy_protocol.NEED_DATA:
                break
            try:
                chunk = self._recv(deadline)
            except TimeoutError:
                return False
            if not chunk:
                return False
            data += chunk
        header, used = result
        if header is not None:
            peer = self.remote[0] if type(self.remote) is tuple else ""
            if not options.proxy_peers(peer):
                self._refuse(HTTPError(403, "PROXY header from a peer not in proxy_allow_ips"))
                return False
            if header.client is not None:
                self.environ_template = dict(
                    self.environ_template,
                    REMOTE_ADDR=header.client[0],
                    REMOTE_PORT=str(header.client[1]),
                    PROXY_PROTOCOL=header.protocol,
                    PROXY_ADDR=header.destination[0],
                    PROXY_PORT=str(header.destination[1]),
                )
                self.environ_template["glade.peer_addr"] = peer
        if len(data) > used:
            self.http.receive_data(data[used:])
        return True

    def _linger(self) -> None:
        """Close without destroying the answer: read what the client still sends.

        Closing a socket with unread data makes the kernel send a reset,
        which can wipe out the response (a 413, an answer to an upload the
        app ignored, or one that said `Connection: close` to a client that
        had already sent its next request) before the client reads it. So:
        stop writing, then read and drop the rest for a short while, as
        nginx's lingering close does (RFC 9112 9.6). A client told to close
        closes at once; one that does not is not waited for long, and even
        less while the worker drains.
        """
        try:
            _shutdown(self.sock, socket.SHUT_WR)
        except OSError:
            return
        options = self.options
        seconds = options.drain_grace if self.server.draining else options.linger_seconds
        deadline = monotonic() + seconds
        try:
            while self._recv(deadline):
                pass
        except (OSError, TimeoutError):
            pass

    def _refuse(self, error: HTTPError) -> None:
        self._log_refusal(error.status, error.reason)
        self._send_quietly(self.http.refuse(error))

    def _log_refusal(self, status: int, reason: str) -> None:
        error_log.info("refused request from %s: %d %s", _peer(self.remote), status, reason)

    def _send_quietly(self, data: bytes) -> None:
        """A last answer before closing: bounded, and never raises."""
        if not data:
            return
        try:
            self._send(data, 1.0)
        except OSError:
            pass

    # -- one request ---------------------------------------------------------

    def _respond(self, request: Request) -> None:
        """Run the app for one request and send its response."""
        options = self.options
        server = self.server
        http = self.http
        started = time.time() if options.access_log or options.on_request else 0.0
        wsgi_input = InputStream(self._pull_body if request.has_body else _no_body)
        environ = build_environ(self.environ_template, request, None, wsgi_input)
        upgrade = request.upgrade
        if upgrade:
            # The key WebSocket libraries look for (simple-websocket, and so
            # Flask-SocketIO, python-socketio and Flask-Sock): an app that
            # takes the socket answers the handshake and owns the connection.
            environ["gunicorn.socket"] = self.sock
        writer = ResponseWriter(
            http, self._send, self._sendfile if options.can_sendfile else None, server
        )
        result = None
        # A WebSocket the app took over, ended (or cut at the graceful timeout).
        session_ended = False
        hooked = options.pre_request is not None or options.post_request is not None
        written_before = self.written
        # A WebSocket lives as long as its client keeps it: no request timeout.
        timeout = 0.0 if upgrade else options.request_timeout
        try:
            if hooked:
                hook_request = RequestView(request, self.remote)
                call_hook(options.hook_config, "pre_request", options.hook_worker, hook_request)
            try:
                if timeout:
                    self._start_request_clock(monotonic() + timeout)
                result = options.app(environ, writer.start_response)
                if upgrade and writer.status is None:
                    raise SocketTakenOver
                writer.finish(result)
            finally:
                if timeout:
                    self._stop_request_clock()
            if http.short_by:
                error_log.warning(
                    "response to %s (%s %s) ended %d bytes short of its Content-Length "
                    "(%d of %d sent); closed the connection",
                    _peer(self.remote),
                    request.method,
                    _path(environ),
                    http.short_by,
                    http.bytes_sent,
                    http.bytes_sent + http.short_by,
                )
        except SocketTakenOver:
            http.abandon()  # nothing of Glade's may follow what the app sent
            session_ended = True
        except RequestTimedOut as ended:
            self._stop_request_clock()  # if it was raised inside the clause above
            self._end_timed_out(request, environ, ended, written_before)
        except ClientStalled:
            http.fail_response(500)
            if options.on_cut is not None:
                options.on_cut(1)
            raise ClientStalled(
                f"cut the response to {_peer(self.remote)} ({request.method} "
                f"{_path(environ)}): it read nothing for {options.body_timeout:g} s "
                f"(--body-timeout); {self.written - written_before} bytes of it were sent"
            ) from None
        except ClientDisconnected:
            http.abandon()
        except BadRequestBody as error:
            self._log_refusal(error.status, error.reason)
            self._send_quietly(http.fail_response(error.status, error.reason))
        except AppError as error:
            cut = http.head_sent
            self._send_quietly(http.fail_response(500))
            error_log.error(
                "%s %s from %s: %s (%s); %s",
                request.method,
                _path(environ),
                _peer(self.remote),
                error,
                where_in_app(error, result, options.app),
                f"cut the response after {http.bytes_sent} bytes of its body"
                if cut
                else "answered 500",
            )
        except Exception as error:
            if upgrade and writer.status is None:
                session_ended = self._end_taken_over(request, environ, error)
            else:
                error_log.error(
                    "Error handling request %s %s", request.method, _path(environ), exc_info=True
                )
                self._send_quietly(http.fail_response(500))
        except WorkerAborted:
            # The worker is stuck here and about to exit; its stack is logged.
            self._send_quietly(http.fail_response(500))
            raise
        except GreenletExit:
            # Cut at the graceful timeout (gevent worker): a WebSocket's
            # session still gets its access line, with the time it lasted.
            session_ended = upgrade and writer.status is None
            raise
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                try:
                    close()
                except Exception:
                    error_log.error("Error closing the app's result", exc_info=True)
            if hooked:
                call_hook(
                    options.hook_config,
                    "post_request",
                    options.hook_worker,
                    hook_request,
                    environ,
                    ResponseView(writer),
                )
            server.request_done()
            if started and writer.status_code:
                # Failed requests too: an access log without its 500s and 413s
                # would hide exactly what an operator looks for.
                seconds = time.time() - started
                if options.access_log:
                    options.access_log.log(
                        environ, writer.status_code, writer.headers, writer.bytes_sent, seconds
                    )
                if options.on_request is not None:
                    options.on_request(request.method, writer.status_code, seconds)
            elif session_ended and options.access_log:
                # One line when the WebSocket ends, its time the session's; what
                # the app sent on its own is not counted. Not in Glade's request
                # metrics (on_request): a session of hours is no request latency.
                # A session whose app raised has its error logged instead.
                options.access_log.log(environ, TAKEN_OVER_STATUS, [], 0, time.time() - started)

    def _end_taken_over(self, request: Request, environ: dict, error: Exception) -> bool:
        """An app that may have taken the socket (an upgrade request, and no
        start_response) raised: the connection ends, and nothing is sent,
        since a 500 would land in the middle of the app's own protocol.
        StopIteration is how a library says it is done with a socket it took
        (python-engineio does so for gunicorn's key), not an error. Returns
        True when the session ended that normal way."""
        self.http.abandon()
        if type(error) is StopIteration:
            return True
        error_log.error(
            "Error handling upgraded connection %s %s from %s",
            request.method,
            _path(environ),
            _peer(self.remote),
            exc_info=True,
        )
        return False

    def _start_request_clock(self, deadline: float) -> None:
        self.app_deadline = deadline
        if self.request_alarm is not None:
            self.request_alarm(deadline)

    def _stop_request_clock(self) -> None:
        """The request is past the point where it may be ended. Idempotent.

        The deadline is cleared first: whoever ends requests checks it just
        before raising, so from here on nothing is raised into this code.
        """
        self.app_deadline = 0.0
        if self.request_alarm is not None:
            self.request_alarm(0.0)

    def _end_timed_out(
        self, request: Request, environ: dict, ended: RequestTimedOut, written_before: int
    ) -> None:
        """Answer 503 (or cut the response, if its head went out) and log one
        line that says where the request's code was."""
        http = self.http
        sent = self.written - written_before
        cut = http.head_sent
        self._send_quietly(http.fail_response(503))
        options = self.options
        if options.on_cut is not None:
            options.on_cut(1)
        error_log.error(
            "ended %s %s from %s: still running after %g s (--request-timeout), "
            "%d bytes of its response sent; %s; it was here:\n%s",
            request.method,
            _path(environ),
            _peer(self.remote),
            options.request_timeout,
            sent,
            "closed the connection" if cut else "answered 503",
            ended.stack,
        )

    def request_stack(self, frame) -> str:
        """The stack of this connection's request, from the app in to `frame`
        (the frame it is running or waiting in), for the timeout's log line."""
        return stack_below(frame, _RESPOND_CODE)

    # -- I/O for the WSGI layer ----------------------------------------------

    def _pull_body(self) -> bytes:
        http = self.http
        while True:
            try:
                event = http.body_event()
            except HTTPError as error:
                raise BadRequestBody(error.status, error.reason) from None
            if type(event) is Body:
                return event.data
            if event is not NEED_DATA:
                return b""  # END_OF_MESSAGE
            continue_response = http.continue_response()
            if continue_response:
                self._send(continue_response)
            try:
                data = self._recv(monotonic() + self.options.body_timeout)
            except TimeoutError:
                raise BadRequestBody(408, "request body not received in time") from None
            except OSError as error:
                raise ClientDisconnected(f"client disconnected: {error}") from None
            if not data:
                raise ClientDisconnected("client disconnected in the middle of the request body")
            http.receive_data(data)

    def _recv(self, deadline: float) -> bytes:
        """recv that gives up at `deadline` (monotonic) with TimeoutError."""
        if self.options.sweeps_deadlines:
            self.deadline = deadline
            try:
                data = _sock_recv(self.sock, RECV_SIZE)
            except OSError:
                if self.expired:
                    raise TimeoutError from None
                raise
            finally:
                self.deadline = 0.0
            if not data and self.expired:
                raise TimeoutError  # the sweeper's shutdown reads as end of file
            return data
        self.sock.settimeout(max(deadline - monotonic(), 0.001))
        return self.sock.recv(RECV_SIZE)

    def _send(self, data: bytes, timeout: float | None = None) -> None:
        """sendall, cut only when no byte went out for `timeout` (body_timeout).

        Not gevent's sendall: it asks the kernel for SO_SNDBUF on every call.
        """
        sweeps = self.options.sweeps_deadlines
        timeout = self.options.body_timeout if timeout is None else timeout
        sock = self.sock
        send = _sock_send if sweeps else _send_by_method
        total = len(data)
        sent = 0
        try:
            if sweeps:
                self.writing = True
                self.deadline = monotonic() + timeout
            else:
                sock.settimeout(timeout)
            sent = send(sock, data, 0)
            while sent < total:
                if sweeps:
                    self.deadline = monotonic() + timeout  # progress: a new deadline
                sent += send(sock, data, sent)
        except OSError as error:
            self.written += sent
            if self.expired or isinstance(error, TimeoutError):
                raise ClientStalled("the client stopped reading") from None
            raise ClientDisconnected(f"client disconnected: {error}") from None
        finally:
            if sweeps:
                self.deadline = 0.0
                self.writing = False
        self.written += sent

    def _sendfile(self, file, offset: int, count: int) -> int:
        """os.sendfile: the file goes from the page cache to the socket, no copies."""
        if not self.options.sweeps_deadlines:
            self.sock.settimeout(self.options.body_timeout)
            try:
                sent = self.sock.sendfile(file, offset, count)
            except TimeoutError:
                raise ClientStalled("the client stopped reading") from None
            except OSError as error:
                raise ClientDisconnected(f"client disconnected: {error}") from None
            self.written += sent
        else:
            # gevent's socket.sendfile() reads the file into Python and sends
            # it in blocks; this loop keeps it zero-copy.
            sent = self._cooperative_sendfile(file.fileno(), offset, count)
        if sent < count:
            raise ClientDisconnected("client disconnected during sendfile")
        return sent

    def _cooperative_sendfile(self, file_fd: int, offset: int, count: int) -> int:
        from gevent.socket import wait_write

        sock_fd = self.sock.fileno()
        sent = 0
        try:
            self.writing = True
            while sent < count:
                self.deadline = monotonic() + self.options.body_timeout
                try:
                    done = os.sendfile(sock_fd, file_fd, offset + sent, count - sent)
                except BlockingIOError:
                    wait_write(sock_fd)
                    continue
                if done == 0:
                    break  # the file is shorter than announced
                sent += done
                self.written += done
        except OSError as error:
            if self.expired:
                raise ClientStalled("the client stopped reading") from None
            raise ClientDisconnected(f"client disconnected: {error}") from None
        finally:
            self.deadline = 0.0
            self.writing = False
        return sent

    # -- called by the worker's sweeper --------------------------------------

    def expire(self) -> None:
        """The sweeper's call: a wait between requests is past its deadline,
        the worker drains, or a full worker needs the slot; or a write is past
        its deadline.

        Shutting the socket down wakes the waiting greenlet with an error; a
        read is only shut for reading, so an answer can still be sent (a
        read inside a request ends otherwise: gevent_serving._end_read_wait).
        """
        self.expired = True
        self.deadline = 0.0
        try:
            _shutdown(self.sock, socket.SHUT_RDWR if self.writing else socket.SHUT_RD)
        except OSError:
            pass

    def request_waiting(self) -> bool:
        """Bytes from the client sit in the kernel (FIONREAD) or, over TLS,
        decrypted in the TLS layer, not yet read."""
        pending = getattr(self.sock, "pending", None)
        if pending is not None and pending():
            return True
        try:
            count = fcntl.ioctl(self.sock.fileno(), termios.FIONREAD, b"\0\0\0\0")
        except (OSError, ValueError):  # ValueError: already closed
            return False
        return int.from_bytes(count, sys.byteorder) > 0


# The frame that calls the app: a request's own stack begins below it. (None
# if this module is ever compiled: then the whole stack is walked, and only
# Glade's own outer frames are left out.)
_RESPOND_CODE = getattr(Connection._respond, "__code__", None)


def _send_by_method(sock, data, start: int) -> int:
    """`sock.send(data[start:])` through the socket's own method: a socket
    with a timeout (TLS, the sync worker), or any under pure Python."""
    return sock.send(memoryview(data)[start:] if start else data)


# recv and send for a gevent socket whose waits the sweeper bounds.
if gevent_io is not None:
    _sock_recv, _sock_send = gevent_io.recv, gevent_io.send
else:

    def _sock_recv(sock, size: int) -> bytes:
        return sock.recv(size)

    _sock_send = _send_by_method


def _shutdown(sock, how: int) -> None:
    """shutdown(2) on the socket's descriptor.

    Not `sock.shutdown()`: on a TLS socket that also drops the TLS state,
    and a 408 sent after it would go out in clear text.
    """
    raw = sock if isinstance(sock, _socket.socket) else sock._sock  # gevent wraps the real one
    _socket.socket.shutdown(raw, how)


def _peer(remote) -> str:
    if type(remote) is tuple:
        return f"{remote[0]}:{remote[1]}"
    return "unix socket"


def _path(environ: dict) -> str:
    return environ.get("RAW_URI", "?")
