# C types for response.py's per-second Date cache, used when Cython compiles
# it (see src/glade/extensions.py); the .py itself stays plain Python. Every
# response without the app's own Date calls it: as a C type, the call and its
# two attributes skip Python's generic lookups.

cimport cython

cdef class _DateHeader:
    cdef long long _second
    cdef bytes _header

    @cython.locals(now=cython.longlong)
    cpdef bytes current(self)
