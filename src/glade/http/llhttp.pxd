# llhttp's declarations, and the C type of Glade's binding (llhttp.pyx): the
# compiled parser (parser.pxd) holds one and queries it with C calls.

from libc.stdint cimport int32_t, uint8_t

from glade.http.parser cimport RequestParser


cdef extern from "llhttp.h":
    ctypedef struct llhttp_t:
        int32_t error
        void* data
        uint8_t method
        uint8_t http_major
        uint8_t http_minor
        uint8_t upgrade

    ctypedef int (*llhttp_data_cb)(llhttp_t*, const char*, size_t) noexcept
    ctypedef int (*llhttp_cb)(llhttp_t*) noexcept

    ctypedef struct llhttp_settings_t:
        llhttp_cb on_message_begin
        llhttp_data_cb on_url
        llhttp_data_cb on_header_field
        llhttp_data_cb on_header_value
        llhttp_cb on_headers_complete
        llhttp_data_cb on_body
        llhttp_cb on_message_complete
        llhttp_cb on_chunk_header
        llhttp_cb on_chunk_complete

    ctypedef enum llhttp_type_t:
        HTTP_REQUEST

    ctypedef enum llhttp_errno_t:
        HPE_OK
        HPE_INVALID_METHOD
        HPE_INVALID_URL
        HPE_CB_MESSAGE_BEGIN
        HPE_CB_HEADERS_COMPLETE
        HPE_CB_MESSAGE_COMPLETE
        HPE_CB_CHUNK_HEADER
        HPE_CB_CHUNK_COMPLETE
        HPE_PAUSED_UPGRADE
        HPE_USER

    ctypedef int llhttp_method_t

    void llhttp_settings_init(llhttp_settings_t* settings)
    void llhttp_init(llhttp_t* parser, llhttp_type_t type, const llhttp_settings_t* settings)
    llhttp_errno_t llhttp_execute(llhttp_t* parser, const char* data, size_t length)
    int llhttp_should_keep_alive(const llhttp_t* parser)
    void llhttp_resume_after_upgrade(llhttp_t* parser)
    const char* llhttp_get_error_reason(const llhttp_t* parser)
    void llhttp_set_error_reason(llhttp_t* parser, const char* reason)
    const char* llhttp_get_error_pos(const llhttp_t* parser)
    const char* llhttp_method_name(llhttp_method_t method)
    void llhttp_set_lenient_version(llhttp_t* parser, int enabled)
    void llhttp_set_lenient_spaces_after_chunk_size(llhttp_t* parser, int enabled)


cdef class LLHTTPRequestParser:
    cdef llhttp_t _parser
    cdef RequestParser _owner
    # The header being received, as httptools holds it: handed over when
    # the next header starts, or the head or a chunk ends.
    cdef bytes _name
    cdef bytes _value
    # What a callback raised, until feed_data() raises the error it caused.
    cdef object _callback_error

    cpdef get_http_version(self)
    cpdef get_method(self)
    cpdef should_keep_alive(self)
    cpdef should_upgrade(self)
    cpdef feed_data(self, data)
    cdef int _hand_over_header(self) except -1
