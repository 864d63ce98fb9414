# C types for the locals of environ.py's build_environ, used when Cython
# compiles it (see src/glade/extensions.py); the .py itself stays plain Python.
# Typed, the environ's stores and the bytes' decodes are direct C calls
# instead of lookups by name.

cimport cython

from glade.http.parser cimport Request

@cython.locals(
    environ=dict, target=bytes, path=bytes, query=bytes, path_info=str, script_name=str,
    value=bytes, text=str,
)
cpdef dict build_environ(dict template, Request request, object remote, object wsgi_input)
