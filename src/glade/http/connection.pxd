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

    # What the compiled response writer (wsgi/response.py) calls for every
    # response: declared cpdef, those calls are C calls instead of method
    # lookups by name with their arguments packed (750 instructions of a
    # small response's 49,000). Python callers see the same methods.
    cpdef bytes response_head(self, int status_code, list lines, content_length, known_length=*, bint close=*)
    cpdef tuple whole_response(self, int status_code, list lines, bytes body, content_length, bint close=*)
    cpdef bint _body_skippable(self)
    cpdef bytes response_body(self, bytes data)
    cpdef bytes end_response(self)
    cpdef _finish(self)
