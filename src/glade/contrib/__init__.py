"""Glade for people who run another server.

Each module here is imported only by name (``glade.contrib.gunicorn``), so
``import glade`` never imports, or needs, the server it plugs into.
"""
