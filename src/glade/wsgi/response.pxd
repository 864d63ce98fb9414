# C types for the classes of response.py, used when Cython compiles it (see
# src/glade/extensions.py); the .py itself stays plain Python. Attributes are
# public: the rest of Glade and the tests read them from Python.

from glade.http.connection cimport HTTPConnection
from glade.http.response cimport _DateHeader

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

    # The writer's own steps: C calls (see connection.pxd), and so not
    # attributes a subclass or a test can replace in the compiled build.
    cdef bytes _build_head(self, known_length)
    cdef _write_body(self, bytes data, known_length=*)
    cdef _send_head_with(self, bytes data)
    cdef _end(self)

# `headers` untyped: an app's list subclass is a list (start_response checks).
cpdef tuple _head_lines(bytes status_line, headers)

# The Date cache's own C type, so that every response's Date is a C call
# (http/response.pxd).
cdef _DateHeader date_header
