"""Flask and Django apps served for real by Glade, with both worker classes.

The two apps (tests/frameworks/apps) answer the same URLs the same way, so
every test here runs four times: flask-gevent, flask-sync, django-gevent
and django-sync. Clients are `requests` (HTTP/1.1) and, where the exact
bytes matter, a raw socket.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import time
from pathlib import Path

import pytest
import requests
from support.server import read_until_close

TIMEOUT = 10
HELLO_TXT = (Path(__file__).resolve().parent / "apps" / "static" / "hello.txt").read_bytes()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def split_response(raw: bytes) -> tuple[str, dict[str, str], bytes]:
    """Status line, headers (lowercased names) and body of a raw response."""
    head, _, body = raw.partition(b"\r\n\r\n")
    status, *lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return status, headers, body


def send_in_two_packets(site, head: bytes, body: bytes, split: int, pause: float = 0.2) -> bytes:
    """Send a request whose body arrives in two TCP segments, as networks do."""
    with site.server.connect(TIMEOUT) as sock:
        sock.sendall(head + body[:split])
        time.sleep(pause)  # the server has received and parsed the first part by now
        sock.sendall(body[split:])
        return read_until_close(sock, TIMEOUT)


def post_head(path: str, content_type: str, length: int, *extra: str) -> bytes:
    lines = [
        f"POST {path} HTTP/1.1",
        "Host: 127.0.0.1",
        f"Content-Type: {content_type}",
        f"Content-Length: {length}",
        "Connection: close",
        *extra,
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def assert_connection_header(site, response) -> None:
    """The sync worker has no keep-alive: it says so on every response."""
    if site.worker == "sync":
        assert response.headers.get("Connection") == "close"
    else:
        assert "Connection" not in response.headers


# -- plain pages ---------------------------------------------------------------


def test_hello(site):
    response = requests.get(f"{site.url}/hello", timeout=TIMEOUT)
    assert response.status_code == 200
    expected = f"Hello from {site.framework.capitalize()}\n".encode()
    assert response.content == expected
    assert response.headers["Content-Length"] == str(len(expected))
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert response.headers["Server"].startswith("glade/")
    assert "Transfer-Encoding" not in response.headers
    assert_connection_header(site, response)
    site.assert_log_clean()


def test_not_found(site):
    response = requests.get(f"{site.url}/no/such/page", timeout=TIMEOUT)
    assert response.status_code == 404
    assert response.headers["Content-Length"] == str(len(response.content))
    site.assert_log_clean()


def test_non_ascii_path_and_query(site):
    """UTF-8 in the URL survives PATH_INFO's latin-1 round trip (PEP 3333)."""
    response = requests.get(
        f"{site.url}/greet/Zoë 日本", params={"title": "été & co"}, timeout=TIMEOUT
    )
    assert response.status_code == 200
    data = response.json()
    assert data["name"] == "Zoë 日本"
    assert data["title"] == "été & co"
    assert data["url"].startswith(f"{site.url}/greet/")
    site.assert_log_clean()


def test_cookies_both_ways(site):
    response = requests.get(
        f"{site.url}/cookies", cookies={"flavour": "oat", "size": "big"}, timeout=TIMEOUT
    )
    assert response.status_code == 200
    assert response.json()["received"] == {"flavour": "oat", "size": "big"}
    set_cookies = response.raw.headers.getlist("Set-Cookie")
    assert len(set_cookies) == 2, set_cookies
    assert response.cookies.get("first") == "1"
    assert response.cookies.get("second") == "2"
    site.assert_log_clean()


def test_keep_alive_follows_the_worker_class(site):
    """gevent keeps one connection for several requests; sync closes after each."""
    connection = http.client.HTTPConnection(site.server.host, site.server.port, timeout=TIMEOUT)
    try:
        sockets = []
        for _ in range(3):
            connection.request("GET", "/hello")
            response = connection.getresponse()
            assert response.status == 200
            assert response.read().startswith(b"Hello from")
            sockets.append(connection.sock)
    finally:
        connection.close()
    if site.worker == "gevent":
        assert sockets[0] is not None
        assert sockets[0] is sockets[1] is sockets[2]
    else:
        assert sockets == [None, None, None]  # closed after each response
    site.assert_log_clean()


# -- forms -----------------------------------------------------------------------


