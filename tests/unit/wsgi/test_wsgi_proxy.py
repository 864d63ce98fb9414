"""forwarded_allow_ips and secure_scheme_headers: gunicorn's rules, case by case."""

from __future__ import annotations

import pytest

from glade.wsgi.proxy import TrustedPeers, behind_proxy

DEFAULT_HEADERS = {
    "X-FORWARDED-PROTOCOL": "ssl",
    "X-FORWARDED-PROTO": "https",
    "X-FORWARDED-SSL": "on",
}


def scheme_app(environ, start_response):
    body = environ["wsgi.url_scheme"].encode()
    start_response("200 OK", [("Content-Length", str(len(body)))])
    return [body]


def call(app, remote: str, **headers):
    """Run the app on a minimal environ; returns (status, body)."""
    environ = {"wsgi.url_scheme": "http", "REMOTE_ADDR": remote}
    environ.update({"HTTP_" + name.upper(): value for name, value in headers.items()})
    seen = {}

    def start_response(status, response_headers, exc_info=None):
        seen["status"] = status

    body = b"".join(app(environ, start_response))
    return seen["status"], body.decode()


@pytest.mark.parametrize(
    ("allowed", "address", "trusted"),
    [
        (["127.0.0.1", "::1"], "127.0.0.1", True),
        (["127.0.0.1", "::1"], "::1", True),
        (["127.0.0.1", "::1"], "10.0.0.1", False),
        (["127.0.0.1"], "::ffff:127.0.0.1", True),  # IPv4 client of a dual-stack listener
        (["10.0.0.0/8"], "10.200.3.4", True),
        (["10.0.0.0/8"], "11.0.0.1", False),
        (["*"], "203.0.113.9", True),
        ("10.0.0.1, 10.0.0.2", "10.0.0.2", True),
        (["10.0.0.1"], "", True),  # a UNIX socket peer has no address
        (["10.0.0.1"], "not an address", False),
        ([], "127.0.0.1", False),
    ],
)
def test_trusted_peers(allowed, address, trusted):
    peers = TrustedPeers(allowed)
    assert peers(address) is trusted
    assert peers(address) is trusted  # and the remembered answer is the same


def test_trusted_peers_stop_remembering_past_their_memory():
    peers = TrustedPeers(["10.0.0.0/8"])
    for host in range(TrustedPeers.MEMORY + 10):
        assert peers(f"10.0.{host // 256}.{host % 256}")
    assert len(peers._known) == TrustedPeers.MEMORY
    assert peers("10.9.9.9") and not peers("11.9.9.9")


def test_a_trusted_proxy_sets_the_scheme():
    app = behind_proxy(scheme_app, DEFAULT_HEADERS, ["127.0.0.1"])
    assert call(app, "127.0.0.1") == ("200 OK", "http")
    assert call(app, "127.0.0.1", X_FORWARDED_PROTO="https") == ("200 OK", "https")
    assert call(app, "127.0.0.1", X_FORWARDED_PROTO="http") == ("200 OK", "http")
    assert call(app, "127.0.0.1", X_FORWARDED_SSL="on") == ("200 OK", "https")
    assert call(app, "127.0.0.1", X_FORWARDED_PROTOCOL="ssl") == ("200 OK", "https")
    # Values are compared exactly, as in gunicorn.
    assert call(app, "127.0.0.1", X_FORWARDED_PROTO="HTTPS") == ("200 OK", "http")


def test_an_untrusted_peer_cannot_set_the_scheme():
    app = behind_proxy(scheme_app, DEFAULT_HEADERS, ["127.0.0.1"])
    assert call(app, "203.0.113.9", X_FORWARDED_PROTO="https") == ("200 OK", "http")
    # Nor can it get a 400 out of contradicting headers: they are not read at all.
    assert call(app, "203.0.113.9", X_FORWARDED_PROTO="https", X_FORWARDED_SSL="off") == (
        "200 OK",
        "http",
    )


def test_headers_that_disagree_are_a_bad_request():
    app = behind_proxy(scheme_app, DEFAULT_HEADERS, ["*"])
    status, body = call(app, "10.0.0.1", X_FORWARDED_PROTO="https", X_FORWARDED_SSL="off")
    assert status == "400 Bad Request"
    assert body == "contradictory scheme headers\n"
    assert call(app, "10.0.0.1", X_FORWARDED_PROTO="https", X_FORWARDED_SSL="on") == (
        "200 OK",
        "https",
    )


def test_a_repeated_header_counts_each_value():
    app = behind_proxy(scheme_app, DEFAULT_HEADERS, ["*"])
    assert call(app, "10.0.0.1", X_FORWARDED_PROTO="https, https") == ("200 OK", "https")
    assert call(app, "10.0.0.1", X_FORWARDED_PROTO="https, http")[0] == "400 Bad Request"


def test_no_scheme_headers_leave_the_app_as_it_is():
    assert behind_proxy(scheme_app, {}, ["*"]) is scheme_app


# -- the client's address (--proxy-headers) and the host (--proxy-host-headers) --------


