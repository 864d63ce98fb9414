# cython: language_level=3
"""llhttp bound for Glade's compiled parser: httptools' interface, C calls.

The compiled RequestParser (parser.py) uses this in place of
`httptools.HttpRequestParser`; its pure-Python form keeps httptools. Both
drive the same llhttp (this one vendored in vendor/llhttp) and present the
same things to RequestParser: the same callbacks, called at the same
moments (a header is handed over when the next one starts, or the head or a
chunk ends, as httptools does), the same queries and the same exceptions
with the same messages. tests/unit/http/test_llhttp_binding.py checks that
both make the same callbacks and give the same events for the same bytes,
however they are split.

What it saves is the cost of httptools' generality, paid per request: a
bound method looked up for each callback of each new parser, and a Python
call for each callback. Here the callbacks are C calls into RequestParser's
cpdef methods, the settings are one static struct, and llhttp's state lives
inside this object.
"""

cimport cython
from cpython.buffer cimport PyBUF_SIMPLE, PyBuffer_Release, PyObject_GetBuffer
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_CheckExact, PyBytes_GET_SIZE
from libc.stdint cimport uint8_t

import httptools


# The exceptions are httptools': parser.py catches them from either parser.
HttpParserError = httptools.HttpParserError
HttpParserCallbackError = httptools.HttpParserCallbackError
HttpParserInvalidMethodError = httptools.HttpParserInvalidMethodError
HttpParserInvalidURLError = httptools.HttpParserInvalidURLError
HttpParserUpgrade = httptools.HttpParserUpgrade

# get_http_version()'s answers for the versions nearly every request has,
# made once.
cdef str _HTTP_11 = "1.1"
cdef str _HTTP_10 = "1.0"

# get_method()'s answers, one bytes object per method llhttp knows, made on
# first use: a request pays a list read, not an allocation.
cdef list _method_names = [None] * 256


# Its callbacks call `_owner` unchecked: the garbage collector must never set
# it to None (the owner's own clearing breaks their cycle).
@cython.no_gc_clear
cdef class LLHTTPRequestParser:
    """One connection's llhttp parser, reporting to its RequestParser."""

    def __cinit__(self, RequestParser owner not None):
        llhttp_init(&self._parser, HTTP_REQUEST, &_settings)
        self._parser.data = <void*>self
        self._owner = owner

    def set_dangerous_leniencies(self, lenient_version=None, lenient_spaces_after_chunk_size=None):
        """The two of httptools' leniencies parser.py uses, by the same names
        (any other is a TypeError)."""
        if lenient_version is not None:
            llhttp_set_lenient_version(&self._parser, lenient_version)
        if lenient_spaces_after_chunk_size is not None:
            llhttp_set_lenient_spaces_after_chunk_size(
                &self._parser, lenient_spaces_after_chunk_size
            )

    cpdef get_http_version(self):
        cdef uint8_t major = self._parser.http_major
        cdef uint8_t minor = self._parser.http_minor
        if major == 1:
            if minor == 1:
                return _HTTP_11
            if minor == 0:
                return _HTTP_10
        return f"{major}.{minor}"

    cpdef get_method(self):
        cdef uint8_t method = self._parser.method
        name = _method_names[method]
        if name is None:
            name = _method_names[method] = <bytes>llhttp_method_name(method)
        return name

    cpdef should_keep_alive(self):
        return bool(llhttp_should_keep_alive(&self._parser))

    cpdef should_upgrade(self):
        return bool(self._parser.upgrade)

    cpdef feed_data(self, data):
        cdef Py_buffer view
        cdef const char* start
        cdef llhttp_errno_t error
        cdef Py_ssize_t parsed = -1  # where an upgrade's bytes end
        if PyBytes_CheckExact(data):
            start = PyBytes_AS_STRING(data)
            error = llhttp_execute(&self._parser, start, <size_t>PyBytes_GET_SIZE(data))
            if error == HPE_PAUSED_UPGRADE:
                parsed = llhttp_get_error_pos(&self._parser) - start
        else:
            PyObject_GetBuffer(data, &view, PyBUF_SIMPLE)
            try:
                start = <const char*>view.buf
                error = llhttp_execute(&self._parser, start, <size_t>view.len)
                if error == HPE_PAUSED_UPGRADE:
                    parsed = llhttp_get_error_pos(&self._parser) - start
            finally:
                PyBuffer_Release(&view)
        if error == HPE_OK:
            return
        if error == HPE_PAUSED_UPGRADE and self._parser.upgrade == 1:
            # As httptools does: the parser is free again at once, and the
            # exception says where the request's bytes end.
            llhttp_resume_after_upgrade(&self._parser)
            raise HttpParserUpgrade(parsed)
        exception = _error_for(&self._parser, error)
        if self._callback_error is not None:
            # What a callback raised, as httptools chains it: for a bug's trace.
            if isinstance(exception, HttpParserCallbackError):
                exception.__context__ = self._callback_error
            self._callback_error = None
        raise exception

    cdef int _hand_over_header(self) except -1:
        if self._value is not None:
            name, value = self._name, self._value
            self._name = self._value = None
            self._owner.on_header(name, value)
        return 0