def test_form_urlencoded(site):
    fields = {"name": "Zoë", "tags": ["red", "green"], "empty": "", "note": "a=b&c"}
    response = requests.post(f"{site.url}/form", data=fields, timeout=TIMEOUT)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    assert response.json() == {
        "fields": {"name": ["Zoë"], "tags": ["red", "green"], "empty": [""], "note": ["a=b&c"]},
        "files": {},
    }
    assert_connection_header(site, response)
    site.assert_log_clean()


def test_form_multipart_with_small_file(site):
    upload = b"first line\nsecond line\n\x00\xff binary tail"
    response = requests.post(
        f"{site.url}/form",
        data={"title": "Zoë's notes", "tags": ["a", "b"]},
        files={"attachment": ("notes.txt", upload, "text/plain")},
        timeout=TIMEOUT,
    )
    assert response.status_code == 200
    assert response.json() == {
        "fields": {"title": ["Zoë's notes"], "tags": ["a", "b"]},
        "files": {
            "attachment": {
                "filename": "notes.txt",
                "content_type": "text/plain",
                "size": len(upload),
                "sha256": sha256(upload),
            }
        },
    }
    site.assert_log_clean()


def test_form_multipart_with_large_files(site):
    """Uploads past the frameworks' in-memory limits go to temporary files."""
    first = os.urandom(3 * 1024 * 1024)
    second = os.urandom(100 * 1024)
    response = requests.post(
        f"{site.url}/form",
        data={"kind": "photos"},
        files={
            "first": ("first.bin", first, "application/octet-stream"),
            "second": ("second.jpg", second, "image/jpeg"),
        },
        timeout=TIMEOUT,
    )
    assert response.status_code == 200
    files = response.json()["files"]
    assert files["first"]["size"] == len(first)
    assert files["first"]["sha256"] == sha256(first)
    assert files["second"] == {
        "filename": "second.jpg",
        "content_type": "image/jpeg",
        "size": len(second),
        "sha256": sha256(second),
    }
    site.assert_log_clean()


# -- JSON API --------------------------------------------------------------------


def test_json_api(site):
    payload = {"name": "Zoë", "numbers": [1, 2.5, -3], "nested": {"ok": True, "none": None}}
    response = requests.post(f"{site.url}/api/echo", json=payload, timeout=TIMEOUT)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["Content-Length"] == str(len(response.content))
    data = response.json()
    assert data["received"] == payload
    assert data["keys"] == ["name", "nested", "numbers"]
    assert data["content_length"] == len(json.dumps(payload).encode())
    assert_connection_header(site, response)
    site.assert_log_clean()


def test_json_api_rejects_a_bad_body(site):
    response = requests.post(
        f"{site.url}/api/echo",
        data=b"{not json",
        headers={"Content-Type": "application/json"},
        timeout=TIMEOUT,
    )
    assert response.status_code == 400
    assert response.json() == {"error": "expected a JSON body"}
    site.assert_log_clean()


def test_json_api_with_a_chunked_request_body(site):
    """wsgi.input_terminated lets Flask read a body that has no Content-Length."""
    if site.framework == "django":
        pytest.skip("Django reads CONTENT_LENGTH bytes of the body: no chunked uploads")
    payload = {"items": list(range(2000)), "label": "é" * 100}
    encoded = json.dumps(payload).encode()

    def pieces():
        for start in range(0, len(encoded), 1000):
            yield encoded[start : start + 1000]

    response = requests.post(
        f"{site.url}/api/echo",
        data=pieces(),
        headers={"Content-Type": "application/json"},
        timeout=TIMEOUT,
    )
    assert response.request.headers["Transfer-Encoding"] == "chunked"
    assert response.status_code == 200
    data = response.json()
    assert data["received"] == payload
    assert data["content_length"] is None
    site.assert_log_clean()


# -- request bodies the way networks deliver them -----------------------------


def test_json_body_in_two_packets(site):
    """Django reads request.body with one read(CONTENT_LENGTH): it must get it all."""
    body = json.dumps({"name": "Zoë", "numbers": [1, 2, 3]}).encode()
    raw = send_in_two_packets(
        site, post_head("/api/echo", "application/json", len(body)), body, split=10
    )
    status, _, response_body = split_response(raw)
    assert status == "HTTP/1.1 200 OK", raw
    assert json.loads(response_body)["received"] == {"name": "Zoë", "numbers": [1, 2, 3]}
    site.assert_log_clean()


