"""HAProxy in front of three Glade instances: rolling restarts lose nothing.

HAProxy health-checks each instance's /readyz (on its metrics port) every
200 ms and keeps connections to the servers alive; it never retries a
request (`retries 0`, no redispatch), and neither do the clients. Each
instance is restarted in turn with SIGTERM, twice: /readyz turns 503 at
once, HAProxy takes the instance out within a check, the instance keeps
serving what is in flight through --shutdown-delay, drains, and its
successor comes up on the same port. Every request must succeed.

Short form in `make test`; GLADE_FLEET_ROUNDS and GLADE_FLEET_CLIENTS make
`make fleet` longer and heavier.
"""

from __future__ import annotations

import os
import signal
import time

from support.load import Load
from support.proxies import Proxy, need
from support.server import GladeServer, free_port, http_get, wait_until

ROUNDS = int(os.environ.get("GLADE_FLEET_ROUNDS", "2"))
CLIENTS = int(os.environ.get("GLADE_FLEET_CLIENTS", "8"))
INSTANCES = 3
# HAProxy checks every CHECK_MS; one failed check takes an instance out. The
# shutdown delay must outlast that, with room for a busy machine.
CHECK_MS = 200
SHUTDOWN_DELAY = "1.5"

HAPROXY_CONFIG = """
global
    maxconn 2000

defaults
    mode http
    timeout connect 2s
    timeout client 60s
    timeout server 60s
    retries 0
    option http-keep-alive

frontend web
    bind 127.0.0.1:{front}
    default_backend glade

backend glade
    balance roundrobin
    http-reuse safe
    option httpchk GET /readyz
    http-check expect status 200
    default-server check inter {check}ms fastinter {check}ms downinter {check}ms fall 1 rise 2
{servers}
"""


class Instance:
    """One Glade instance: its app port and metrics port stay across restarts."""

    def __init__(self, index: int) -> None:
        self.name = f"glade{index}"
        self.port = free_port()
        self.metrics_port = free_port()
        self.server: GladeServer | None = None

    def start(self) -> None:
        self.server = GladeServer(
            "core_app:app",
            "-w",
            "2",
            "--metrics-bind",
            f"127.0.0.1:{self.metrics_port}",
            "--shutdown-delay",
            SHUTDOWN_DELAY,
            "--graceful-timeout",
            "10",
            bind=f"127.0.0.1:{self.port}",
        )

    def restart(self) -> str:
        """SIGTERM, wait for the exit, start again; the old one's output."""
        old = self.server
        old.signal(signal.SIGTERM)
        assert old.wait(timeout=30) == 0, old.output()
        output = old.output()
        old.stop()
        self.start()
        return output

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()


def test_rolling_restarts_behind_haproxy_lose_no_request():
    haproxy = need("haproxy")
    instances = [Instance(index) for index in range(1, INSTANCES + 1)]
    front = free_port()
    servers = "\n".join(
        f"    server {i.name} 127.0.0.1:{i.port} port {i.metrics_port}" for i in instances
    )
    config = HAPROXY_CONFIG.format(front=front, check=CHECK_MS, servers=servers)
    try:
        for instance in instances:
            instance.start()
        with Proxy([haproxy, "-db", "-f", "{config}"], config, "haproxy.cfg", front) as proxy:
            # Every instance in service before the load starts.
            assert wait_until(lambda: http_get("127.0.0.1", front, "/")[0] == 200, 10)
            time.sleep(CHECK_MS * 3 / 1000)
            outputs = []
            with Load("127.0.0.1", front, clients=CLIENTS, max_seconds=300) as load:
                load.wait_for(200)
                for _ in range(ROUNDS):
                    for instance in instances:
                        outputs.append(instance.restart())
                        # Back in HAProxy's rotation (rise 2) before the next one goes.
                        time.sleep(CHECK_MS * 4 / 1000)
                ok_before = load.counts["ok"]
                load.wait_for(ok_before + 200)
                counts = load.stop()
            print(
                f"\nHAProxy, {INSTANCES} instances, {ROUNDS} rolling restarts, "
                f"{CLIENTS} keep-alive clients: {dict(counts)}"
            )
            assert counts["failed"] == 0, (load.errors, proxy.output()[-3000:])
            assert counts["retried"] == 0, load.errors
            assert counts["ok"] > 1000
            for output in outputs:
                assert "Traceback" not in output
    finally:
        for instance in instances:
            instance.stop()
