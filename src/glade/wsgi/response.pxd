# C types for the classes of response.py, used when Cython compiles it (see
# src/glade/extensions.py); the .py itself stays plain Python. Attributes are
# public: the rest of Glade and the tests read them from Python.

from glade.http.connection cimport HTTPConnection

cdef class ResponseWriter:
    cdef public bint _app_close
    cdef public object _content_length
    cdef public object _head
    cdef public HTTPConnection _http
    cdef public list _lines
    cdef public object _send
    cdef public object _sendfile
    cdef public object _server
    cdef public int _status_code
    cdef public object headers
    cdef public object status
