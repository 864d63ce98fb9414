"""Behind a proxy: wsgi.url_scheme from a trusted front-end's headers, as gunicorn does."""

from __future__ import annotations

import json
import os
import socket
import tempfile

import requests
from support.proxies import need, nginx
from support.server import free_port, read_until_close, split_responses, wait_until


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


# -- the PROXY protocol ---------------------------------------------------------------

PROXY_V1 = b"PROXY TCP4 203.0.113.7 10.0.0.5 51000 443\r\n"


def proxied(server, header: bytes, requests_: int = 1, extra: bytes = b"") -> list:
    """Send a PROXY header then `requests_` GET /environ on one connection."""
    head = b"GET /environ HTTP/1.1\r\nHost: x\r\n" + extra
    data = header + (head + b"\r\n") * (requests_ - 1) + head + b"Connection: close\r\n\r\n"
    with socket.create_connection((server.host, server.port), timeout=10) as sock:
        sock.sendall(data)
        return split_responses(read_until_close(sock, timeout=10))


def test_a_proxy_v1_header_gives_the_client_address(glade_server, worker_class):
    server = glade_server("validated:app", "-k", worker_class, "--proxy-protocol", "v1")
    # The sync worker answers one request per connection; gevent keeps it alive.
    count = 2 if worker_class == "gevent" else 1
    responses = proxied(server, PROXY_V1, requests_=count)
    assert [response.status for response in responses] == [200] * count
    for response in responses:  # for every request of the connection
        environ = json.loads(response.body)
        assert (environ["REMOTE_ADDR"], environ["REMOTE_PORT"]) == ("203.0.113.7", "51000")
        assert (environ["PROXY_ADDR"], environ["PROXY_PORT"]) == ("10.0.0.5", "443")
        assert environ["PROXY_PROTOCOL"] == "TCP4"
    assert server.tracebacks() == 0


def test_a_proxy_v2_header_and_a_connection_without_one(glade_server):
    server = glade_server("validated:app", "--proxy-protocol", "auto")
    body = bytes([192, 0, 2, 9, 10, 0, 0, 5]) + (40000).to_bytes(2, "big") + (80).to_bytes(2, "big")
    header = b"\r\n\r\n\x00\r\nQUIT\n" + bytes([0x21, 0x11]) + len(body).to_bytes(2, "big") + body
    (response,) = proxied(server, header)
    environ = json.loads(response.body)
    assert (environ["REMOTE_ADDR"], environ["REMOTE_PORT"]) == ("192.0.2.9", "40000")
    (response,) = proxied(server, b"")  # no header: served as it is
    assert json.loads(response.body)["REMOTE_ADDR"] == "127.0.0.1"


def test_proxy_headers_from_a_peer_not_allowed_or_malformed_are_refused(glade_server):
    server = glade_server(
        "validated:app", "--proxy-protocol", "v1", "--proxy-allow-from", "10.0.0.0/8"
    )
    (response,) = proxied(server, PROXY_V1)
    assert response.status == 403
    server = glade_server("validated:app", "--proxy-protocol", "v1")
    (response,) = proxied(server, b"PROXY TCP4 203.0.113.7 nonsense 1 2\r\n")
    assert response.status == 400
    assert "refused request from 127.0.0.1" in server.output()
    assert server.tracebacks() == 0


def test_the_access_log_shows_the_client_and_trust_stays_with_the_peer(glade_server):
    """X-Forwarded-Proto is believed from the socket's peer (the proxy at
    127.0.0.1), as in gunicorn, not from the client the PROXY header names."""
    server = glade_server("validated:app", "--proxy-protocol", "v1", "--access-logfile", "-")
    (response,) = proxied(server, PROXY_V1, extra=b"X-Forwarded-Proto: https\r\n")
    assert json.loads(response.body)["wsgi.url_scheme"] == "https"
    assert wait_until(lambda: "203.0.113.7 - - [" in server.output(), 5), server.output()


# -- the client's address: --proxy-headers (on by default) --------------------------


