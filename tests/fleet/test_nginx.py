"""nginx in front of Glade on a UNIX socket: reload and binary upgrade lose nothing.

nginx keeps connections to Glade alive (upstream keepalive) and, as it
does for any POST, never retries one: a POST sent on a kept-alive
connection that Glade closes at the wrong moment becomes a 502 (gunicorn's
users see these on every deploy). Clients POST steadily while the master
gets HUP (new workers, old ones drained), then USR2 (a new master that
inherits the socket) followed by TERM to the old master. Not one 502.

Short form in `make test`; GLADE_FLEET_CLIENTS makes `make fleet` heavier.
"""

from __future__ import annotations

import http.client
import os
import signal
import threading
import time
from collections import Counter
from pathlib import Path

from support.proxies import need, nginx
from support.server import GladeServer, free_port, wait_until

CLIENTS = int(os.environ.get("GLADE_FLEET_CLIENTS", "8"))
BODY = b"p" * 2048

NGINX_HTTP = """
    upstream glade {
        server unix:%(socket)s;
        keepalive 16;
    }
    server {
        listen 127.0.0.1:%(port)d;
        location / {
            proxy_pass http://glade;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
        }
    }
"""


class PostLoad:
    """Clients that POST on kept-alive connections to nginx and never retry."""

    def __init__(self, port: int, clients: int, max_seconds: float = 300) -> None:
        self.port = port
        self.counts: Counter = Counter()
        self.errors: list[str] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._deadline = time.monotonic() + max_seconds
        self._threads = [threading.Thread(target=self._client, daemon=True) for _ in range(clients)]
        for thread in self._threads:
            thread.start()

    def wait_for(self, ok: int, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while self.counts["ok"] < ok and time.monotonic() < deadline:
            time.sleep(0.02)

    def stop(self) -> Counter:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=15)
        return self.counts

    def _count(self, outcome: str, detail: str = "") -> None:
        with self._lock:
            self.counts[outcome] += 1
            if detail and len(self.errors) < 20:
                self.errors.append(detail)

    def _client(self) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        while not self._stop.is_set() and time.monotonic() < self._deadline:
            try:
                connection.request("POST", "/echo", body=BODY)
                response = connection.getresponse()
                body = response.read()
            except (OSError, http.client.HTTPException) as error:
                self._count("failed", repr(error))
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                continue
            if response.status == 502:
                self._count("502", body[:100].decode(errors="replace"))
            elif response.status != 200 or body != BODY:
                self._count("failed", f"{response.status} {body[:80]!r}")
            else:
                self._count("ok")
        connection.close()


def test_reload_and_binary_upgrade_behind_nginx_give_no_502(tmp_path):
    need("nginx")
    socket_path = tmp_path / "glade.sock"
    pidfile = tmp_path / "glade.pid"
    port = free_port()
    server = GladeServer(
        "validated:app",
        "-w",
        "2",
        "--graceful-timeout",
        "10",
        "--pid",
        str(pidfile),
        bind=f"unix:{socket_path}",
    )
    new_master = None
    try:
        with nginx(NGINX_HTTP % {"socket": socket_path, "port": port}, port) as proxy:
            load = PostLoad(port, CLIENTS)
            try:
                load.wait_for(300)
                mark = server.output_size()
                server.signal(signal.SIGHUP)
                server.wait_for_output("Reload complete", since=mark, timeout=30)
                load.wait_for(load.counts["ok"] + 300)

                server.signal(signal.SIGUSR2)
                new_pidfile = Path(f"{pidfile}.2")
                assert wait_until(lambda: _read_pid(new_pidfile), 15), server.output()
                new_master = _read_pid(new_pidfile)
                assert wait_until(
                    lambda: server.output().count("BOOTING -> SERVING (2 workers ready)") == 2, 30
                ), server.output()
                load.wait_for(load.counts["ok"] + 300)
                server.signal(signal.SIGTERM)  # the old master drains and goes
                assert server.wait(timeout=30) == 0
                load.wait_for(load.counts["ok"] + 300)
            finally:
                counts = load.stop()
            print(
                f"\nnginx on a UNIX socket, {CLIENTS} POST clients, HUP then USR2 and "
                f"TERM to the old master: {dict(counts)}"
            )
            assert counts["502"] == 0, (load.errors, proxy.output()[-2000:])
            assert counts["failed"] == 0, load.errors
            assert counts["ok"] > 1000
            assert "Traceback" not in server.output()
    finally:
        server.stop()
        if new_master:
            os.kill(new_master, signal.SIGTERM)
            wait_until(lambda: not os.path.exists(f"/proc/{new_master}"), 20)


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None
