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
    is imported, so gevent never has a reason to warn."""
    server = glade_server("validated:app", "-w", "2", env={"PYTHONWARNINGS": "always"})
    connection = http.client.HTTPConnection(server.host, server.port, timeout=10)
    connection.request("GET", "/")
    assert connection.getresponse().status == 200
    connection.close()
    server.signal(signal.SIGTERM)
    assert server.wait(timeout=10) == 0
    assert "MonkeyPatchWarning" not in server.output()
