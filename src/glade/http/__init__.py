"""Sans-IO HTTP/1.1: bytes in, request events out; response bytes out.

Nothing here touches a socket or gevent, so every framing rule can be
tested by feeding bytes.
"""

from glade.http.errors import HTTPError
from glade.http.parser import NEED_DATA, Body, EndOfMessage, Request, RequestParser

__all__ = ["NEED_DATA", "Body", "EndOfMessage", "HTTPError", "Request", "RequestParser"]
