"""The StatsD lines, byte for byte, as a UDP listener on 127.0.0.1 receives them."""

from __future__ import annotations

import logging
import socket
import sys

import pytest

from glade.statsd import MAX_DATAGRAM, LogCounter, StatsD, log_counter, metric_prefix


@pytest.fixture
def listener():
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(2)
    yield sock
    sock.close()


def client(listener, prefix="", tags="") -> StatsD:
    return StatsD.connect(f"127.0.0.1:{listener.getsockname()[1]}", prefix, tags)


def received(listener) -> list[bytes]:
    """Every datagram waiting, each one whole."""
    datagrams = [listener.recv(65536)]
    listener.settimeout(0.05)
    try:
        while True:
            datagrams.append(listener.recv(65536))
    except TimeoutError:
        return datagrams
    finally:
        listener.settimeout(2)


@pytest.mark.parametrize(
    ("prefix", "expected"),
    [("", ""), ("web", "web."), ("web.", "web."), ("web...", "web."), ("a.b", "a.b.")],
)
def test_the_prefix_gets_one_trailing_dot(prefix, expected):
    assert metric_prefix(prefix) == expected


def test_a_counter_without_prefix_or_tags(listener):
    client(listener).increment("gunicorn.log.error")
    assert received(listener) == [b"gunicorn.log.error:1|c"]


@pytest.mark.parametrize("prefix", ["web", "web."])
def test_prefix_and_dogstatsd_tags(listener, prefix):
    statsd = client(listener, prefix, "env:test,team:web")
    statsd.increment("gunicorn.log.warning")
    statsd.gauge("gunicorn.workers", 4)
    assert received(listener) == [
        b"web.gunicorn.log.warning:1|c|#env:test,team:web",
        b"web.gunicorn.workers:4|g|#env:test,team:web",
    ]


def test_a_request_is_three_lines_with_the_duration_in_milliseconds(listener):
    statsd = client(listener, "web", "env:test")
    statsd.request("GET", 404, 0.0123456)
    statsd.flush()
    assert received(listener) == [
        b"web.gunicorn.requests:1|c|#env:test\n"
        b"web.gunicorn.request.duration:12.346|ms|#env:test\n"
        b"web.gunicorn.request.status.404:1|c|#env:test"
    ]


def test_a_percent_sign_in_the_prefix_or_tags_stays_itself(listener):
    statsd = client(listener, "web%s", "share:50%,x:%d")
    statsd.request("GET", 200, 0.002)
    statsd.flush()
    assert received(listener)[0].split(b"\n")[1] == (
        b"web%s.gunicorn.request.duration:2.000|ms|#share:50%,x:%d"
    )


def test_requests_are_batched_in_datagrams_that_need_no_fragmentation(listener):
    statsd = client(listener, "web", "env:test")
    for status in [200, 201, 404] * 20:
        statsd.request("POST", status, 0.5)
    statsd.flush()
    datagrams = received(listener)
    assert len(datagrams) > 1
    assert all(len(datagram) < MAX_DATAGRAM for datagram in datagrams)
    lines = b"\n".join(datagrams).split(b"\n")
    assert lines.count(b"web.gunicorn.requests:1|c|#env:test") == 60
    assert lines.count(b"web.gunicorn.request.duration:500.000|ms|#env:test") == 60
    assert lines.count(b"web.gunicorn.request.status.404:1|c|#env:test") == 20
    assert len(lines) == 180  # no line was cut between two datagrams


def test_nothing_is_sent_before_a_flush_and_nothing_twice(listener):
    statsd = client(listener)
    statsd.request("GET", 200, 0.001)
    listener.settimeout(0.1)
    with pytest.raises(TimeoutError):
        listener.recv(65536)
    statsd.flush()
    statsd.flush()
    assert received(listener) == [
        b"gunicorn.requests:1|c\ngunicorn.request.duration:1.000|ms\n"
        b"gunicorn.request.status.200:1|c"
    ]


def test_the_workers_gauge_is_sent_on_change_and_refreshed(listener, monkeypatch):
    now = [100.0]
    monkeypatch.setattr("glade.statsd.monotonic", lambda: now[0])
    statsd = client(listener)
    statsd.workers(2)
    statsd.workers(2)  # unchanged, within the second: not sent
    statsd.workers(3)
    now[0] += 1.0
    statsd.workers(3)  # unchanged, a second later: sent again
    assert received(listener) == [
        b"gunicorn.workers:2|g",
        b"gunicorn.workers:3|g",
        b"gunicorn.workers:3|g",
    ]


def test_log_records_count_as_gunicorns_logger_counts_them():
    def record(level, exc_info=None):
        return logging.LogRecord("glade.error", level, __file__, 1, "m", (), exc_info)

    try:
        raise RuntimeError("boom")
    except RuntimeError:
        exc_info = sys.exc_info()
    assert log_counter(record(logging.CRITICAL)) == "gunicorn.log.critical"
    assert log_counter(record(logging.CRITICAL, exc_info)) == "gunicorn.log.critical"
    assert log_counter(record(logging.ERROR)) == "gunicorn.log.error"
    assert log_counter(record(logging.ERROR, exc_info)) == "gunicorn.log.exception"
    assert log_counter(record(logging.WARNING)) == "gunicorn.log.warning"
    assert log_counter(record(logging.INFO)) is None


def test_a_logger_with_the_counter(listener):
    logger = logging.getLogger("glade.test-statsd")
    logger.propagate = False
    counter = LogCounter(client(listener, "web"))
    logger.addHandler(counter)
    try:
        logger.info("not counted")
        logger.warning("a warning")
        logger.error("an error")
        try:
            raise RuntimeError("boom")
        except RuntimeError:
            logger.exception("an error with its traceback")
    finally:
        logger.removeHandler(counter)
        counter.close()
    assert received(listener) == [
        b"web.gunicorn.log.warning:1|c",
        b"web.gunicorn.log.error:1|c",
        b"web.gunicorn.log.exception:1|c",
    ]


def test_no_listener_is_silent():
    nobody = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    nobody.bind(("127.0.0.1", 0))
    port = nobody.getsockname()[1]
    nobody.close()  # sends to this port are refused (ICMP), then raise on the next one
    statsd = StatsD.connect(f"127.0.0.1:{port}")
    for _ in range(5):
        statsd.increment("gunicorn.requests")
        statsd.request("GET", 200, 0.01)
        statsd.flush()


def test_a_name_that_does_not_resolve_is_one_warning_then_silence(monkeypatch, caplog):
    def no_such_name(*args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_such_name)
    logger = logging.getLogger("glade.test-statsd-resolve")
    with caplog.at_level(logging.WARNING, logger=logger.name):
        statsd = StatsD.connect("statsd.example:8125", "web", log=logger)
    assert [record.getMessage() for record in caplog.records] == [
        "StatsD: cannot send to statsd.example:8125 (Name or service not known); "
        "no metrics will be sent"
    ]
    statsd.request("GET", 200, 0.01)
    statsd.flush()
    statsd.increment("gunicorn.requests")
    statsd.close()


def test_an_ipv6_address_in_brackets():
    try:
        listener = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        listener.bind(("::1", 0))
    except OSError:
        pytest.skip("no IPv6 loopback here")
    with listener:
        listener.settimeout(2)
        StatsD.connect(f"[::1]:{listener.getsockname()[1]}").increment("gunicorn.requests")
        assert listener.recv(100) == b"gunicorn.requests:1|c"
