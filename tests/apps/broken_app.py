"""Apps that break PEP 3333 or HTTP in their responses, unwrapped (a
validator would catch them first). Each line that breaks a rule is marked
`# broken: KIND`, so that tests can find it in Glade's log line."""

from __future__ import annotations


def app(environ, start_response):
    kind = environ["QUERY_STRING"]
    if kind == "final-1xx":
        start_response("103 Early Hints", [])  # broken: final-1xx
        return [b"never sent"]
    if kind == "vt-in-header":
        start_response("200 OK", [("X-Bad", "a\x0bb")])  # broken: vt-in-header
        return [b"never sent"]
    if kind == "del-in-header":
        start_response("200 OK", [("X-Bad", "a\x7fb")])  # broken: del-in-header
        return [b"never sent"]
    if kind == "second-start-response":
        start_response("200 OK", [])
        start_response("200 OK", [])  # broken: second-start-response
        return [b"never sent"]
    if kind == "write-str":
        write = start_response("200 OK", [])
        write("text")  # broken: write-str
        return []
    if kind == "str-in-list":
        start_response("200 OK", [])
        return ["text, not bytes"]  # found after the app returned: the app is named
    if kind == "str-in-generator":
        start_response("200 OK", [])
        return _yields_str_after_bytes()
    if kind == "short-body":
        start_response("200 OK", [("Content-Length", "100")])
        return [b"only ten.."]
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"Hello, World!"]


def _yields_str_after_bytes():
    yield b"bytes first, "
    yield "then text"  # broken: str-in-generator
