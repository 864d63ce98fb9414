"""forwarded_allow_ips and secure_scheme_headers: gunicorn's rules, case by case."""

from __future__ import annotations

import pytest

from glade.wsgi.proxy import TrustedPeers, with_forwarded_scheme

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
    app = with_forwarded_scheme(scheme_app, DEFAULT_HEADERS, ["127.0.0.1"])
    assert call(app, "127.0.0.1") == ("200 OK", "http")
    assert call(app, "127.0.0.1", X_FORWARDED_PROTO="https") == ("200 OK", "https")
    assert call(app, "127.0.0.1", X_FORWARDED_PROTO="http") == ("200 OK", "http")
    assert call(app, "127.0.0.1", X_FORWARDED_SSL="on") == ("200 OK", "https")
    assert call(app, "127.0.0.1", X_FORWARDED_PROTOCOL="ssl") == ("200 OK", "https")
    # Values are compared exactly, as in gunicorn.
    assert call(app, "127.0.0.1", X_FORWARDED_PROTO="HTTPS") == ("200 OK", "http")


def test_an_untrusted_peer_cannot_set_the_scheme():
    app = with_forwarded_scheme(scheme_app, DEFAULT_HEADERS, ["127.0.0.1"])
    assert call(app, "203.0.113.9", X_FORWARDED_PROTO="https") == ("200 OK", "http")
    # Nor can it get a 400 out of contradicting headers: they are not read at all.
    assert call(app, "203.0.113.9", X_FORWARDED_PROTO="https", X_FORWARDED_SSL="off") == (
        "200 OK",
        "http",
    )


def test_headers_that_disagree_are_a_bad_request():
    app = with_forwarded_scheme(scheme_app, DEFAULT_HEADERS, ["*"])
    status, body = call(app, "10.0.0.1", X_FORWARDED_PROTO="https", X_FORWARDED_SSL="off")
    assert status == "400 Bad Request"
    assert body == "contradictory scheme headers\n"
    assert call(app, "10.0.0.1", X_FORWARDED_PROTO="https", X_FORWARDED_SSL="on") == (
        "200 OK",
        "https",
    )


def test_a_repeated_header_counts_each_value():
    app = with_forwarded_scheme(scheme_app, DEFAULT_HEADERS, ["*"])
    assert call(app, "10.0.0.1", X_FORWARDED_PROTO="https, https") == ("200 OK", "https")
    assert call(app, "10.0.0.1", X_FORWARDED_PROTO="https, http")[0] == "400 Bad Request"


def test_no_scheme_headers_leave_the_app_as_it_is():
    assert with_forwarded_scheme(scheme_app, {}, ["*"]) is scheme_app
