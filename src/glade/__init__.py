"""Glade: a pre-fork WSGI HTTP server on gevent, graceful by design."""

from glade import extensions

__version__ = "0.1.0"
SERVER_SOFTWARE = f"glade/{__version__}"

# Before any module of the hot path is imported: it runs compiled, or from its
# source when GLADE_NO_EXTENSIONS is set or its build is stale.
extensions.install()
