"""Ceiling server: the fastest a pre-forked gevent server can answer the bench workloads.

It frames requests with just enough parsing (head end, Connection, Content-Length) and
writes fixed response bytes in one send, so the gap between it and a real server is the
cost of that server's HTTP and WSGI work. Usage:

    python ceiling.py --bind 127.0.0.1:PORT --workers N

The master binds, forks N workers (each runs an accept loop on the shared listener)
and never imports gevent itself, so each child starts with a fresh hub. A greenlet
that has served a connection waits for the next one, as Glade's do: a new greenlet
per connection (gevent's StreamServer) costs more than this server's whole work on
a short connection.
"""

import argparse
import os
import signal
import socket
import sys

MAX_HEAD = 65536
RECV_SIZE = 65536
SLEEP_SECONDS = 0.05


def _response(body, close, status=b"200 OK"):
    """Build the full response bytes once, so serving is a single send (see send_all)."""
    head = b"HTTP/1.1 %s\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n" % (
        status,
        len(body),
    )
    if close:
        head += b"Connection: close\r\n"
    return head + b"\r\n" + body


def _pair(body, status=b"200 OK"):
    """Keep-alive and Connection: close variants of one response."""
    return (_response(body, False, status), _response(body, True, status))


FIXED = {
    b"/plaintext": _pair(b"Hello, World!"),
    b"/64k": _pair(b"x" * 65536),
    b"/sleep": _pair(b"Hello, World!"),
}
NOT_FOUND = _pair(b"not found", b"404 Not Found")


def parse_head(head):
    """Return (target, wants_close, content_length) from a request head (no CRLFCRLF)."""
    lines = head.split(b"\r\n")
    parts = lines[0].split(b" ")
    target = parts[1] if len(parts) > 1 else b"/"
    version = parts[2] if len(parts) > 2 else b"HTTP/1.1"
    connection = b""
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"connection":
            connection = value.strip().lower()
        elif name == b"content-length":
            length = int(value.strip() or 0)
    close = connection == b"close" or (version == b"HTTP/1.0" and connection != b"keep-alive")
    return target, close, length


def read_head(sock, buf):
    """Read until a full head is buffered; return (head, rest) or (None, b"") on EOF."""
    end = buf.find(b"\r\n\r\n")
    while end < 0:
        if len(buf) > MAX_HEAD:
            return None, b""
        data = sock.recv(RECV_SIZE)
        if not data:
            return None, b""
        buf += data
        end = buf.find(b"\r\n\r\n")
    return buf[:end], buf[end + 4 :]


def skip_body(sock, buf, length):
    """Consume exactly `length` body bytes (E sends 1 MiB); return leftover bytes or None."""
    if len(buf) >= length:
        return buf[length:]
    remaining = length - len(buf)
    while remaining > 0:
        data = sock.recv(min(remaining, 262144))
        if not data:
            return None
        remaining -= len(data)
    return b""


def respond_bytes(target, close, length, sleep):
    """Pick the fixed bytes for a target; /sleep yields to the hub like the app does."""
    path = target.split(b"?", 1)[0]
    if path == b"/upload":
        return _response(b"%d" % length, close)
    if path == b"/sleep":
        sleep(SLEEP_SECONDS)
    return FIXED.get(path, NOT_FOUND)[close]


def send_all(sock, data):
    """send() until every byte is out, as Glade sends. Not gevent's sendall():
    it asks the kernel for the socket's send buffer size on every call, and
    cost this server 11,600 more instructions per small keep-alive response
    (38,100 against 26,500, callgrind) and a system call."""
    sent = sock.send(data)
    if sent < len(data):
        view = memoryview(data)
        while sent < len(data):
            sent += sock.send(view[sent:])


def make_handler(sleep):
    """Connection handler: serve requests in order until Connection: close or EOF."""

    def handle(sock, _address):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        buf = b""
        try:
            while True:
                head, buf = read_head(sock, buf)
                if head is None:
                    return
                target, close, length = parse_head(head)
                buf = skip_body(sock, buf, length)
                if buf is None:
                    return
                send_all(sock, respond_bytes(target, close, length, sleep))
                if close:
                    return
        except OSError:
            return
        finally:
            sock.close()

    return handle


def serve_forever(listener, handle):
    """Accept and serve each connection in a greenlet, reusing idle ones."""
    import gevent

    hub = gevent.get_hub()
    idle = []

    def serve_many(work):
        me = gevent.getcurrent()
        while True:
            handle(*work)
            idle.append(me)
            work = hub.switch()  # until the accept loop hands over the next one

    while True:
        try:
            work = listener.accept()
        except OSError:  # EMFILE and the like: let the handlers close theirs
            gevent.sleep(0.01)
            continue
        if idle:
            hub.loop.run_callback(idle.pop().switch, work)
        else:
            gevent.spawn(serve_many, work)


def run_worker(listener):
    """Child process: default signals, then serve forever on the inherited listener."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    import gevent
    from gevent import socket as gsocket

    # A cooperative listener: wrap the inherited fd in this child only.
    cooperative = gsocket.socket(fileno=listener.detach())
    serve_forever(cooperative, make_handler(gevent.sleep))


def fork_workers(listener, count):
    """Fork `count` workers after binding, the way pre-fork servers share one socket."""
    pids = []
    for _ in range(count):
        pid = os.fork()
        if pid == 0:
            try:
                run_worker(listener)
            finally:
                os._exit(0)
        pids.append(pid)
    return pids


def bind(address):
    """Bind a loopback TCP listener; only 127.x addresses are accepted."""
    host, _, port = address.rpartition(":")
    if not host.startswith("127."):
        sys.exit(f"ceiling: bind to a loopback address (127.x), got {host!r}")
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((host, int(port)))
    listener.listen(2048)
    return listener


def supervise(pids):
    """Forward TERM/INT to the workers and exit once all of them are gone."""
    alive = set(pids)

    def forward(signum, _frame):
        for pid in alive:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    while alive:
        try:
            pid, _status = os.wait()
        except ChildProcessError:
            break
        alive.discard(pid)
        forward(signal.SIGTERM, None)
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bind", required=True, help="HOST:PORT on loopback")
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args(argv)
    listener = bind(args.bind)
    return supervise(fork_workers(listener, args.workers))


if __name__ == "__main__":
    sys.exit(main())
