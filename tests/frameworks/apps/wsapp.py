"""WebSockets on Glade's gevent worker, through the libraries people use:
Flask-SocketIO (python-socketio and python-engineio, on simple-websocket)
and Flask-Sock (simple-websocket). Both take the connection's socket from
`environ["gunicorn.socket"]`."""

from __future__ import annotations

from flask import Flask
from flask_sock import Sock
from flask_socketio import SocketIO, emit

app = Flask(__name__)
socketio = SocketIO(app, async_mode="gevent")
sock = Sock(app)


@socketio.on("echo")
def echo(data):
    emit("echo", data)


@app.route("/broadcast/<text>")
def broadcast(text: str):
    # From a plain HTTP request to every Socket.IO client of this worker.
    socketio.emit("news", text)
    return "sent"


@sock.route("/echo")
def plain_echo(ws):
    while True:
        ws.send(ws.receive())


@app.route("/")
def index():
    return "Hello, World!"
