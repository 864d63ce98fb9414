"""WebSockets on the gevent worker, with real libraries on both sides.

Server: Flask-SocketIO and Flask-Sock (tests/frameworks/apps/wsapp.py), which
take the socket from `environ["gunicorn.socket"]`. Clients: python-socketio's
client and websocket-client. Echo both ways, a broadcast from a plain HTTP
request, then HUP and TERM with sockets open: the connections are closed at
the graceful timeout, with a log line, and no traceback.
"""

from __future__ import annotations

import queue
import re
import signal
import time

import pytest
import requests
from support.server import TRACEBACK, GladeServer, wait_until

socketio = pytest.importorskip("socketio")
websocket = pytest.importorskip("websocket")
pytest.importorskip("flask_socketio")
pytest.importorskip("flask_sock")

APPS = __import__("pathlib").Path(__file__).resolve().parent / "apps"


@pytest.fixture
def server():
    server = GladeServer(
        "wsapp:app",
        "-k",
        "gevent",
        "-w",
        "1",
        "--graceful-timeout",
        "2",
        "--access-logfile",
        "-",
        cwd=APPS,
    )
    with server:
        yield server


class SocketIOClient:
    """A python-socketio client on the WebSocket transport only, its events queued."""

    def __init__(self, url: str) -> None:
        self.events: queue.Queue = queue.Queue()
        self.disconnected = False
        self.client = socketio.Client(reconnection=False)
        self.client.on("echo", lambda data: self.events.put(("echo", data)))
        self.client.on("news", lambda data: self.events.put(("news", data)))
        self.client.on("disconnect", self._on_disconnect)
        self.client.connect(url, transports=["websocket"], wait_timeout=10)

    def _on_disconnect(self, *args) -> None:
        self.disconnected = True

    def next_event(self, timeout: float = 5.0):
        return self.events.get(timeout=timeout)


def open_clients(server, count: int = 2) -> list[SocketIOClient]:
    return [SocketIOClient(server.url) for _ in range(count)]


def test_socketio_echo_and_broadcast_and_a_plain_websocket(server):
    clients = open_clients(server)
    try:
        clients[0].client.emit("echo", {"n": 1})
        assert clients[0].next_event() == ("echo", {"n": 1})
        clients[1].client.emit("echo", "second")
        assert clients[1].next_event() == ("echo", "second")
        assert requests.get(server.url + "/broadcast/hello", timeout=5).text == "sent"
        for client in clients:
            assert client.next_event() == ("news", "hello")
        plain = websocket.create_connection(server.url.replace("http", "ws") + "/echo", timeout=5)
        try:
            for message in ("ping", "x" * 70_000, "ünïcode"):
                plain.send(message)
                assert plain.recv() == message
        finally:
            plain.close()
        # One access line when a WebSocket ends (the app answered 101 itself).
        output = server.wait_for_output('"GET /echo HTTP/1.1" 101', timeout=5)
        assert '"GET /echo HTTP/1.1" 101 -' in output, output
        # Plain HTTP on the same worker is unaffected.
        assert requests.get(server.url + "/", timeout=5).text == "Hello, World!"
    finally:
        for client in clients:
            client.client.disconnect()
    time.sleep(0.3)
    output = server.wait_for_output("transport=websocket", timeout=5)
    assert re.search(r'"GET /socket\.io/\?[^ "]*transport=websocket[^ "]* HTTP/1\.1" 101 ', output)
    assert TRACEBACK not in output, output
    assert "[ERROR]" not in output, output


@pytest.mark.parametrize("signum", [signal.SIGHUP, signal.SIGTERM], ids=["HUP", "TERM"])
def test_open_websockets_end_at_the_graceful_timeout(server, signum):
    clients = open_clients(server)
    plain = websocket.create_connection(server.url.replace("http", "ws") + "/echo", timeout=10)
    try:
        clients[0].client.emit("echo", "before")
        assert clients[0].next_event() == ("echo", "before")
        mark = server.output_size()
        sent = time.monotonic()
        server.signal(signum)
        # Until the deadline the sockets still work.
        time.sleep(0.5)
        plain.send("still here")
        assert plain.recv() == "still here"
        assert wait_until(lambda: all(c.disconnected for c in clients), 10)
        ended = time.monotonic() - sent
        assert 1.5 < ended < 5, f"closed {ended:.1f} s after the signal, --graceful-timeout 2"
        with pytest.raises((websocket.WebSocketConnectionClosedException, OSError)):
            plain.send("gone")
            plain.recv()
        output = server.wait_for_output("WebSocket connections", since=mark, timeout=10)
        assert "closed 3 WebSocket connections" in output, output
        # Each session cut still gets its access line: 101, and the time it lasted.
        output = server.wait_for_output('"GET /echo HTTP/1.1" 101 ', since=mark, timeout=10)
        sessions = re.findall(
            r'"GET (/echo|/socket\.io/\?[^ "]*transport=websocket[^ "]*) HTTP/1\.1" 101 ', output
        )
        assert len(sessions) >= 3, output
        if signum == signal.SIGTERM:
            assert server.wait(timeout=10) == 0
        else:
            server.wait_for_output("Reload complete", since=mark, timeout=10)
            again = SocketIOClient(server.url)
            again.client.emit("echo", "after")
            assert again.next_event() == ("echo", "after")
            again.client.disconnect()
        assert TRACEBACK not in server.output()
    finally:
        plain.close()
        for client in clients:
            client.client.disconnect()
