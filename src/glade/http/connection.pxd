# C types for the classes of connection.py, used when Cython compiles it (see
# src/glade/extensions.py); the .py itself stays plain Python. Attributes are
# public: the rest of Glade and the tests read them from Python.

from glade.http.parser cimport RequestParser

cdef class HTTPConnection:
    cdef public bint _body_allowed
    cdef public bint _chunked
    cdef public object _content_length
    cdef public Py_ssize_t _dropped
    cdef public bint _expects_continue
    cdef public RequestParser _parser
    cdef public Py_ssize_t _received
    cdef public bint _request_done
    cdef public Py_ssize_t bytes_sent
    cdef public bint head_sent
    cdef public bint keep_alive
    cdef public object phase
    cdef public object receive_data
    cdef public object request
    cdef public Py_ssize_t short_by
    cdef public int status_code
