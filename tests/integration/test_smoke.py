"""The first thing a user does: start glade, get a response, stop it."""

import http.client
import signal


def test_serves_and_stops_cleanly(glade_server):
    server = glade_server("validated:app", "-w", "2")
    connection = http.client.HTTPConnection(server.host, server.port, timeout=10)
    connection.request("GET", "/")
    response = connection.getresponse()
    assert response.status == 200
    assert response.read() == b"Hello, World!"
    assert response.getheader("Server").startswith("glade/")
    connection.close()
    server.signal(signal.SIGTERM)
    assert server.wait(timeout=10) == 0
    assert server.tracebacks() == 0


def test_no_monkey_patch_warning_in_any_process(glade_server):
    """The master never imports gevent and each worker patches before the app
    is imported, so gevent never has a reason to warn; `ssl`, which the master
    imports to share its pages, is patched in place all the same."""
    server = glade_server("validated:app", "-w", "2", env={"PYTHONWARNINGS": "always"})
    connection = http.client.HTTPConnection(server.host, server.port, timeout=10)
    connection.request("GET", "/patched")
    response = connection.getresponse()
    assert response.status == 200
    patched = response.read().decode().split(",")
    expected = ["socket", "ssl", "select", "selectors", "time", "threading", "subprocess", "queue"]
    assert patched == [*expected, "ssl.SSLContext"]
    connection.close()
    server.signal(signal.SIGTERM)
    assert server.wait(timeout=10) == 0
    assert "MonkeyPatchWarning" not in server.output()
