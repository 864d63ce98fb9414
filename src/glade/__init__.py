"""Glade: a pre-fork WSGI HTTP server on gevent, graceful by design."""

__version__ = "0.1.0"
SERVER_SOFTWARE = f"glade/{__version__}"
