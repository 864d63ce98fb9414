# C types for the locals of environ.py's build_environ, used when Cython
# compiles it (see src/glade/extensions.py); the .py itself stays plain Python.
# Typed, the environ's stores and the bytes' decodes are direct C calls
# instead of lookups by name. Its callers pass a plain dict (the template)
# and the parser's Request, whose target and header values are plain bytes.
# `request` stays an object: a C-typed argument may be None, and Cython
# would not check it before reading its fields.

cimport cython

@cython.locals(
    environ=dict, target=bytes, path=bytes, query=bytes, path_info=str, script_name=str,
    value=bytes, text=str, known_keys=dict,
)
cpdef dict build_environ(dict template, object request, object remote, object wsgi_input)