def environ_app(environ, start_response):
    start_response("200 OK", [])
    environ_app.seen = dict(environ)
    return [b""]


def seen(remote: str, trusted=("127.0.0.1", "10.0.0.0/8"), host_headers=False, **headers):
    app = behind_proxy(
        environ_app, {}, list(trusted), client_headers=True, host_headers=host_headers
    )
    environ = {
        "wsgi.url_scheme": "http",
        "REMOTE_ADDR": remote,
        "SERVER_NAME": "internal",
        "SERVER_PORT": "8000",
        "SCRIPT_NAME": "",
    }
    environ.update({"HTTP_" + name.upper(): value for name, value in headers.items()})
    list(app(environ, lambda status, response_headers, exc_info=None: None))
    return environ_app.seen


@pytest.mark.parametrize(
    ("remote", "headers", "client"),
    [
        # nginx's $proxy_add_x_forwarded_for: what the client sent, then its address.
        ("127.0.0.1", {"X_Forwarded_For": "203.0.113.7"}, "203.0.113.7"),
        ("127.0.0.1", {"X_Forwarded_For": "6.6.6.6, 203.0.113.7"}, "203.0.113.7"),
        # Trusted proxies on the way are skipped, from the right.
        ("127.0.0.1", {"X_Forwarded_For": "203.0.113.7, 10.1.2.3"}, "203.0.113.7"),
        # All trusted: the left-most.
        ("127.0.0.1", {"X_Forwarded_For": "10.0.0.5, 10.1.2.3"}, "10.0.0.5"),
        ("127.0.0.1", {"X_Forwarded_For": "[2001:db8::1]:4711"}, "2001:db8::1"),
        ("127.0.0.1", {"X_Forwarded_For": "203.0.113.7:5555"}, "203.0.113.7"),
        ("", {"X_Forwarded_For": "203.0.113.7"}, "203.0.113.7"),  # a UNIX socket peer
        # RFC 7239
        ("127.0.0.1", {"Forwarded": 'for="[2001:db8:cafe::17]:4711"'}, "2001:db8:cafe::17"),
        ("127.0.0.1", {"Forwarded": "for=192.0.2.60;proto=http;by=203.0.113.43"}, "192.0.2.60"),
        ("127.0.0.1", {"Forwarded": "for=192.0.2.43, for=10.0.0.9"}, "192.0.2.43"),
        ("127.0.0.1", {"Forwarded": "For=192.0.2.43"}, "192.0.2.43"),
        # X-Forwarded-For wins over Forwarded.
        (
            "127.0.0.1",
            {"X_Forwarded_For": "203.0.113.7", "Forwarded": "for=1.2.3.4"},
            "203.0.113.7",
        ),
        # Not believed: an untrusted peer, something that is not an address.
        ("192.0.2.1", {"X_Forwarded_For": "203.0.113.7"}, "192.0.2.1"),
        ("127.0.0.1", {"X_Forwarded_For": "unknown, 203.0.113.7"}, "127.0.0.1"),
        ("127.0.0.1", {"Forwarded": "for=_hidden"}, "127.0.0.1"),
        ("127.0.0.1", {"X_Forwarded_For": ""}, "127.0.0.1"),
        ("127.0.0.1", {}, "127.0.0.1"),
    ],
)
def test_the_client_address_from_a_trusted_proxy(remote, headers, client):
    environ = seen(remote, **headers)
    assert environ["REMOTE_ADDR"] == client
    for name, value in headers.items():
        assert environ["HTTP_" + name.upper()] == value  # left as they came
    if client != remote:
        assert environ["glade.peer_addr"] == remote


def test_the_client_address_is_left_alone_when_turned_off():
    app = behind_proxy(environ_app, {}, ["127.0.0.1"], client_headers=False)
    environ = {"REMOTE_ADDR": "127.0.0.1", "HTTP_X_FORWARDED_FOR": "203.0.113.7"}
    list(app(environ, lambda *args: None))
    assert environ_app.seen["REMOTE_ADDR"] == "127.0.0.1"


def test_forwarded_host_port_and_prefix_when_turned_on():
    environ = seen(
        "127.0.0.1",
        host_headers=True,
        X_Forwarded_Host="evil.example, www.example.com:8443",
        X_Forwarded_Prefix="/shop/",
    )
    assert environ["HTTP_HOST"] == "www.example.com:8443"
    assert (environ["SERVER_NAME"], environ["SERVER_PORT"]) == ("www.example.com", "8443")
    assert environ["SCRIPT_NAME"] == "/shop"
    environ = seen("127.0.0.1", host_headers=True, X_Forwarded_Host="[::1]", X_Forwarded_Port="443")
    assert (environ["SERVER_NAME"], environ["SERVER_PORT"]) == ("::1", "443")


def test_forwarded_host_is_ignored_by_default_and_from_untrusted_peers():
    assert seen("127.0.0.1", X_Forwarded_Host="www.example.com")["SERVER_NAME"] == "internal"
    environ = seen("192.0.2.1", host_headers=True, X_Forwarded_Host="www.example.com")
    assert environ["SERVER_NAME"] == "internal"
