# cython: language_level=3
"""recv and send on a gevent socket, as gevent does them, in C.

A gevent socket's recv() and send() are Python code around the real
socket's: try the call, and if the kernel says EAGAIN, wait for the socket
in the event loop and try again. Under keep-alive load that EAGAIN is the
common case: a connection asks for its client's next request just after
answering the last one, before the client could send it. Each one costs
Python an OSError (with the message decoded from the C library), its
traceback, the `except` that inspects it and gevent's Python frame, on top
of what the real socket's method does each time (parse its arguments,
allocate a 64 KiB bytes object and shrink it, release the GIL and take it
back): together, a quarter of the worker's CPU per small keep-alive request
(docs/benchmarks.md, the sixth pass). Here the same
steps are C: a non-blocking recv(2) or send(2) whose EAGAIN is a number,
and, for the wait, the socket's own `_wait` on its own watcher, the very
call gevent's recv() and send() make (so a close from another greenlet, a
shutdown by the sweeper, a thrown timeout or a kill end the wait exactly
as they end gevent's).

Used by the serving loop (workers/connection.py) for the plain TCP sockets
of a gevent process whose waits the sweeper bounds (no socket timeout);
TLS sockets and the sync worker keep their sockets' own methods, and so
does the pure-Python form of Glade, which has no C to call.
"""

import os

from cpython.buffer cimport PyBUF_SIMPLE, PyBuffer_Release, PyObject_GetBuffer
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_CheckExact, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.exc cimport PyErr_CheckSignals
from libc.errno cimport EAGAIN, EINTR, errno


cdef extern from "<errno.h>":
    enum:
        EWOULDBLOCK  # EAGAIN on Linux; not on every system


cdef extern from *:
    """
    #include <sys/socket.h>
    /* Python ignores SIGPIPE anyway: where there is no such flag, none is needed. */
    #ifndef MSG_NOSIGNAL
    #define MSG_NOSIGNAL 0
    #endif
    """
    ssize_t c_recv "recv" (int fd, void *buffer, size_t length, int flags) nogil
    ssize_t c_send "send" (int fd, const void *buffer, size_t length, int flags) nogil
    enum:
        MSG_DONTWAIT
        MSG_NOSIGNAL


# What a recv reads into before its bytes are copied out at their size: one
# buffer per process, which no greenlet can hold across a switch (nothing
# between the recv and the copy lets another run).
cdef enum:
    BUFFER_SIZE = 65536
cdef char _buffer[BUFFER_SIZE]


cdef int _fileno(sock) except? -2:
    # The real socket's descriptor, asked on every call: after a close it
    # is -1 (gevent's closed socket), never a number reused by another.
    return sock._sock.fileno()


cdef int _retry_or_raise(int error) except -1:
    """0 to wait and retry (EAGAIN) or retry at once (EINTR, after the
    signal handlers ran); raises the call's OSError otherwise."""
    if error == EAGAIN:
        return 0
    if error == EWOULDBLOCK:  # a separate test: the same number on Linux
        return 0
    if error == EINTR:
        if PyErr_CheckSignals() < 0:
            return -1
        return 1
    raise OSError(error, os.strerror(error))  # the errno's subclass, as the socket's own


def recv(sock, Py_ssize_t size):
    """`sock.recv(size)` for a gevent socket: up to `size` bytes (at most
    64 KiB), b"" at the end of the stream, an OSError on failure."""
    cdef ssize_t got
    cdef int error
    if size < 0:
        raise ValueError("negative buffersize in recv")
    if size > BUFFER_SIZE:
        size = BUFFER_SIZE
    while True:
        got = c_recv(_fileno(sock), _buffer, <size_t>size, MSG_DONTWAIT)
        if got >= 0:
            return PyBytes_FromStringAndSize(_buffer, got)
        error = errno
        if _retry_or_raise(error) == 0:
            sock._wait(sock._read_event)


def send(sock, data, Py_ssize_t start=0):
    """`sock.send(data[start:])` for a gevent socket: how many of those bytes
    went out (at least one: it waits while the send buffer is full), an
    OSError on failure. `data` is bytes or any contiguous buffer."""
    cdef Py_buffer view
    cdef const char *pointer
    cdef Py_ssize_t length
    cdef ssize_t sent
    cdef int error
    cdef bint held = False
    if PyBytes_CheckExact(data):
        pointer = PyBytes_AS_STRING(data)
        length = PyBytes_GET_SIZE(data)
    else:
        # Held until the send is done: the exporter (a bytearray) cannot
        # resize it meanwhile.
        PyObject_GetBuffer(data, &view, PyBUF_SIMPLE)
        held = True
        pointer = <const char *>view.buf
        length = view.len
    try:
        if start < 0 or start > length:
            raise ValueError(f"send() from offset {start} of {length} bytes")
        while True:
            sent = c_send(
                _fileno(sock), pointer + start, <size_t>(length - start), MSG_DONTWAIT | MSG_NOSIGNAL
            )
            if sent >= 0:
                return sent
            error = errno
            if _retry_or_raise(error) == 0:
                sock._wait(sock._write_event)
    finally:
        if held:
            PyBuffer_Release(&view)
