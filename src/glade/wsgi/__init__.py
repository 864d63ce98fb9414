"""PEP 3333: environ, wsgi.input, start_response and writing the result.

This package knows WSGI and HTTP framing but not sockets: it is handed a
`send` callable (and optionally `sendfile`) by the worker's connection.
"""
