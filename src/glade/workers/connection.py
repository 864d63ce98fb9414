"""One client connection: read requests, run the app, write responses.

The same code serves both workers: under the gevent worker the socket is
gevent's cooperative socket, under the sync worker a plain blocking one.

Each connection tells its worker whether it is idle (waiting for the next
keep-alive request) or busy, so a drain can close idle connections at once
and let busy ones finish with `Connection: close`.

Timeouts: the sync worker uses socket timeouts. The gevent worker does not:
a socket timeout makes gevent create and cancel a timer on every wait,
which costs more than parsing a small request. Instead each connection
records the moment its current wait must end (`deadline`), and one sweeper
greenlet per worker shuts down the sockets whose moment has passed, a few
times a second; the waiting greenlet wakes with an error and reports the
timeout. Over TLS the gevent worker uses socket timeouts too (see
`Worker.run`).
"""

from __future__ import annotations

import _socket
import fcntl
import os
import socket
import sys
import termios
import time
from time import monotonic

from glade.hooks import RequestView, ResponseView, call_hook
from glade.http import proxy_protocol
from glade.http.errors import HTTPError
from glade.http.parser import END_OF_MESSAGE, NEED_DATA, Body, Request, RequestParser
from glade.http.response import CONTINUE_RESPONSE, error_response
from glade.logging import error_log
from glade.workers.base import WorkerAborted
from glade.wsgi.environ import build_environ, connection_template
from glade.wsgi.input import BadRequestBody, ClientDisconnected, InputStream
from glade.wsgi.response import AppError, ResponseWriter

RECV_SIZE = 65536
# An unread request body up to this size is read and dropped so the
# connection can be reused; a larger one costs a reconnect instead.
DRAIN_BODY_LIMIT = 256 * 1024


def _no_body() -> bytes:
    return b""


