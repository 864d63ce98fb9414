"""Behind a proxy: wsgi.url_scheme from a trusted front-end's headers, as gunicorn does."""

from __future__ import annotations

import json
import os
import socket
import tempfile

import requests
from support.server import read_until_close, split_responses


def scheme_of(server, **headers) -> tuple[int, str]:
    response = requests.get(server.url + "/environ", headers=headers, timeout=5)
    if response.status_code != 200:
        return response.status_code, response.text
    return 200, response.json()["wsgi.url_scheme"]


def test_the_loopback_proxy_is_trusted_by_default(glade_server, worker_class):
    server = glade_server("validated:app", "-k", worker_class)
    assert scheme_of(server) == (200, "http")
    assert scheme_of(server, **{"X-Forwarded-Proto": "https"}) == (200, "https")
    assert scheme_of(server, **{"X-Forwarded-Ssl": "on"}) == (200, "https")
    assert scheme_of(server, **{"X-Forwarded-Proto": "http"}) == (200, "http")
    status, body = scheme_of(server, **{"X-Forwarded-Proto": "https", "X-Forwarded-Ssl": "off"})
    assert (status, body) == (400, "contradictory scheme headers\n")
    assert server.tracebacks() == 0


def test_a_peer_outside_forwarded_allow_ips_is_not_believed(glade_server):
    server = glade_server("validated:app", "--forwarded-allow-ips", "10.0.0.0/8")
    assert scheme_of(server, **{"X-Forwarded-Proto": "https"}) == (200, "http")
    # Contradicting headers from an untrusted peer are not even read.
    assert scheme_of(server, **{"X-Forwarded-Proto": "https", "X-Forwarded-Ssl": "off"}) == (
        200,
        "http",
    )


def test_forwarded_allow_ips_from_the_environment(glade_server):
    server = glade_server("validated:app", env={"FORWARDED_ALLOW_IPS": "192.0.2.1"})
    assert scheme_of(server, **{"X-Forwarded-Proto": "https"}) == (200, "http")


def test_custom_secure_scheme_headers_from_a_config_file(glade_server, tmp_path):
    config = tmp_path / "gunicorn.conf.py"
    config.write_text("secure_scheme_headers = {'X-Scheme': 'https'}\n")
    server = glade_server("validated:app", "-c", str(config))
    assert scheme_of(server, **{"X-Scheme": "https"}) == (200, "https")
    assert scheme_of(server, **{"X-Forwarded-Proto": "https"}) == (200, "http")


def test_empty_secure_scheme_headers_turn_it_off(glade_server, tmp_path):
    config = tmp_path / "gunicorn.conf.py"
    config.write_text("secure_scheme_headers = {}\n")
    server = glade_server("validated:app", "-c", str(config))
    assert scheme_of(server, **{"X-Forwarded-Proto": "https"}) == (200, "http")


def test_a_unix_socket_peer_is_trusted(glade_server):
    with tempfile.TemporaryDirectory(prefix="glade-") as directory:
        path = os.path.join(directory, "glade.sock")
        server = glade_server(
            "validated:app", "--forwarded-allow-ips", "192.0.2.1", bind=f"unix:{path}"
        )
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(5)
            sock.connect(path)
            sock.sendall(
                b"GET /environ HTTP/1.1\r\nHost: x\r\nX-Forwarded-Proto: https\r\n"
                b"Connection: close\r\n\r\n"
            )
            (response,) = split_responses(read_until_close(sock, timeout=5))
        assert response.status == 200
        assert json.loads(response.body)["wsgi.url_scheme"] == "https"
        assert server.stop() == 0
