"""Connection reuse: keep-alive, HTTP/1.0, the idle timeout, pipelining."""

from __future__ import annotations

import http.client
import json
import threading
import time

import pytest
from support.load import hold_requests, join_all
from support.server import read_response, read_until_close, split_responses

SERVER_ARGS = ("--keep-alive", "1", "--graceful-timeout", "3")


# The sync worker closes every connection after one response.
gevent_only = pytest.mark.parametrize("worker_class", ["gevent"], indirect=True)
sync_only = pytest.mark.parametrize("worker_class", ["sync"], indirect=True)


@gevent_only
def test_several_requests_share_one_connection(server):
    connection = http.client.HTTPConnection(server.host, server.port, timeout=5)
    ports = set()
    for index in range(5):
        connection.request("GET", f"/environ?request={index}")
        response = connection.getresponse()
        environ = json.loads(response.read())
        assert response.status == 200
        assert response.getheader("Connection") is None
        assert environ["QUERY_STRING"] == f"request={index}"
        assert connection.sock is not None, "the server closed a keep-alive connection"
        ports.add(environ["REMOTE_PORT"])
    connection.close()
    assert len(ports) == 1


def test_each_connection_starts_with_empty_contextvars(server):
    """What one connection's code set in a ContextVar must not be there for
    the next: the gevent worker serves connection after connection in the
    same greenlets, the sync worker in its one thread."""
    seen = []
    for index in range(6):
        for query in (f"set=connection-{index}", ""):
            connection = http.client.HTTPConnection(server.host, server.port, timeout=5)
            connection.request("GET", f"/context?{query}", headers={"Connection": "close"})
            response = connection.getresponse()
            assert response.status == 200
            seen.append(response.read().decode())
            connection.close()
    assert seen == ["unset"] * 12


def test_greenlets_kept_for_new_connections_end_once_the_worker_is_quiet(glade_server):
    """The greenlets that served a burst of connections wait for the next
    ones, and end within two IDLE_CHECK_EVERY (1 s) once none come: a quiet
    worker holds no more greenlets than before the burst."""
    server = glade_server("soak_app:app", "-w", "1")

    def greenlets() -> int:
        status, body = server.get("/greenlets")
        assert status == 200
        return int(body.split()[1])

    before = greenlets()
    results, threads = hold_requests(server.host, server.port, "/slow?0.3", 30)
    join_all(threads, 15)
    assert [result[0] for result in results] == [200] * 30
    kept = greenlets()
    assert kept >= before + 25, (before, kept)
    time.sleep(3)  # quiet: asking more often would keep a greenlet busy
    assert greenlets() <= before, (before, kept)


@sync_only
def test_sync_worker_requests_see_what_was_set_before_serving(server):
    """Each request runs in a copy of the worker's context: a ContextVar set
    when the app was imported (decimal's precision, say) is there for each."""
    for _ in range(2):
        assert server.get("/context-imported") == (200, b"set at import")


@sync_only
def test_sync_worker_closes_after_each_response(server):
    with server.connect(timeout=5) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n")
        started = time.monotonic()
        responses = split_responses(read_until_close(sock, timeout=5))
        assert time.monotonic() - started < 3
    assert [r.status for r in responses] == [200]
    assert responses[0].header("Connection") == "close"


def test_http10_without_keep_alive_closes(server):
    with server.connect(timeout=5) as sock:
        sock.sendall(b"GET / HTTP/1.0\r\n\r\n")
        started = time.monotonic()
        data = read_until_close(sock, timeout=5)
        assert time.monotonic() - started < 0.9, "closed by the idle timeout, not at once"
    (response,) = split_responses(data)
    assert data.startswith(b"HTTP/1.1 200 OK\r\n")
    assert response.header("Connection") == "close"
    assert response.body == b"Hello, World!"


