"""Believing a front-end proxy: `forwarded_allow_ips` and `secure_scheme_headers`.

A proxy that terminates TLS tells the app so with a header such as
`X-Forwarded-Proto: https`. Any client can send that header, so it is
believed only from the proxy's own addresses. These are gunicorn's rules
(and its defaults: the loopback addresses are trusted), so an app behind
nginx sees the same `wsgi.url_scheme` after switching servers.
"""

from __future__ import annotations

import ipaddress

CONTRADICTION = b"contradictory scheme headers\n"
CONTRADICTION_HEADERS = [
    ("Content-Type", "text/plain"),
    ("Content-Length", str(len(CONTRADICTION))),
]


def parse_network(entry: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    """One entry of forwarded_allow_ips: an address or a network; ValueError if neither."""
    return ipaddress.ip_network(entry.strip(), strict=False)


class TrustedPeers:
    """Which peers may speak for the client: a callable on the peer's address."""

    # Answers are remembered per address (a handful of proxies in practice);
    # past this many, new addresses are checked each time instead.
    MEMORY = 1024

    def __init__(self, entries) -> None:
        if isinstance(entries, str):
            entries = entries.split(",")
        entries = [entry.strip() for entry in entries or () if entry.strip()]
        self.everyone = "*" in entries
        self.networks = []
        for entry in entries:
            if entry != "*":
                try:
                    self.networks.append(parse_network(entry))
                except ValueError:
                    continue  # Glade's settings refuse these; gunicorn's config may not
        self._known: dict[str, bool] = {}

    def __call__(self, address: str) -> bool:
        if self.everyone or not address:  # no address: a UNIX socket peer, as in gunicorn
            return True
        known = self._known.get(address)
        if known is None:
            known = self._check(address)
            if len(self._known) < self.MEMORY:
                self._known[address] = known
        return known

    def _check(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        candidates = [ip]
        if ip.version == 6 and ip.ipv4_mapped is not None:
            # An IPv4 client of a dual-stack [::] listener: ::ffff:127.0.0.1.
            candidates.append(ip.ipv4_mapped)
        return any(candidate in network for candidate in candidates for network in self.networks)


def with_forwarded_scheme(app, secure_scheme_headers: dict, forwarded_allow_ips):
    """The app, seeing `wsgi.url_scheme` as a trusted proxy reports it.

    A trusted peer's header from secure_scheme_headers makes the scheme
    https when its value is the one listed, http otherwise; two such
    headers that disagree get a 400. Without any listed header, or from an
    untrusted peer, the scheme stays the listener's. No headers configured:
    the app itself, at no cost per request.
    """
    rules = {
        "HTTP_" + name.upper().replace("-", "_"): value
        for name, value in (secure_scheme_headers or {}).items()
    }
    if not rules:
        return app
    trusted = TrustedPeers(forwarded_allow_ips)
    rules_items = tuple(rules.items())

    def app_behind_proxy(environ, start_response):
        scheme = None
        for key, secure_value in rules_items:
            value = environ.get(key)
            if value is None:
                continue
            # The socket's peer: REMOTE_ADDR is the client's after a PROXY header.
            if not trusted(environ.get("glade.peer_addr", environ.get("REMOTE_ADDR", ""))):
                break
            # A repeated header reaches the environ joined with ", ".
            for sent in value.split(", ") if ", " in value else (value,):
                this = "https" if sent == secure_value else "http"
                if scheme is not None and this != scheme:
                    start_response("400 Bad Request", list(CONTRADICTION_HEADERS))
                    return [CONTRADICTION]
                scheme = this
        if scheme is not None:
            environ["wsgi.url_scheme"] = scheme
        return app(environ, start_response)

    app_behind_proxy.__wrapped__ = app  # where_in_app() names the app, not this
    return app_behind_proxy
