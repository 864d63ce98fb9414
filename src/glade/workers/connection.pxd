# C types for the classes of connection.py, used when Cython compiles it (see
# src/glade/extensions.py); the .py itself stays plain Python. Attributes are
# public: the rest of Glade and the tests read them from Python.

from glade.http.connection cimport HTTPConnection

cdef class Connection:
    cdef public Py_ssize_t _head_received
    cdef public object app_deadline  # compared by identity: see gevent_serving._end_request
    cdef public object deadline
    cdef public object environ_template
    cdef public bint expired
    cdef public double head_since
    cdef public HTTPConnection http
    cdef public double idle_since
    cdef public object options
    cdef public object remote
    cdef public object request_alarm
    cdef public object server
    cdef public object sock
    cdef public object task
    cdef public bint writing
    cdef public Py_ssize_t written
