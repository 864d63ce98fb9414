"""Errors in a client's request, as values with the status to answer."""

from __future__ import annotations


class HTTPError(Exception):
    """The request cannot be served; answer `status` and close the connection.

    `reason` is for the operator's log line and the short response body; it
    never echoes more than a few bytes of the client's input.
    """

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(f"{status} {reason}")
        self.status = status
        self.reason = reason