def environ_from(server, source: str = "127.0.0.1", path: str = "/environ", **headers) -> dict:
    """The app's environ for a request sent from the local address `source`."""
    lines = "".join(f"{name.replace('_', '-')}: {value}\r\n" for name, value in headers.items())
    request = f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{lines}\r\n".encode()
    with socket.create_connection(
        (server.host, server.port), timeout=5, source_address=(source, 0)
    ) as sock:
        sock.sendall(request)
        (response,) = split_responses(read_until_close(sock, timeout=5))
    assert response.status == 200, response
    return json.loads(response.body)


def test_the_client_address_from_a_trusted_proxys_x_forwarded_for(glade_server, worker_class):
    server = glade_server(
        "validated:app",
        "-k",
        worker_class,
        "--access-logfile",
        "-",
        "--access-log-format",
        "%(h)s %(U)s",
    )
    environ = environ_from(server, X_Forwarded_For="203.0.113.7, 10.9.8.7")
    assert environ["REMOTE_ADDR"] == "10.9.8.7"  # the right-most hop not trusted
    assert environ["HTTP_X_FORWARDED_FOR"] == "203.0.113.7, 10.9.8.7"  # as it came
    assert environ["glade.peer_addr"] == "127.0.0.1"
    environ = environ_from(server, Forwarded='for="[2001:db8::17]:4711";proto=https')
    assert environ["REMOTE_ADDR"] == "2001:db8::17"
    assert wait_until(lambda: "10.9.8.7 /environ" in server.output(), 5), server.output()


def test_a_client_that_is_not_a_trusted_proxy_cannot_set_its_address(glade_server):
    server = glade_server("validated:app")
    environ = environ_from(server, source="127.0.0.2", X_Forwarded_For="203.0.113.7")
    assert environ["REMOTE_ADDR"] == "127.0.0.2"
    assert "glade.peer_addr" not in environ


def test_no_proxy_headers_leaves_the_peers_address(glade_server):
    server = glade_server("validated:app", "--no-proxy-headers")
    environ = environ_from(server, X_Forwarded_For="203.0.113.7")
    assert environ["REMOTE_ADDR"] == "127.0.0.1"


def test_behind_nginx_on_a_unix_socket_the_app_and_the_log_see_the_client(glade_server, tmp_path):
    """nginx's usual lines ($proxy_add_x_forwarded_for, X-Real-IP, $scheme):
    without --proxy-headers, REMOTE_ADDR is empty and %(h)s is "-" for every
    request; with it (the default), both show the client, and a client's own
    X-Forwarded-For cannot stand in for its address."""
    need("nginx")
    socket_path = tmp_path / "glade.sock"
    port = free_port()
    server = glade_server(
        "validated:app",
        "--access-logfile",
        "-",
        "--access-log-format",
        "client=%(h)s %(U)s",
        bind=f"unix:{socket_path}",
    )
    with nginx(NGINX_WITH_HEADERS % {"socket": socket_path, "port": port}, port):
        front = FrontDoor(port)
        environ = environ_from(front, source="127.0.0.2")
        assert environ["REMOTE_ADDR"] == "127.0.0.2"
        assert environ["HTTP_X_REAL_IP"] == "127.0.0.2"
        environ = environ_from(front, source="127.0.0.3", X_Forwarded_For="6.6.6.6")
        assert environ["REMOTE_ADDR"] == "127.0.0.3"  # not the client's own claim
        assert environ["HTTP_X_FORWARDED_FOR"] == "6.6.6.6, 127.0.0.3"
        assert wait_until(lambda: "client=127.0.0.3 /environ" in server.output(), 5)
        assert "client=- " not in server.output()


class FrontDoor:
    def __init__(self, port: int) -> None:
        self.host, self.port = "127.0.0.1", port


NGINX_WITH_HEADERS = """
    server {
        listen 127.0.0.1:%(port)d;
        location / {
            proxy_pass http://unix:%(socket)s;
            proxy_set_header Host $host;
            proxy_set_header X-Real-IP $remote_addr;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
        }
    }
"""
