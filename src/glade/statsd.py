"""StatsD metrics under gunicorn's names, so dashboards built for gunicorn keep working.

Many dashboards and alerts read what gunicorn's `--statsd-host` sends, so
Glade sends the same metrics, with the same names, types and units:

- each worker, per answered request: `gunicorn.requests` (counter),
  `gunicorn.request.duration` (timer, in milliseconds) and
  `gunicorn.request.status.NNN` (counter);
- the master: `gunicorn.workers` (gauge);
- every process, per line of its error log: `gunicorn.log.critical`,
  `.error`, `.warning` (counters by level), or `.exception` for an error
  logged with its traceback.

Each line is `<prefix><name>:<value>|<type>`, then `|#<tags>` with
--dogstatsd-tags, as in gunicorn; the prefix gets one trailing dot. Two
differences, invisible to a StatsD server: counters carry no `|@1.0` (a
missing sample rate means 1), and a worker sends its request lines in
batches, one line per metric, which every StatsD server reads (etsy's
statsd, DogStatsD, Telegraf, statsd_exporter), as DogStatsD's own clients
do. A UDP send costs about 4 us of CPU, as much as a quarter of what
serving a small request costs: gunicorn's three sends per request would
add some 12 us, one per request 4-7 us, a batch of about nine requests
under 1 us each. A batch goes out when it is full (MAX_DATAGRAM) and with
each heartbeat, so a line is at most a second late; a StatsD server adds
them up over its flush interval (10 s by default) anyway.

Metrics must never slow or break serving: each process sends on a UDP
socket of its own (a worker builds it after fork), non-blocking, of the C
socket type that gevent never patches (a send is one system call and never
yields), and a datagram that cannot be sent is dropped without a word.
"""

from __future__ import annotations

import _socket
import logging
import socket
from time import monotonic

# A batch of request lines is sent before it grows past this: a datagram
# that needs IP fragmentation is lost whole when any fragment is.
MAX_DATAGRAM = 1400
# The workers gauge is sent again this often even when unchanged: Telegraf
# and DogStatsD report a gauge only in the intervals in which it arrived.
GAUGE_REFRESH = 1.0
# Which counter a line of the error log increments, by its level.
LOG_COUNTERS = (
    (logging.CRITICAL, "critical"),
    (logging.ERROR, "error"),
    (logging.WARNING, "warning"),
)


def metric_prefix(prefix: str) -> str:
    """The prefix as put before each name: `web`, `web.` and `web..` all give `web.`."""
    prefix = prefix.rstrip(".")
    return prefix + "." if prefix else ""


def log_counter(record: logging.LogRecord) -> str | None:
    """gunicorn's counter for a log record: `gunicorn.log.error`, ...; None below warning."""
    if record.levelno == logging.ERROR and record.exc_info:
        return "gunicorn.log.exception"  # gunicorn's log.exception() counts only this
    for level, name in LOG_COUNTERS:
        if record.levelno >= level:
            return "gunicorn.log." + name
    return None


