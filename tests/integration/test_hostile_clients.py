"""Clients that hold connections without using them cannot starve a worker.

A connection that stays silent is closed after --first-byte-timeout; a
worker at worker_connections closes the connections that have waited
longest for a request to make room for new clients, and says so once.
"""

from __future__ import annotations

import resource
import socket
import threading
import time

from support.server import GladeServer, http_get

APP = "core_app:app"


def test_a_silent_connection_is_closed_after_the_first_byte_timeout():
    with GladeServer(APP, "--first-byte-timeout", "1") as server:
        silent = server.connect()
        talking = server.connect()
        try:
            time.sleep(0.5)
            talking.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            assert talking.recv(65536).startswith(b"HTTP/1.1 200 OK")
            started = time.monotonic()
            silent.settimeout(10)
            assert silent.recv(1) == b""  # closed without a response
            assert time.monotonic() - started < 2.0  # not the 30 s header timeout
        finally:
            silent.close()
            talking.close()
        assert server.tracebacks() == 0


def open_silent(host: str, port: int, count: int, sockets: list, stop: threading.Event) -> None:
    for _ in range(count):
        if stop.is_set():
            return
        try:
            sockets.append(socket.create_connection((host, port), timeout=5))
        except OSError:
            continue


def test_silent_connections_cannot_starve_a_full_worker():
    """2,500 connections that never send a byte, against one worker with the
    defaults (worker_connections 1000): a normal client is answered within a
    second throughout."""
    # Room for 2,500 sockets here, and for the server, which inherits it.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        wanted = 8192 if hard == resource.RLIM_INFINITY else min(hard, 8192)
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, wanted), hard))
    with GladeServer(APP, "-w", "1") as server:
        sockets: list[socket.socket] = []
        stop = threading.Event()
        opener = threading.Thread(
            target=open_silent, args=(server.host, server.port, 2500, sockets, stop), daemon=True
        )
        opener.start()
        slowest = 0.0
        answered = 0
        try:
            deadline = time.monotonic() + 4
            while time.monotonic() < deadline:
                started = time.monotonic()
                assert http_get(server.host, server.port, "/", timeout=5) == (200, b"Hello, World!")
                slowest = max(slowest, time.monotonic() - started)
                answered += 1
                time.sleep(0.1)
            opener.join(timeout=30)
            assert len(sockets) > 1500  # the worker really was full
            assert slowest < 1.0, slowest
            assert answered >= 20
            assert "is full (worker_connections 1000): closed" in server.output()
        finally:
            stop.set()
            opener.join(timeout=30)
            for sock in sockets:
                sock.close()
        assert server.tracebacks() == 0
