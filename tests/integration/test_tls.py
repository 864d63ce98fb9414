"""HTTPS: certfile, keyfile, ca_certs and cert_reqs, on both workers.

Certificates come from trustme: a throwaway CA made for each test module.
"""

from __future__ import annotations

import os
import signal
import socket
import ssl
import time
from pathlib import Path

import pytest
import requests
from support.server import TRACEBACK, run_until_exit, wait_until

trustme = pytest.importorskip("trustme")  # a dev dependency


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    """Files of a CA, a server certificate for 127.0.0.1 and a client certificate."""
    directory = tmp_path_factory.mktemp("certs")
    ca = trustme.CA()
    server = ca.issue_cert("127.0.0.1", "localhost")
    client = ca.issue_cert("client@example.com")
    other = trustme.CA().issue_cert("127.0.0.1")
    paths = {
        "ca": directory / "ca.pem",
        "cert": directory / "cert.pem",
        "key": directory / "key.pem",
        "client": directory / "client.pem",
        "other_key": directory / "other-key.pem",
    }
    ca.cert_pem.write_to_path(paths["ca"])
    server.cert_chain_pems[0].write_to_path(paths["cert"])
    for pem in server.cert_chain_pems[1:]:
        pem.write_to_path(paths["cert"], append=True)
    server.private_key_pem.write_to_path(paths["key"])
    client.private_key_and_cert_chain_pem.write_to_path(paths["client"])
    other.private_key_pem.write_to_path(paths["other_key"])
    os.chmod(paths["key"], 0o600)
    return {name: str(path) for name, path in paths.items()}


def https(server, certs, path="/environ", session=None, **kwargs):
    getter = session or requests
    return getter.get(
        f"https://127.0.0.1:{server.port}{path}", verify=certs["ca"], timeout=10, **kwargs
    )


def tls_client(certs) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=certs["ca"])
    return context


def test_https_on_both_workers(glade_server, worker_class, certs):
    server = glade_server(
        "validated:app",
        *("-k", worker_class, "--certfile", certs["cert"], "--keyfile", certs["key"]),
    )
    assert f"Listening at: https://127.0.0.1:{server.port}" in server.output()
    with requests.Session() as session:  # two requests on one kept-alive connection
        first = https(server, certs, session=session)
        second = https(server, certs, "/echo", session=session)
    assert first.status_code == 200
    assert first.json()["wsgi.url_scheme"] == "https"
    assert second.status_code == 200
    upload = os.urandom(300_000)
    response = requests.post(
        f"https://127.0.0.1:{server.port}/echo", data=upload, verify=certs["ca"], timeout=10
    )
    assert response.content == upload
    static = https(server, certs, "/file")  # wsgi.file_wrapper: no sendfile over TLS
    assert static.status_code == 200
    with open(os.path.join(os.path.dirname(__file__), "..", "apps", "static.txt"), "rb") as f:
        assert static.content == f.read()
    assert server.tracebacks() == 0


def test_a_plain_http_client_is_dropped_and_the_server_carries_on(glade_server, certs):
    server = glade_server("validated:app", "--certfile", certs["cert"], "--keyfile", certs["key"])
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        try:
            answer = sock.recv(4096)
        except ConnectionResetError:
            answer = b""
    assert not answer.startswith(b"HTTP/1.1 200")
    assert https(server, certs).status_code == 200
    assert server.tracebacks() == 0


def test_a_slow_head_gets_its_408_over_tls(glade_server, worker_class, certs):
    """The head timeout must leave the TLS session able to carry the answer."""
    server = glade_server(
        "validated:app",
        *("-k", worker_class, "--header-timeout", "1"),
        *("--certfile", certs["cert"], "--keyfile", certs["key"]),
    )
    raw = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    with tls_client(certs).wrap_socket(raw, server_hostname="127.0.0.1") as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")  # the head never ends
        started = time.monotonic()
        data = b""
        while True:
            try:
                chunk = sock.recv(4096)
            except (ssl.SSLError, OSError):
                break
            if not chunk:
                break
            data += chunk
    assert data.startswith(b"HTTP/1.1 408 "), data
    assert time.monotonic() - started < 5
    assert server.tracebacks() == 0


def test_sigterm_closes_an_idle_tls_keepalive_connection_at_once(glade_server, certs):
    server = glade_server(
        "validated:app",
        *("--keep-alive", "60", "--graceful-timeout", "20"),
        *("--certfile", certs["cert"], "--keyfile", certs["key"]),
    )
    raw = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    with tls_client(certs).wrap_socket(raw, server_hostname="127.0.0.1") as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert sock.recv(4096).startswith(b"HTTP/1.1 200")
        started = time.monotonic()
        server.signal(signal.SIGTERM)
        assert server.wait(timeout=10) == 0
    assert time.monotonic() - started < 5  # not the 60 s keep-alive, nor the 20 s drain
    assert server.tracebacks() == 0


def test_client_certificates_when_cert_reqs_requires_them(glade_server, certs):
    server = glade_server(
        "validated:app",
        *("--certfile", certs["cert"], "--keyfile", certs["key"]),
        *("--ca-certs", certs["ca"], "--cert-reqs", "required"),
    )
    assert https(server, certs, cert=certs["client"]).status_code == 200
    with pytest.raises(requests.exceptions.RequestException):
        https(server, certs)  # no certificate: the handshake fails
    assert server.tracebacks() == 0


def start_and_fail(*args: str) -> str:
    """Run glade with TLS settings that cannot work; returns its output."""
    apps = os.path.join(os.path.dirname(__file__), "..", "apps")
    status, text = run_until_exit("-b", "127.0.0.1:0", *args, "validated:app", cwd=apps)
    assert status == 1, text
    assert "Listening at" not in text  # checked before anything listens
    assert TRACEBACK not in text
    return text


def test_tls_files_that_cannot_work_stop_the_server_with_one_line(certs, tmp_path):
    missing = str(tmp_path / "nope.pem")
    assert f"certfile {missing!r}: no such file" in start_and_fail("--certfile", missing)
    text = start_and_fail("--certfile", certs["cert"], "--keyfile", certs["other_key"])
    assert "not a certificate and its private key in PEM" in text
    text = start_and_fail("--keyfile", certs["key"])
    assert "keyfile is set but certfile is not" in text
    text = start_and_fail(
        *("--certfile", certs["cert"], "--keyfile", certs["key"], "--cert-reqs", "2")
    )
    assert "set ca_certs to verify them" in text


def test_a_reload_picks_up_a_renewed_certificate(glade_server, certs, tmp_path):
    """HUP reads the files again: renewing a certificate needs no restart."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert.write_bytes(Path(certs["cert"]).read_bytes())
    key.write_bytes(Path(certs["key"]).read_bytes())
    server = glade_server("validated:app", "--certfile", str(cert), "--keyfile", str(key))
    first = server.worker_pids()
    renewed = trustme.CA()
    issued = renewed.issue_cert("127.0.0.1")
    issued.cert_chain_pems[0].write_to_path(cert)
    issued.private_key_pem.write_to_path(key)
    server.signal(signal.SIGHUP)
    assert wait_until(lambda: "Reload complete" in server.output(), 15), server.output()
    assert wait_until(lambda: not set(first) & set(server.worker_pids()), 15)
    ca_path = tmp_path / "renewed-ca.pem"
    renewed.cert_pem.write_to_path(ca_path)
    response = requests.get(f"https://127.0.0.1:{server.port}/", verify=str(ca_path), timeout=10)
    assert response.status_code == 200