def test_urlencoded_form_in_two_packets(site):
    body = b"first=1&second=two&third=3"
    raw = send_in_two_packets(
        site,
        post_head("/form", "application/x-www-form-urlencoded", len(body)),
        body,
        split=12,
    )
    status, _, response_body = split_response(raw)
    assert status == "HTTP/1.1 200 OK", raw
    assert json.loads(response_body)["fields"] == {
        "first": ["1"],
        "second": ["two"],
        "third": ["3"],
    }
    site.assert_log_clean()


def test_json_api_with_a_large_body(site):
    """A 1 MB JSON body is more than one recv() of the server."""
    payload = {"rows": [{"id": number, "name": f"row {number}"} for number in range(30000)]}
    response = requests.post(f"{site.url}/api/echo", json=payload, timeout=TIMEOUT)
    assert response.status_code == 200, response.text[:200]
    assert response.json()["received"] == payload
    site.assert_log_clean()


def test_upload_with_expect_100_continue(site):
    """curl sends `Expect: 100-continue` for uploads over 1 KB and waits for the go-ahead."""
    boundary = "glade-boundary"
    upload = os.urandom(50_000)
    body = (
        (
            f"--{boundary}\r\n"
            'Content-Disposition: form-data; name="upload"; filename="data.bin"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        + upload
        + f"\r\n--{boundary}--\r\n".encode()
    )
    head = post_head(
        "/form",
        f"multipart/form-data; boundary={boundary}",
        len(body),
        "Expect: 100-continue",
    )
    with site.server.connect(TIMEOUT) as sock:
        sock.sendall(head)
        interim = sock.recv(1024)
        assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(body)
        raw = read_until_close(sock, TIMEOUT)
    status, _, response_body = split_response(raw)
    assert status == "HTTP/1.1 200 OK", raw
    assert json.loads(response_body)["files"]["upload"]["sha256"] == sha256(upload)
    site.assert_log_clean()


def test_refused_upload_is_answered_before_the_body_is_sent(site):
    """A view that refuses a POST without reading it: no 100 Continue, and a final answer.

    Flask answers 405 (GET-only view), Django 403 (CSRF-protected view).
    """
    head = post_head("/hello", "application/octet-stream", 10_000_000, "Expect: 100-continue")
    with site.server.connect(TIMEOUT) as sock:
        sock.sendall(head)
        raw = read_until_close(sock, TIMEOUT)  # the server closes: it never got the body
    status, headers, _ = split_response(raw)
    expected = "405 METHOD NOT ALLOWED" if site.framework == "flask" else "403 Forbidden"
    assert status == f"HTTP/1.1 {expected}", raw
    assert b"100 Continue" not in raw
    assert headers["connection"] == "close"
    site.assert_log_clean()


def test_whole_body_read_at_once(site):
    """Werkzeug's get_data() reads an 8 MB body with one wsgi.input.read()."""
    if site.framework == "django":
        pytest.skip("Django refuses bodies over DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MB)")
    body = os.urandom(8 * 1024 * 1024)
    response = requests.post(f"{site.url}/api/size", data=body, timeout=TIMEOUT)
    assert response.status_code == 200
    assert response.json() == {"size": len(body), "sha256": sha256(body)}
    site.assert_log_clean()


# -- streaming -------------------------------------------------------------------


def test_stream_is_chunked_and_arrives_as_it_is_produced(site):
    count, delay = 4, 0.15
    with requests.get(
        f"{site.url}/stream", params={"count": count, "delay": delay}, stream=True, timeout=TIMEOUT
    ) as response:
        assert response.status_code == 200
        assert response.headers["Transfer-Encoding"] == "chunked"
        assert "Content-Length" not in response.headers
        assert response.headers["Content-Type"].startswith("text/plain")
        assert_connection_header(site, response)
        pieces = response.iter_content(chunk_size=None)
        first = next(pieces)
        first_received_at = time.monotonic()
        body = first + b"".join(pieces)
    lines = body.decode().splitlines()
    assert [line.split(" at ")[0] for line in lines] == [
        f"/stream line {number}" for number in range(count)
    ]
    last_produced_at = float(lines[-1].split(" at ")[1])
    # CLOCK_MONOTONIC is system-wide: the client held the first line before
    # the app produced the last one, so nothing buffered the whole body.
    assert first_received_at < last_produced_at, (first_received_at, lines)
    site.assert_log_clean()


def test_stream_over_http10_is_close_delimited(site):
    """No chunked encoding for an HTTP/1.0 client: the body ends with the connection."""
    raw = site.server.raw(
        b"GET /stream?count=3 HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n", timeout=TIMEOUT
    )
    status, headers, body = split_response(raw)
    assert status == "HTTP/1.1 200 OK"
    assert "transfer-encoding" not in headers
    assert "content-length" not in headers
    assert headers["connection"] == "close"
    lines = body.decode().splitlines()
    assert [line.split(" at ")[0] for line in lines] == [f"/stream line {n}" for n in range(3)]
    site.assert_log_clean()


# -- files through wsgi.file_wrapper -------------------------------------------


def test_static_file(site):
    response = requests.get(f"{site.url}/static/hello.txt", timeout=TIMEOUT)
    assert response.status_code == 200
    assert response.content == HELLO_TXT
    assert response.headers["Content-Length"] == str(len(HELLO_TXT))
    assert response.headers["Content-Type"].startswith("text/plain")
    assert "Transfer-Encoding" not in response.headers
    assert_connection_header(site, response)
    site.assert_log_clean()


def test_static_file_head(site):
    response = requests.head(f"{site.url}/static/hello.txt", timeout=TIMEOUT)
    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["Content-Length"] == str(len(HELLO_TXT))
    # The connection is still usable (gevent) after a HEAD: no stray body bytes.
    raw = site.server.raw(
        b"HEAD /static/hello.txt HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
        b"GET /hello HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
        timeout=TIMEOUT,
    )
    if site.worker == "gevent":
        first, _, second = raw.partition(b"\r\n\r\n")
        assert b"Content-Length: 5400" in first
        assert second.startswith(b"HTTP/1.1 200 OK\r\n"), raw
        assert second.endswith(b"Hello from " + site.framework.capitalize().encode() + b"\n")
    else:
        assert raw.count(b"HTTP/1.1 ") == 1  # one request per connection
        assert raw.endswith(b"\r\n\r\n")
    site.assert_log_clean()


def test_static_file_range_and_conditional_get(site):
    """Werkzeug answers Range and If-None-Match itself; Glade must frame its answers."""
    if site.framework == "django":
        pytest.skip("Django's FileResponse has no Range or ETag support")
    url = f"{site.url}/static/hello.txt"
    partial = requests.get(url, headers={"Range": "bytes=100-199"}, timeout=TIMEOUT)
    assert partial.status_code == 206
    assert partial.content == HELLO_TXT[100:200]
    assert partial.headers["Content-Length"] == "100"
    assert partial.headers["Content-Range"] == f"bytes 100-199/{len(HELLO_TXT)}"
    etag = partial.headers["ETag"]
    cached = requests.get(url, headers={"If-None-Match": etag}, timeout=TIMEOUT)
    assert cached.status_code == 304
    assert cached.content == b""
    site.assert_log_clean()


def test_generated_download(site):
    """A BytesIO has no file descriptor: Glade iterates the file_wrapper instead."""
    response = requests.get(f"{site.url}/generated", timeout=TIMEOUT)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/csv")
    assert response.headers["Content-Disposition"].startswith("attachment; filename=")
    assert "report.csv" in response.headers["Content-Disposition"]
    assert response.headers["Content-Length"] == str(len(response.content))
    lines = response.text.splitlines()
    assert lines[0] == "number,square,label"
    assert lines[-1] == "4999,24990001,row 4999"
    assert len(lines) == 5001
    site.assert_log_clean()


def test_big_file(site):
    response = requests.get(f"{site.url}/big", timeout=TIMEOUT)
    assert response.status_code == 200
    assert response.headers["Content-Length"] == str(site.big_file.stat().st_size)
    assert response.headers["Content-Type"] == "application/octet-stream"
    assert "Transfer-Encoding" not in response.headers
    assert response.content == site.big_file.read_bytes()
    site.assert_log_clean()


def test_big_file_is_sent_with_os_sendfile(site):
    """With os.sendfile the file never passes through Python: zero bytes read().

    The app serves /big from a CountingFile (apps/common.py); /reads
    returns the bytes its worker read through Python so far.
    """
    before = requests.get(f"{site.url}/reads", timeout=TIMEOUT).json()["bytes_read"]
    response = requests.get(f"{site.url}/big", timeout=TIMEOUT)
    assert response.status_code == 200
    assert response.content == site.big_file.read_bytes()
    after = requests.get(f"{site.url}/reads", timeout=TIMEOUT).json()["bytes_read"]
    site.assert_log_clean()
    assert after - before == 0
