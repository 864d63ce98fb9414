"""TLS: the server context built from certfile, keyfile, ca_certs, cert_reqs and ciphers.

The master builds one at startup only to check the files, so that a wrong
path or a key that does not match its certificate stops the server with one
clear line before anything listens. Each worker builds its own after gevent
has patched `ssl` (its sockets must be gevent's), and before it switches to
`user`, so the private key can stay readable by root alone.
"""

from __future__ import annotations

import os


class TLSError(Exception):
    """A TLS setting that cannot be used; str() names the setting and the cause."""


def server_context(cfg):
    """The SSLContext for the listeners, or None when certfile is not set.

    `ssl` is imported only when it is needed: a server without TLS (the sync
    worker's master in particular) does not carry OpenSSL's modules.
    """
    if not cfg.certfile:
        for name in ("keyfile", "ca_certs"):
            if getattr(cfg, name):
                raise TLSError(f"{name} is set but certfile is not: set both to serve HTTPS")
        return None
    import ssl

    for name in ("certfile", "keyfile", "ca_certs"):
        path = getattr(cfg, name)
        if path and not os.path.isfile(path):
            raise TLSError(f"{name} {path!r}: no such file")
        if path and not os.access(path, os.R_OK):
            raise TLSError(f"{name} {path!r}: permission denied")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_alpn_protocols(["http/1.1"])
    try:
        context.load_cert_chain(cfg.certfile, cfg.keyfile)
    except ssl.SSLError as error:
        raise TLSError(
            f"certfile {cfg.certfile!r}"
            + (f" and keyfile {cfg.keyfile!r}" if cfg.keyfile else "")
            + f": not a certificate and its private key in PEM ({error.reason or error})"
        ) from None
    if cfg.ca_certs:
        try:
            context.load_verify_locations(cfg.ca_certs)
        except (OSError, ssl.SSLError) as error:
            reason = getattr(error, "strerror", None) or getattr(error, "reason", None) or error
            raise TLSError(f"ca_certs {cfg.ca_certs!r}: {reason}") from None
    context.verify_mode = cfg.cert_reqs
    if cfg.cert_reqs != 0 and not cfg.ca_certs:  # 0: ssl.CERT_NONE
        raise TLSError("cert_reqs asks for client certificates: set ca_certs to verify them")
    if cfg.ciphers:
        try:
            context.set_ciphers(cfg.ciphers)
        except ssl.SSLError:
            raise TLSError(f"ciphers {cfg.ciphers!r}: OpenSSL knows none of them") from None
    return context


def handshake(context, client, deadline: float, *, suppress_ragged_eofs: bool = True):
    """The TLS handshake on an accepted socket, bounded by `deadline` (monotonic).

    Returns the TLS socket, or None (and the socket is closed) when the
    client does not complete it: a plain-HTTP client, a scanner, a
    certificate it refused. Those are the client's business: debug level.
    """
    from time import monotonic

    from glade.logging import error_log

    try:
        tls_client = context.wrap_socket(
            client,
            server_side=True,
            do_handshake_on_connect=False,
            suppress_ragged_eofs=suppress_ragged_eofs,
        )
        tls_client.settimeout(max(deadline - monotonic(), 0.01))
        tls_client.do_handshake()
        tls_client.settimeout(None)  # from here each wait bounds itself (see Connection)
    except (OSError, ValueError) as error:  # ssl.SSLError is an OSError
        error_log.debug("TLS handshake failed: %s", error)
        client.close()
        return None
    return tls_client
