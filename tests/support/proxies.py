"""Real HAProxy and nginx processes in front of Glade instances, on loopback.

Each proxy runs in the foreground from a config file written for the test,
in a temporary directory, and is stopped by its PID whatever happens.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest


def need(program: str) -> str:
    path = shutil.which(program) or shutil.which(program, path="/usr/sbin:/sbin")
    if path is None:
        pytest.skip(f"{program} is not installed (.ci/run installs it)")
    return path


def wait_for_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


# `user root`: a test's socket lives in the test's own directory; nginx's
# workers would otherwise run as an unprivileged user who cannot reach it
# (nginx ignores it, with a notice, when the tests do not run as root).
_NGINX_MAIN = """
user root;
worker_processes 1;
error_log {dir}/error.log info;
pid {dir}/nginx.pid;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path {dir}/client_body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
%s
}
"""


def nginx(http_block: str, port: int) -> Proxy:
    """nginx in the foreground with `http_block` (upstreams and servers) in
    its http context, listening on `port`."""
    command = [need("nginx"), "-p", "{dir}", "-c", "{config}", "-g", "daemon off;"]
    return Proxy(command, _NGINX_MAIN % http_block, "nginx.conf", port)


class Proxy:
    """One proxy process, started from `config` (text) written to a file."""

    def __init__(self, command: list[str], config: str, config_name: str, port: int) -> None:
        self.directory = Path(tempfile.mkdtemp(prefix="glade-fleet-"))
        self.config_path = self.directory / config_name
        self.config_path.write_text(config.replace("{dir}", str(self.directory)))
        self.log_path = self.directory / "proxy.log"
        self.port = port
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [part.replace("{config}", str(self.config_path)) for part in command],
            cwd=self.directory,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            wait_for_port(port)
        except AssertionError:
            self.stop()
            raise AssertionError(f"the proxy did not start:\n{self.output()}") from None

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        self._log.close()
        shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> Proxy:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
