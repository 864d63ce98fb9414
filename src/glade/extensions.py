"""Glade's hot path, compiled: which modules are, and which of them run so.

The modules in COMPILED are plain Python, but for two C bindings (see
COMPILED). Installed on a machine with a C compiler, each is also compiled
with Cython (setup.py) into an extension module beside its source, which
Python's import prefers; without a compiler, the install still succeeds
and the same source runs. Nothing else in Glade knows the difference, but
for the two modules that import a binding or do without it (the parser:
llhttp or httptools; the serving loop: the gevent socket calls in C or the
socket's own methods).

`install()`, called once by `import glade`, decides, for all of them at
once (they import each other's C types, so they run compiled together or
not at all):

- `GLADE_NO_EXTENSIONS=1` (any non-empty value but 0): the source runs,
  compiled or not, for tests and for telling a bug of the compiler's from
  one of Glade's;
- when one extension was built from another version of its source (an
  edit since the last build, in a clone), or one is missing (it failed to
  compile), the source runs, so an edit is never shadowed by a stale
  build; `make` rebuilds;
- otherwise the extensions run.

Classes a request passes through (and build_environ's locals) get C types
from a `.pxd` file beside their module (Cython's "augmenting .pxd"): the
source stays plain Python.
Each build leaves the SHA-256 of the source and .pxd it compiled beside the
extension (`parser.cpython-311-x86_64-linux-gnu.so.sha256`): that is how a
stale one is told apart, for one read and one hash per module at import.
"""

from __future__ import annotations

import hashlib
import importlib.machinery
import importlib.util
import os
import sys
from pathlib import Path

# The modules every request passes through, compiled when a C compiler is
# there: the sans-IO HTTP code and the WSGI layer, where the CPU goes. The
# serving loop (workers/connection.py) stays interpreted: it is where a
# greenlet waits, and compiled frames there would deepen the C stack each
# greenlet switch copies and hide the loop's frames from the stacks Glade
# logs (a stuck worker, --request-timeout), for a gain too small to measure
# (compiled as it is, its 49,000 instructions per keep-alive request became
# 48,000). Two of them have no pure-Python form: glade.http.llhttp binds
# llhttp (vendored in vendor/llhttp) for the compiled parser, whose source
# uses httptools instead; glade.workers.gevent_io does a gevent socket's
# recv and send in C, where the source calls the socket's own methods.
# setup.py reads this tuple (with runpy: this module imports only the
# standard library), so that it is declared here once.
COMPILED = (
    "glade.http.connection",
    "glade.http.head_meter",
    "glade.http.llhttp",
    "glade.http.parser",
    "glade.http.response",
    "glade.workers.gevent_io",
    "glade.wsgi.environ",
    "glade.wsgi.input",
    "glade.wsgi.proxy",
    "glade.wsgi.response",
)
DISABLE_VARIABLE = "GLADE_NO_EXTENSIONS"
HASH_SUFFIX = ".sha256"


def disabled() -> bool:
    return os.environ.get(DISABLE_VARIABLE, "") not in ("", "0")


def source_hash(source: Path) -> str:
    """The SHA-256 of a module's source and of its .pxd (the C types Cython
    gives its classes), if it has one: what its extension was built from."""
    digest = hashlib.sha256(source.read_bytes())
    declarations = source.with_suffix(".pxd")
    if declarations.is_file():
        digest.update(declarations.read_bytes())
    return digest.hexdigest()


PACKAGE_DIR = Path(os.path.dirname(os.path.abspath(__file__)))
# Where Glade's own code is, as a frame's co_filename gives it: the package's
# directory, and for a compiled module the path Cython kept from the build
# (relative: setup.py compiles from the repository's root). Tracebacks and
# stacks shown to users start at the app's code, after these.
GLADE_CODE = (os.path.join(PACKAGE_DIR, ""), os.path.join("src", "glade", ""))


def source_of(fullname: str, package_dir: Path = PACKAGE_DIR) -> Path:
    """A compiled module's source: its .py, or its .pyx if it is compiled only."""
    source = package_dir.joinpath(*fullname.split(".")[1:]).with_suffix(".py")
    if not source.is_file() and source.with_suffix(".pyx").is_file():
        return source.with_suffix(".pyx")
    return source


def _files(fullname: str) -> tuple[Path, Path | None]:
    """A compiled module's source, and its extension if there is one."""
    source = source_of(fullname)
    for suffix in importlib.machinery.EXTENSION_SUFFIXES:
        extension = source.with_suffix(suffix)
        if extension.is_file():
            return source, extension
    return source, None


def _state(fullname: str) -> str:
    """How a compiled module's files stand: "compiled" (its extension is
    current), "stale" (built from another source), "missing" (no extension)
    or "disabled" (GLADE_NO_EXTENSIONS)."""
    source, extension = _files(fullname)
    if extension is None:
        return "missing"
    if disabled():
        return "disabled"
    if not source.is_file():
        return "compiled"  # an install that ships the extensions alone
    try:
        built_from = extension.with_name(extension.name + HASH_SUFFIX).read_text().strip()
    except OSError:
        return "stale"
    return "compiled" if built_from == source_hash(source) else "stale"


class _Chooser:
    """A meta path finder for the modules in COMPILED only.

    All of them run compiled, or none does: a compiled module reads the C
    layout of the classes of those it imports (connection.pxd cimports
    parser.pxd), which their source's classes do not have. So when any one
    cannot run compiled, each runs from its source; otherwise Python's own
    import finds the extensions. Decided once, at the first import of one
    of them.
    """

    def __init__(self) -> None:
        self._states: dict[str, str] | None = None

    def states(self) -> dict[str, str]:
        if self._states is None:
            self._states = {fullname: _state(fullname) for fullname in COMPILED}
        return self._states

    def find_spec(self, fullname, path, target=None):
        if fullname not in COMPILED or in_use():
            return None
        source = _files(fullname)[0]
        if source.suffix != ".py":
            raise ImportError(f"{fullname} runs compiled only; the compiled modules are not in use")
        return importlib.util.spec_from_file_location(fullname, source)

    def invalidate_caches(self) -> None:
        pass


_chooser = _Chooser()


def install() -> None:
    """Put the chooser first on sys.meta_path, once per process."""
    if _chooser not in sys.meta_path:
        sys.meta_path.insert(0, _chooser)


def states() -> dict[str, str]:
    """How each module in COMPILED stands (see _state)."""
    return dict(_chooser.states())


def in_use() -> bool:
    """The compiled modules run: every one is "compiled"."""
    return all(state == "compiled" for state in _chooser.states().values())


def summary() -> tuple[bool, str]:
    """(a warning?, one line) on how Glade's hot path runs, for the startup log."""
    if disabled():
        return False, f"compiled extensions: not used ({DISABLE_VARIABLE} is set): pure Python"
    if in_use():
        return False, "compiled extensions: in use"
    found = states()
    stale = sorted(name for name, state in found.items() if state == "stale")
    if stale and "missing" not in found.values():
        return True, (
            f"compiled extensions: {', '.join(stale)} built from an older source, so the "
            "hot path runs as pure Python until rebuilt: pip install -e . (or make)"
        )
    return True, (
        "compiled extensions: not built (no C compiler at install?): running as pure "
        "Python; see docs/benchmarks.md"
    )