class StatsD:
    """The lines of one process, pre-built from the prefix and tags, and a
    socket to send them on (None: the address could not be resolved)."""

    __slots__ = (
        "_duration",
        "_pending",
        "_requests",
        "_sock",
        "_statuses",
        "_suffix",
        "_workers",
        "prefix",
    )

    def __init__(self, sock, prefix: str = "", tags: str = "") -> None:
        self._sock = sock
        self.prefix = metric_prefix(prefix).encode()
        self._suffix = b"|#" + tags.encode() if tags else b""
        self._requests = self.line("gunicorn.requests", b"1|c")
        # The duration is formatted into it per request (a `%` in the prefix
        # or the tags is doubled, so that it stays itself).
        self._duration = (
            self.prefix.replace(b"%", b"%%")
            + b"gunicorn.request.duration:%.3f|ms"
            + self._suffix.replace(b"%", b"%%")
        )
        self._statuses: dict[int, bytes] = {}
        self._pending = bytearray()  # request lines not sent yet
        self._workers: tuple[int, float] = (-1, 0.0)  # (last sent, when)

    @classmethod
    def connect(cls, address: str, prefix: str = "", tags: str = "", log=None) -> StatsD:
        """A client for `HOST:PORT` (an IPv6 host in brackets or not).

        The name is resolved once, here: a worker resolves it before it
        serves, never in the middle of a request.
        """
        host, _, port = address.rpartition(":")
        sock = None
        try:
            family, _, _, _, sockaddr = socket.getaddrinfo(
                host.strip("[]"), int(port), type=socket.SOCK_DGRAM
            )[0]
            sock = _socket.socket(family, socket.SOCK_DGRAM)
            sock.setblocking(False)
            sock.connect(sockaddr)
        except OSError as error:
            if sock is not None:
                sock.close()
                sock = None
            if log is not None:
                log.warning(
                    "StatsD: cannot send to %s (%s); no metrics will be sent",
                    address,
                    error.strerror or error,
                )
        return cls(sock, prefix, tags)

    def line(self, name: str, value_and_type: bytes) -> bytes:
        """`<prefix><name>:<value>|<type>[|#tags]`."""
        return self.prefix + name.encode() + b":" + value_and_type + self._suffix

    def send(self, datagram: bytes) -> None:
        sock = self._sock
        if sock is not None:
            try:
                sock.send(datagram)
            except OSError:
                pass  # nobody listening (ICMP refused), a full buffer: the metric is lost

    def increment(self, name: str) -> None:
        self.send(self.line(name, b"1|c"))

    def gauge(self, name: str, value: int) -> None:
        self.send(self.line(name, b"%d|g" % value))

    def request(self, method: str, status: int, seconds: float) -> None:
        """One answered request (ServingOptions.on_request): `gunicorn.requests`,
        `.request.duration` and `.request.status.NNN`, added to the batch."""
        status_line = self._statuses.get(status)
        if status_line is None:
            status_line = self._status_line(status)
        lines = b"%s\n%s\n%s" % (
            self._requests,
            self._duration % (seconds * 1000.0),
            status_line,
        )
        pending = self._pending
        if pending:
            if len(pending) + len(lines) < MAX_DATAGRAM:
                pending += b"\n"
                pending += lines
                return
            self.send(pending)
            pending.clear()
        pending += lines

    def flush(self) -> None:
        """Send the batch of request lines now (a worker's heartbeat, its exit)."""
        if self._pending:
            self.send(self._pending)
            self._pending.clear()

    def _status_line(self, status: int) -> bytes:
        line = self.line(f"gunicorn.request.status.{status}", b"1|c")
        if 100 <= status <= 999:  # the cache's size is bounded
            self._statuses[status] = line
        return line

    def workers(self, count: int) -> None:
        """The master's `gunicorn.workers` gauge: sent when it changes, and
        again each GAUGE_REFRESH while it does not."""
        now = monotonic()
        sent, when = self._workers
        if count != sent or now - when >= GAUGE_REFRESH:
            self._workers = (count, now)
            self.gauge("gunicorn.workers", count)

    def close(self) -> None:
        self.flush()
        if self._sock is not None:
            self._sock.close()
            self._sock = None


class LogCounter(logging.Handler):
    """Counts the error log's warnings and errors, as gunicorn's StatsD logger does.

    A handler, so it sees what the error log writes, at the log's level
    (with `--log-level error`, warnings are neither written nor counted).
    Closing it closes the client: a reload or a fork that sets the logs up
    again replaces both.
    """

    def __init__(self, client: StatsD) -> None:
        super().__init__(logging.WARNING)
        self.client = client

    def emit(self, record: logging.LogRecord) -> None:
        name = log_counter(record)
        if name is not None:
            self.client.increment(name)

    def close(self) -> None:
        self.client.close()
        super().close()


_client: StatsD | None = None


def client() -> StatsD | None:
    """This process's client, or None when --statsd-host is not set."""
    return _client


def configure(cfg, logger: logging.Logger) -> None:
    """Build this process's client from the settings, and count `logger`'s
    warnings and errors with it.

    Called where the logs are set up: in the master, again after a reload,
    and in each worker after fork, so that every process has a socket of
    its own. The previous client is closed with the logger's handlers.
    """
    global _client
    _client = None
    for handler in list(logger.handlers):
        if isinstance(handler, LogCounter):
            logger.removeHandler(handler)
            handler.close()
    if cfg.statsd_host:
        _client = StatsD.connect(cfg.statsd_host, cfg.statsd_prefix, cfg.dogstatsd_tags, logger)
        logger.addHandler(LogCounter(_client))


def flush() -> None:
    """A worker's heartbeat, and its exit: send the request lines it holds."""
    statsd = _client
    if statsd is not None:
        statsd.flush()


def send_workers_gauge(active_workers) -> None:
    """The master's hook, once per turn of its loop: `active_workers()` is
    only called when StatsD is on."""
    statsd = _client
    if statsd is not None:
        statsd.workers(len(active_workers()))