@gevent_only
def test_http10_keep_alive_stays_open(server):
    with server.connect(timeout=5) as sock:
        for _ in range(2):
            sock.sendall(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            response, body = read_response(sock, timeout=5)
            assert response.status == 200
            assert response.getheader("Connection") == "keep-alive"
            assert body == b"Hello, World!"


@gevent_only
def test_idle_connection_closed_after_keep_alive_timeout(server):
    with server.connect(timeout=5) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        response, body = read_response(sock, timeout=5)
        assert (response.status, body) == (200, b"Hello, World!")
        idle_since = time.monotonic()
        assert read_until_close(sock, timeout=5) == b""
        idle = time.monotonic() - idle_since
    assert 0.7 < idle < 2.5, f"the idle connection was closed after {idle:.2f} s"


@gevent_only
def test_pipelined_requests_answered_in_order(server):
    requests = (
        b"GET /environ?first HTTP/1.1\r\nHost: x\r\n\r\n"
        b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\n\r\nsecond"
        b"GET /environ?third HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    with server.connect(timeout=5) as sock:
        sock.sendall(requests)
        responses = split_responses(read_until_close(sock, timeout=5))
    assert [r.status for r in responses] == [200, 200, 200]
    assert json.loads(responses[0].body)["QUERY_STRING"] == "first"
    assert responses[1].body == b"second"
    assert json.loads(responses[2].body)["QUERY_STRING"] == "third"
    assert responses[2].header("Connection") == "close"


def test_no_tracebacks(server):
    assert server.tracebacks() == 0, server.output()


CPU_REQUEST = b"GET /cpu?0.002 HTTP/1.1\r\nHost: x\r\n\r\n"
RESPONSE_END = b"\r\n\r\nok"  # the end of each /cpu response


def _cpu_client(server, seconds: float, result: list, ahead: int) -> None:
    """A client of the CPU route that keeps `ahead` requests pipelined behind
    the one being answered (1: its next request is there before its
    response goes out; 0: it waits for each response, as most do). Records
    how many responses came, and the longest wait between two of them."""
    with server.connect(timeout=seconds + 10) as sock:
        sock.sendall(CPU_REQUEST * (1 + ahead))
        answered, longest, pending = 0, 0.0, b""
        last = start = time.monotonic()
        while time.monotonic() < start + seconds:
            data = sock.recv(65536)
            if not data:
                break
            pending += data
            count = pending.count(RESPONSE_END)
            if count:
                pending = pending[pending.rfind(RESPONSE_END) + len(RESPONSE_END) :]
                now = time.monotonic()
                longest = max(longest, now - last)
                last = now
                answered += count
                sock.sendall(CPU_REQUEST * count)
    result.extend((answered, max(longest, time.monotonic() - last)))


def test_clients_whose_next_request_is_always_there_take_turns(glade_server):
    """A keep-alive client whose next request is already there when its
    response goes out never makes its greenlet wait. With an app that is
    CPU work, the worker must still share itself among its clients instead
    of serving one on and on while the others wait: each gets a share, and
    none waits long, the client that waits for each response included
    (gevent_serving.Turns)."""
    server = glade_server("core_app:app", "-w", "1", "-k", "gevent")
    results = [[] for _ in range(4)]
    threads = [
        threading.Thread(
            target=_cpu_client, args=(server, 2.0, result, 0 if index == 0 else 1), daemon=True
        )
        for index, result in enumerate(results)
    ]
    for thread in threads:
        thread.start()
    join_all(threads, 20)
    assert all(results), f"a client failed: {results}"
    counts = [result[0] for result in results]
    longest_waits = [round(result[1], 3) for result in results]
    # 2 ms a request: a few hundred each when shared (fewer for the client
    # that waits: each of its requests waits for the others' turns); one
    # client gets all of them when not, and the others wait two seconds.
    assert min(counts) >= max(counts) / 4, (counts, longest_waits)
    assert max(longest_waits) < 0.5, (counts, longest_waits)
