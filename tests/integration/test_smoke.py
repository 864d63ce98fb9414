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
