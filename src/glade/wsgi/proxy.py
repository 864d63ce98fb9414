"""Believing a front-end proxy: `forwarded_allow_ips` and the headers it trusts.

A proxy tells the app what only it knows with headers: the scheme the
client used (`X-Forwarded-Proto: https`), the client's address
(`X-Forwarded-For`, `Forwarded`), the host and path prefix it was asked for.
Any client can send those headers, so they are believed only from the
proxy's own addresses. The scheme follows gunicorn's rules (and its
defaults: the loopback addresses are trusted), so an app behind nginx sees
the same `wsgi.url_scheme` after switching servers; the client's address
follows uvicorn's --proxy-headers.
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


def behind_proxy(
    app,
    secure_scheme_headers: dict,
    forwarded_allow_ips,
    *,
    client_headers: bool = False,
    host_headers: bool = False,
):
    """The app, seeing the request as a trusted proxy in front reports it.

    Only from a peer in forwarded_allow_ips (a UNIX socket peer always is):
    - a header of secure_scheme_headers makes `wsgi.url_scheme` https when it
      has the listed value, http otherwise; listed headers that disagree get
      a 400 (gunicorn's rule);
    - with `client_headers`, REMOTE_ADDR becomes the client's address from
      `X-Forwarded-For` or, without it, RFC 7239 `Forwarded`: the right-most
      hop that is not itself a trusted proxy (the left-most when all are),
      as uvicorn's --proxy-headers and werkzeug's ProxyFix do;
    - with `host_headers`, `X-Forwarded-Host`, `-Port` and `-Prefix` (their
      right-most values, set by the nearest proxy) become HTTP_HOST and
      SERVER_NAME, SERVER_PORT, and the front of SCRIPT_NAME.
    The headers themselves stay in the environ as they came, so an app that
    also applies ProxyFix keeps working; the socket's peer is kept as
    `glade.peer_addr`. With nothing to do: the app itself, at no cost.
    """
    rules = tuple(
        ("HTTP_" + name.upper().replace("-", "_"), value)
        for name, value in (secure_scheme_headers or {}).items()
    )
    if not rules and not client_headers and not host_headers:
        return app
    trusted = TrustedPeers(forwarded_allow_ips)
    # The environ keys of every header this may act on.
    watched = tuple(key for key, _ in rules)
    if client_headers:
        watched += ("HTTP_X_FORWARDED_FOR", "HTTP_FORWARDED")
    if host_headers:
        watched += _HOST_KEYS

    def app_behind_proxy(environ, start_response):
        # Most requests carry none of these headers: look before judging the peer.
        for key in watched:
            if key in environ:
                break
        else:
            return app(environ, start_response)
        # The socket's peer: REMOTE_ADDR is the client's after a PROXY header.
        peer = environ.get("glade.peer_addr")
        if peer is None:
            peer = environ.get("REMOTE_ADDR", "")
        if not trusted(peer):
            return app(environ, start_response)
        scheme = None
        for key, secure_value in rules:
            value = environ.get(key)
            if value is None:
                continue
            # A repeated header reaches the environ joined with ", ".
            for sent in value.split(", ") if ", " in value else (value,):
                this = "https" if sent == secure_value else "http"
                if scheme is not None and this != scheme:
                    start_response("400 Bad Request", list(CONTRADICTION_HEADERS))
                    return [CONTRADICTION]
                scheme = this
        if scheme is not None:
            environ["wsgi.url_scheme"] = scheme
        if client_headers:
            client = _forwarded_client(environ, trusted)
            if client is not None:
                environ["glade.peer_addr"] = peer
                environ["REMOTE_ADDR"] = client
        if host_headers:
            _apply_forwarded_host(environ)
        return app(environ, start_response)

    app_behind_proxy.__wrapped__ = app  # where_in_app() names the app, not this
    return app_behind_proxy


_HOST_KEYS = ("HTTP_X_FORWARDED_HOST", "HTTP_X_FORWARDED_PORT", "HTTP_X_FORWARDED_PREFIX")


def _forwarded_client(environ: dict, trusted: TrustedPeers) -> str | None:
    """The client's address the proxies report, or None to keep the peer's."""
    forwarded_for = environ.get("HTTP_X_FORWARDED_FOR")
    if forwarded_for is not None:
        hops = forwarded_for.split(",")
    else:
        forwarded = environ.get("HTTP_FORWARDED")
        if forwarded is None:
            return None
        hops = _forwarded_for_values(forwarded)
    addresses = [_address_of_hop(hop) for hop in hops]
    if not addresses or None in addresses:
        return None  # something that is not an address: believe none of it
    for address in reversed(addresses):
        if not trusted(address):
            return address
    return addresses[0]


def _forwarded_for_values(header: str) -> list[str]:
    """The `for=` values of an RFC 7239 Forwarded header, one per hop, in order."""
    values = []
    for element in header.split(","):
        for pair in element.split(";"):
            name, _, value = pair.strip().partition("=")
            if name.strip().lower() == "for":
                values.append(value.strip().strip('"'))
    return values


def _address_of_hop(hop: str) -> str | None:
    """A hop as an IP address, without brackets or port; None if it is not one
    (`unknown`, an obfuscated `_name`, garbage)."""
    text = hop.strip()
    if text.startswith("["):  # [2001:db8::1]:4711
        text = text[1 : text.find("]")] if "]" in text else ""
    elif text.count(":") == 1:  # 192.0.2.60:4711
        text = text.partition(":")[0]
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None


def _apply_forwarded_host(environ: dict) -> None:
    host = _last_value(environ.get("HTTP_X_FORWARDED_HOST"))
    if host:
        environ["HTTP_HOST"] = host
        name, colon, port = host.rpartition(":") if not host.endswith("]") else ("", "", "")
        if colon and port.isdigit():
            environ["SERVER_NAME"], environ["SERVER_PORT"] = name.strip("[]"), port
        else:
            environ["SERVER_NAME"] = host.strip("[]")
    port = _last_value(environ.get("HTTP_X_FORWARDED_PORT"))
    if port and port.isdigit():
        environ["SERVER_PORT"] = port
    prefix = _last_value(environ.get("HTTP_X_FORWARDED_PREFIX"))
    if prefix:
        environ["SCRIPT_NAME"] = "/" + prefix.strip("/") + environ.get("SCRIPT_NAME", "")


def _last_value(value: str | None) -> str | None:
    if value is None:
        return None
    return value.rpartition(",")[2].strip()
