# C types for the classes of parser.py, used when Cython compiles it (see
# src/glade/extensions.py); the .py itself stays plain Python. Attributes are
# public: the rest of Glade and the tests read them from Python.

cimport cython

from glade.http.llhttp cimport LLHTTPRequestParser

cdef class Request:
    cdef public object method, target, http_version, headers, content_length
    cdef public bint keep_alive, expect_continue, chunked, has_body, upgrade

cdef class Body:
    cdef public object data

cdef class RequestParser:
    cdef public object limits
    cdef public Py_ssize_t _max_line
    cdef public Py_ssize_t _max_field
    cdef public Py_ssize_t _max_fields
    cdef public LLHTTPRequestParser _parser
    cdef public list _events
    cdef public Py_ssize_t _next_index
    cdef public int _state
    cdef public bint _dead
    cdef public object _meter
    cdef public Py_ssize_t _head_limit
    cdef public int _head_from
    cdef public Py_ssize_t _line_bytes
    cdef public int _line_start
    cdef public bint _completed_in_feed
    cdef public bint _in_trailers
    cdef public object _callback_error
    cdef public bytes _url
    cdef public list _headers
    cdef public Py_ssize_t _host_count
    cdef public object _host
    cdef public Py_ssize_t _fields_size
    cdef public object _content_length
    cdef public list _transfer_encoding
    cdef public list _expect
    cdef public object _body_size
    cdef public Py_ssize_t _trailer_count
    cdef public object _upgrade_body
    cdef public int _upgrade_stage

    cpdef next_event(self)
    cpdef _reset_head(self)

    # llhttp's callbacks: C calls from llhttp.pyx, with llhttp's bytes.
    cpdef on_message_begin(self)
    cpdef on_url(self, bytes url)
    @cython.locals(size=Py_ssize_t, max_field=Py_ssize_t, max_fields=Py_ssize_t)
    cpdef on_header(self, bytes name, bytes value)
    cpdef on_headers_complete(self)
    cpdef on_body(self, bytes body)
    cpdef on_chunk_header(self)
    cpdef on_chunk_complete(self)
    cpdef on_message_complete(self)
