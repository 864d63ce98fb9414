# C types for the classes of input.py, used when Cython compiles it (see
# src/glade/extensions.py); the .py itself stays plain Python. Attributes are
# public: the rest of Glade and the tests read them from Python.

cdef class InputStream:
    cdef public object _buffer
    cdef public bint _done
    cdef public Py_ssize_t _pos
    cdef public object _pull