cdef object _error_for(llhttp_t* parser, llhttp_errno_t error):
    reason = (<bytes>llhttp_get_error_reason(parser)).decode("latin-1")
    if error in (
        HPE_CB_MESSAGE_BEGIN,
        HPE_CB_HEADERS_COMPLETE,
        HPE_CB_MESSAGE_COMPLETE,
        HPE_CB_CHUNK_HEADER,
        HPE_CB_CHUNK_COMPLETE,
        HPE_USER,
    ):
        return HttpParserCallbackError(reason)
    if error == HPE_INVALID_METHOD:
        return HttpParserInvalidMethodError(reason)
    if error == HPE_INVALID_URL:
        return HttpParserInvalidURLError(reason)
    return HttpParserError(reason)


# llhttp's callbacks. An exception from RequestParser stops llhttp with
# httptools' error code and reason, and is kept to be chained to the error
# feed_data() raises, as httptools does.

cdef inline LLHTTPRequestParser _of(llhttp_t* parser):
    return <LLHTTPRequestParser>parser.data


cdef int _on_message_begin(llhttp_t* parser) noexcept:
    cdef LLHTTPRequestParser self = _of(parser)
    try:
        self._owner.on_message_begin()
    except BaseException as error:
        self._callback_error = error
        return -1
    return 0


cdef int _on_url(llhttp_t* parser, const char* at, size_t length) noexcept:
    cdef LLHTTPRequestParser self = _of(parser)
    try:
        self._owner.on_url(at[:length])
    except BaseException as error:
        self._callback_error = error
        llhttp_set_error_reason(parser, "`on_url` callback error")
        return HPE_USER
    return 0


cdef int _on_header_field(llhttp_t* parser, const char* at, size_t length) noexcept:
    cdef LLHTTPRequestParser self = _of(parser)
    try:
        self._hand_over_header()
        if self._name is None:
            self._name = at[:length]
        else:
            self._name += at[:length]
    except BaseException as error:
        self._callback_error = error
        llhttp_set_error_reason(parser, "`on_header_field` callback error")
        return HPE_USER
    return 0


cdef int _on_header_value(llhttp_t* parser, const char* at, size_t length) noexcept:
    cdef LLHTTPRequestParser self = _of(parser)
    try:
        if self._value is None:
            self._value = at[:length]
        else:
            self._value += at[:length]
    except BaseException as error:
        self._callback_error = error
        llhttp_set_error_reason(parser, "`on_header_value` callback error")
        return HPE_USER
    return 0


cdef int _on_headers_complete(llhttp_t* parser) noexcept:
    cdef LLHTTPRequestParser self = _of(parser)
    try:
        self._hand_over_header()
        self._owner.on_headers_complete()
    except BaseException as error:
        self._callback_error = error
        return -1
    # As httptools: an Upgrade request's body is not read (parser.py reads it).
    return 1 if parser.upgrade else 0


cdef int _on_body(llhttp_t* parser, const char* at, size_t length) noexcept:
    cdef LLHTTPRequestParser self = _of(parser)
    try:
        self._owner.on_body(at[:length])
    except BaseException as error:
        self._callback_error = error
        llhttp_set_error_reason(parser, "`on_body` callback error")
        return HPE_USER
    return 0


cdef int _on_message_complete(llhttp_t* parser) noexcept:
    cdef LLHTTPRequestParser self = _of(parser)
    try:
        self._owner.on_message_complete()
    except BaseException as error:
        self._callback_error = error
        return -1
    return 0


cdef int _on_chunk_header(llhttp_t* parser) noexcept:
    cdef LLHTTPRequestParser self = _of(parser)
    try:
        if self._name is not None or self._value is not None:
            raise HttpParserError("invalid headers state")  # as httptools
        self._owner.on_chunk_header()
    except BaseException as error:
        self._callback_error = error
        return -1
    return 0


cdef int _on_chunk_complete(llhttp_t* parser) noexcept:
    cdef LLHTTPRequestParser self = _of(parser)
    try:
        self._hand_over_header()
        self._owner.on_chunk_complete()
    except BaseException as error:
        self._callback_error = error
        return -1
    return 0


# One set of callbacks for every parser (llhttp reads it, never writes it).
cdef llhttp_settings_t _settings
llhttp_settings_init(&_settings)
_settings.on_message_begin = _on_message_begin
_settings.on_url = _on_url
_settings.on_header_field = _on_header_field
_settings.on_header_value = _on_header_value
_settings.on_headers_complete = _on_headers_complete
_settings.on_body = _on_body
_settings.on_message_complete = _on_message_complete
_settings.on_chunk_header = _on_chunk_header
_settings.on_chunk_complete = _on_chunk_complete