class Connection:
    __slots__ = (
        "_body_failed",
        "_body_received",
        "_continue_needed",
        "deadline",
        "environ_template",
        "expired",
        "fresh",
        "idle",
        "parser",
        "remote",
        "sock",
        "worker",
        "writer",
        "writing",
    )

    def __init__(self, sock, remote, worker, environ_template: dict) -> None:
        self.sock = sock
        self.remote = remote
        self.worker = worker
        self.environ_template = connection_template(environ_template, remote)
        self.parser = RequestParser(worker.limits)
        self.idle = False
        self.fresh = True  # nothing received yet
        self.deadline = 0.0  # when the current wait must end (0: not waiting)
        self.writing = False  # the wait is a send
        self.expired = False
        self.writer: ResponseWriter | None = None
        self._continue_needed = False
        self._body_failed = False
        self._body_received = 0

    # -- the request loop ------------------------------------------------

    def serve(self, accepted_at: float) -> None:
        try:
            self._serve(accepted_at)
            if self.parser.in_message:
                self._linger()
        except ClientDisconnected:
            pass
        except OSError as error:
            error_log.debug("connection from %s ended: %s", _peer(self.remote), error)
        finally:
            self.idle = False
            self.parser.close()
            try:
                self.sock.close()
            except OSError:
                pass

    def _serve(self, accepted_at: float) -> None:
        worker = self.worker
        parser = self.parser
        recv = self._recv
        head_deadline: float | None = accepted_at + worker.header_timeout
        waiting_first = True
        if worker.proxy_protocol != "off" and not self._read_proxy_header(head_deadline):
            return
        while True:
            try:
                event = parser.next_event()
            except HTTPError as error:
                self._refuse(error)
                return
            if event is NEED_DATA:
                if parser.dead:
                    return
                if parser.in_message or waiting_first:
                    if head_deadline is None:
                        head_deadline = monotonic() + worker.header_timeout
                    deadline = head_deadline
                else:
                    if worker.draining or not worker.keepalive:
                        return
                    deadline = monotonic() + worker.keepalive
                    self.idle = True
                try:
                    data = recv(deadline)
                except TimeoutError:
                    if not self.idle:
                        self._head_timed_out()
                    return
                finally:
                    self.idle = False
                self.fresh = False
                if not data:
                    parser.feed_eof()
                    if parser.dead and not parser.in_message:
                        return
                    continue
                parser.feed(data)
                continue
            if type(event) is Request:
                waiting_first = False
                if not self._handle(event):
                    return
                # The next head's clock starts when it does: at its first
                # byte, or now if part of it came with this request.
                head_deadline = None
            # A stray Body/EndOfMessage cannot happen: _handle consumes them.

    def _read_proxy_header(self, deadline: float) -> bool:
        """Before the first request: the load balancer's PROXY header, if it
        sent one. False when the connection is to be closed."""
        data = b""
        while True:
            try:
                result = proxy_protocol.parse(data, self.worker.proxy_protocol)
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
            if not self.worker.proxy_peers(peer):
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
            self.fresh = False
            self.parser.feed(data[used:])
        return True

    def _linger(self) -> None:
        """Close without destroying the answer: read what the client still sends.

        Closing a socket with unread data makes the kernel send a reset,
        which can wipe out the response (a 413, or a reply to an upload the
        app ignored) before the client reads it. So: stop writing, then read
        and drop the rest for a short while, as nginx's lingering close does.
        """
        try:
            _shutdown(self.sock, socket.SHUT_WR)
        except OSError:
            return
        deadline = monotonic() + self.worker.linger_seconds
        try:
            while self._recv(deadline):
                pass
        except (OSError, TimeoutError):
            pass

    def _head_timed_out(self) -> None:
        if self.parser.in_message:
            self._log_refusal(408, "request head not received in time")
            self._send_quietly(error_response(408, "request head not received in time"))

    def _refuse(self, error: HTTPError) -> None:
        self._log_refusal(error.status, error.reason)
        self._send_quietly(error_response(error.status, error.reason))

    def _log_refusal(self, status: int, reason: str) -> None:
        error_log.info("refused request from %s: %d %s", _peer(self.remote), status, reason)

    def _send_quietly(self, data: bytes) -> None:
        """A last answer before closing: bounded, and never raises."""
        try:
            self._send(data, 1.0)
        except OSError:
            pass

    # -- one request -----------------------------------------------------

    def _handle(self, request: Request) -> bool:
        """Run the app for one request; True when the connection can be reused."""
        worker = self.worker
        started = time.time() if worker.access_log else 0.0
        self._continue_needed = request.expect_continue and request.has_body
        self._body_failed = False
        self._body_received = 0
        if request.has_body:
            wsgi_input = InputStream(self._pull_body)
        else:
            wsgi_input = InputStream(_no_body)
            self._skip_empty_body()
        environ = build_environ(self.environ_template, request, None, wsgi_input)
        writer = self.writer = ResponseWriter(
            self._send,
            self._sendfile if worker.can_sendfile else None,
            head_request=request.method == "HEAD",
            http11=request.http_version == "1.1",
            keep_alive=request.keep_alive and worker.keepalive > 0 and not worker.draining,
        )
        result = None
        completed = False
        hooked = worker.pre_request is not None or worker.post_request is not None
        try:
            if hooked:
                hook_request = RequestView(request, self.remote)
                self._run_hook("pre_request", worker, hook_request)
            result = worker.app(environ, writer.start_response)
            if request.has_body and not self._rest_of_body_skippable(request, wsgi_input):
                # This response is the connection's last: say so in its head.
                writer.keep_alive = False
            writer.finish(result)
            completed = True
        except ClientDisconnected:
            pass
        except BadRequestBody as error:
            self._fail_request(writer, error.status, error.reason)
        except AppError as error:
            error_log.error("%s %s: %s", request.method, _path(environ), error)
            self._fail_request(writer, 500, "")
        except Exception:
            error_log.error(
                "Error handling request %s %s", request.method, _path(environ), exc_info=True
            )
            self._fail_request(writer, 500, "")
        except WorkerAborted:
            # The worker is stuck here and about to exit; its stack is logged.
            self._fail_request(writer, 500, "")
            raise
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                try:
                    close()
                except Exception:
                    error_log.error("Error closing the app's result", exc_info=True)
            self.writer = None
            if hooked:
                self._run_hook("post_request", worker, hook_request, environ, ResponseView(writer))
            worker.request_done()
        if worker.access_log and writer.status_code:
            # Failed requests too: an access log without its 500s and 413s
            # would hide exactly what an operator looks for.
            worker.access_log.log(
                environ,
                writer.status_code,
                writer.headers,
                writer.bytes_sent,
                time.time() - started,
            )
        if not completed or not writer.keep_alive or self._body_failed:
            return False
        if request.has_body and not wsgi_input.finished:
            if self._continue_needed:
                return False  # the client never sent the body; do not invite it now
            try:
                if not wsgi_input.drain(DRAIN_BODY_LIMIT):
                    return False
            except OSError:
                return False
        return not worker.draining

    def _rest_of_body_skippable(self, request: Request, wsgi_input: InputStream) -> bool:
        """When the app has returned: can the body it left unread be drained
        after the response, so that the connection is reused?"""
        if wsgi_input.finished:
            return True
        if self._continue_needed:
            return False  # the app never asked for the body: the client will not send it
        if request.content_length is not None:
            return request.content_length - self._body_received <= DRAIN_BODY_LIMIT
        return True  # chunked: its size is unknown until drained

    def _fail_request(self, writer: ResponseWriter, status: int, reason: str) -> None:
        writer.keep_alive = False
        if writer.head_sent:
            return  # mid-body: closing the connection is the only signal left
        if status != 500:
            self._log_refusal(status, reason)
        self._send_quietly(error_response(status, reason))
        writer.head_sent = True
        writer.status_code = status

    def _skip_empty_body(self) -> None:
        """Consume the END_OF_MESSAGE of a request without a body."""
        event = self.parser.next_event()
        if event is not END_OF_MESSAGE:  # pragma: no cover - llhttp guarantees it
            raise RuntimeError(f"expected the end of a bodiless request, got {event!r}")

    # -- I/O for the WSGI layer ------------------------------------------

    def _pull_body(self) -> bytes:
        parser = self.parser
        while True:
            try:
                event = parser.next_event()
            except HTTPError as error:
                self._body_failed = True
                raise BadRequestBody(error.status, error.reason) from None
            if type(event) is Body:
                self._body_received += len(event.data)
                return event.data
            if event is END_OF_MESSAGE:
                return b""
            if self._continue_needed:
                self._continue_needed = False
                if self.writer is not None and not self.writer.head_sent:
                    self._send(CONTINUE_RESPONSE)
            try:
                data = self._recv(monotonic() + self.worker.body_timeout)
            except TimeoutError:
                self._body_failed = True
                raise BadRequestBody(408, "request body not received in time") from None
            except OSError as error:
                self._body_failed = True
                raise ClientDisconnected(f"client disconnected: {error}") from None
            if not data:
                self._body_failed = True
                raise ClientDisconnected("client disconnected in the middle of the request body")
            parser.feed(data)

    def _recv(self, deadline: float) -> bytes:
        """recv that gives up at `deadline` (monotonic) with TimeoutError."""
        if self.worker.sweeps_deadlines:
            self.deadline = deadline
            try:
                data = self.sock.recv(RECV_SIZE)
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
        """sendall with a deadline, without gevent's per-call SO_SNDBUF lookup."""
        worker = self.worker
        sweeps = worker.sweeps_deadlines
        timeout = worker.body_timeout if timeout is None else timeout
        send = self.sock.send
        try:
            if sweeps:
                self.deadline = monotonic() + timeout
                self.writing = True
            else:
                self.sock.settimeout(timeout)
            sent = send(data)
            if sent < len(data):
                view = memoryview(data)
                while sent < len(data):
                    sent += send(view[sent:])
        except OSError as error:
            raise ClientDisconnected(f"client disconnected: {error}") from None
        finally:
            if sweeps:
                self.deadline = 0.0
                self.writing = False

    def _sendfile(self, file, offset: int, count: int) -> int:
        """os.sendfile: the file goes from the page cache to the socket, no copies."""
        if not self.worker.sweeps_deadlines:
            self.sock.settimeout(self.worker.body_timeout)
            try:
                sent = self.sock.sendfile(file, offset, count)
            except OSError as error:
                raise ClientDisconnected(f"client disconnected: {error}") from None
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
            while sent < count:
                self.deadline = monotonic() + self.worker.body_timeout
                self.writing = True
                try:
                    done = os.sendfile(sock_fd, file_fd, offset + sent, count - sent)
                except BlockingIOError:
                    wait_write(sock_fd)
                    continue
                if done == 0:
                    break  # the file is shorter than announced
                sent += done
        except OSError as error:
            raise ClientDisconnected(f"client disconnected: {error}") from None
        finally:
            self.deadline = 0.0
            self.writing = False
        return sent

    # -- called by the worker --------------------------------------------

    def expire(self) -> None:
        """The sweeper's call: the current wait is past its deadline.

        Shutting the socket down wakes the waiting greenlet with an error; a
        read is only shut for reading, so a 408 can still be sent.
        """
        self.expired = True
        self.deadline = 0.0
        try:
            _shutdown(self.sock, socket.SHUT_RDWR if self.writing else socket.SHUT_RD)
        except OSError:
            pass

    def _run_hook(self, name: str, *args) -> None:
        call_hook(self.worker.cfg, name, *args)

    def close_if_idle(self, *, fresh_too: bool = False) -> bool:
        """Drain: an idle keep-alive connection closes now. True if it did.

        A busy one is told to finish with `Connection: close`. A connection
        whose next request has already arrived is not idle, whatever the
        flag says: its request is served. With `fresh_too`, a connection
        that has not sent a byte since it was accepted counts as idle too
        (the drain waits a moment for those first, as Go's server does).
        """
        if self.writer is not None:
            self.writer.keep_alive = False  # finish this one with Connection: close
            return False
        if not (self.idle or (fresh_too and self.fresh)) or self._request_waiting():
            return False
        try:
            _shutdown(self.sock, socket.SHUT_RDWR)
        except OSError:
            pass
        return True

    def _request_waiting(self) -> bool:
        """Bytes from the client sit in the kernel (FIONREAD) or, over TLS,
        decrypted in the TLS layer, not yet read."""
        pending = getattr(self.sock, "pending", None)
        if pending is not None and pending():
            return True
        try:
            count = fcntl.ioctl(self.sock.fileno(), termios.FIONREAD, b"\0\0\0\0")
        except OSError:
            return False
        return int.from_bytes(count, sys.byteorder) > 0


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
