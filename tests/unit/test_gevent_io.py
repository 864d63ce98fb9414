"""The compiled recv and send for gevent sockets (workers/gevent_io.pyx),
against the gevent socket methods they stand in for.

Real gevent sockets, connected over loopback or as a pair, with the hub
running: what each call returns, how it waits while there is nothing to read
or no room to write, and how the wait ends (data, the peer's close or
reset, a close from another greenlet, a gevent timeout). Runs when the
extensions are built (`make` builds them): the pure-Python form has no C
and calls the sockets' own methods.
"""

from __future__ import annotations

import errno
import socket as stdlib_socket
import struct

import gevent
import gevent.socket
import pytest

from glade import extensions

pytestmark = pytest.mark.skipif(
    not extensions.in_use(), reason="the extensions are not built here (make builds them)"
)

if extensions.in_use():
    from glade.workers import gevent_io
    from glade.workers.connection import _shutdown


@pytest.fixture
def pair():
    """Two connected gevent TCP sockets on loopback (what the server serves)."""
    listener = gevent.socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    client = gevent.socket.create_connection(listener.getsockname())
    server, _ = listener.accept()
    listener.close()
    yield server, client
    server.close()
    client.close()


def _reset(sock) -> None:
    """Close with a reset (SO_LINGER 0), as a client that dies does."""
    sock.setsockopt(stdlib_socket.SOL_SOCKET, stdlib_socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def test_recv_returns_what_is_there(pair):
    server, client = pair
    client.sendall(b"GET / HTTP/1.1\r\n\r\n")
    gevent.sleep(0.01)
    assert gevent_io.recv(server, 65536) == b"GET / HTTP/1.1\r\n\r\n"


def test_recv_waits_in_the_loop_until_bytes_come(pair):
    server, client = pair
    sent_later = gevent.spawn_later(0.2, client.sendall, b"late")
    # Other greenlets run while it waits (five ticks of 5 ms, well before 0.2 s).
    ticks = []
    ticker = gevent.spawn(lambda: [ticks.append(gevent.sleep(0.005)) for _ in range(5)])
    assert gevent_io.recv(server, 100) == b"late"
    assert len(ticks) == 5
    sent_later.join(1)
    ticker.join(1)


def test_recv_reads_at_most_size_and_at_most_64_kib(pair):
    server, client = pair
    client.sendall(b"x" * 200_000)
    gevent.sleep(0.05)
    assert gevent_io.recv(server, 10) == b"x" * 10
    assert len(gevent_io.recv(server, 1_000_000)) <= 65536


def test_recv_gives_empty_bytes_at_the_end_of_the_stream(pair):
    server, client = pair
    client.sendall(b"last")
    client.close()
    gevent.sleep(0.01)
    assert gevent_io.recv(server, 100) == b"last"
    assert gevent_io.recv(server, 100) == b""


def test_recv_raises_what_gevent_raises_on_a_reset(pair):
    server, client = pair
    _reset(client)
    gevent.sleep(0.01)
    with pytest.raises(ConnectionResetError) as compiled:
        gevent_io.recv(server, 100)
    assert compiled.value.errno == errno.ECONNRESET


def test_a_close_from_another_greenlet_ends_a_waiting_recv_as_in_gevent(pair):
    server, _client = pair
    gevent.spawn_later(0.02, server.close)
    with pytest.raises(OSError) as compiled:
        gevent_io.recv(server, 100)
    assert compiled.value.errno == errno.EBADF


def test_recv_on_a_closed_socket_raises_ebadf_like_gevent(pair):
    server, _client = pair
    server.close()
    with pytest.raises(OSError) as expected:
        server.recv(100)
    with pytest.raises(OSError) as compiled:
        gevent_io.recv(server, 100)
    assert compiled.value.errno == expected.value.errno == errno.EBADF


def test_the_sweepers_shutdown_ends_a_waiting_recv_as_end_of_stream(pair):
    """The sweeper ends a connection's wait between requests with shutdown(2)
    on its descriptor (Connection.expire): the wait wakes, and reads b""."""
    server, _client = pair
    gevent.spawn_later(0.02, _shutdown, server, stdlib_socket.SHUT_RD)
    assert gevent_io.recv(server, 100) == b""


def test_the_sweepers_shutdown_ends_a_send_waiting_for_room(pair):
    """A client that stopped reading: its send waits for room until the
    sweeper shuts the socket down (the ClientStalled path)."""
    server, _client = pair
    block = b"y" * (1 << 20)
    while gevent_io.send(server, block) == len(block):
        pass
    gevent.spawn_later(0.02, _shutdown, server, stdlib_socket.SHUT_RDWR)
    with pytest.raises(BrokenPipeError):
        gevent_io.send(server, block)


def test_recv_refuses_a_negative_size_like_the_socket(pair):
    server, _client = pair
    with pytest.raises(ValueError, match="negative buffersize"):
        gevent_io.recv(server, -1)


def test_a_gevent_timeout_ends_a_waiting_recv_and_the_socket_reads_on(pair):
    server, client = pair
    with pytest.raises(gevent.Timeout), gevent.Timeout(0.02):
        gevent_io.recv(server, 100)
    client.sendall(b"after")
    assert gevent_io.recv(server, 100) == b"after"


@pytest.mark.parametrize("kind", [bytes, bytearray, memoryview])
def test_send_takes_any_contiguous_buffer_from_an_offset(pair, kind):
    server, client = pair
    data = kind(b"HTTP/1.1 200 OK\r\n\r\nhello")
    assert gevent_io.send(server, data) == len(data)
    assert gevent_io.send(server, data, 19) == 5
    assert gevent_io.send(server, data, len(data)) == 0
    gevent.sleep(0.01)
    assert client.recv(100) == b"HTTP/1.1 200 OK\r\n\r\nhellohello"


@pytest.mark.parametrize("start", [-1, 6])
def test_send_refuses_an_offset_outside_the_data(pair, start):
    server, _client = pair
    with pytest.raises(ValueError, match="offset"):
        gevent_io.send(server, b"hello", start)


def test_send_waits_in_the_loop_while_the_send_buffer_is_full(pair):
    server, client = pair
    block = b"y" * (1 << 20)
    sent = 0
    # Fill the socket buffers: a send returns less than asked once they are full.
    while True:
        count = gevent_io.send(server, block)
        sent += count
        if count < len(block):
            break
    expected = sent + 1  # what is in the buffers, and the byte sent below
    received = []

    def read_slowly():
        gevent.sleep(0.05)
        while sum(received) < expected:
            received.append(len(client.recv(1 << 20)))

    reader = gevent.spawn(read_slowly)
    # Nothing fits now: it waits for the reader, then sends at least a byte.
    assert gevent_io.send(server, b"z") == 1
    reader.join(5)
    assert reader.dead
    assert sum(received) == expected


def test_send_to_a_peer_that_reset_raises_like_gevent(pair):
    server, client = pair
    _reset(client)
    gevent.sleep(0.01)
    with pytest.raises((ConnectionResetError, BrokenPipeError)):
        for _ in range(3):  # the first may still go out before the reset is seen
            gevent_io.send(server, b"data")
            gevent.sleep(0.01)
