"""Builds Glade's hot path with Cython when it can; everything else is in
pyproject.toml.

The modules named in src/glade/extensions.py (COMPILED) are plain Python,
compiled as they are (Cython's pure-Python mode). A build never fails for
want of a compiler: without one, or with GLADE_NO_EXTENSIONS=1 at install
time, Glade is installed as pure Python and says so in one line when it
starts. Each extension gets the SHA-256 of its source beside it, so that
an extension older than its source is never used (see extensions.py).
"""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = Path(__file__).resolve().parent
SOURCE_ROOT = HERE / "src"
extensions = runpy.run_path(str(SOURCE_ROOT / "glade" / "extensions.py"))

# Cython's own directives. Annotations are documentation here, not C types:
# Glade's annotations say what a value is in Python terms (an int may be
# any size, a bytes may be a subclass), which Cython's C typing of them would
# change.
DIRECTIVES = {
    "language_level": 3,
    "annotation_typing": False,
    "binding": True,
    "embedsignature": False,
}


def warn(message: str) -> None:
    print(f"glade setup: {message}", file=sys.stderr)


def source_of(module: str) -> Path:
    return extensions["source_of"](module, SOURCE_ROOT / "glade")


# A C library a compiled module binds, vendored: its sources are compiled
# into that module (see vendor/llhttp/README.md).
LLHTTP = Path("vendor") / "llhttp"
C_LIBRARIES = {
    "glade.http.llhttp": {
        "sources": [str(LLHTTP / "src" / name) for name in ("llhttp.c", "api.c", "http.c")],
        "depends": [str(LLHTTP / "include" / "llhttp.h")],
    },
}


def compiled_extensions() -> list[Extension]:
    if extensions["disabled"]():
        warn(f"{extensions['DISABLE_VARIABLE']} is set: installing as pure Python")
        return []
    try:
        from Cython.Build import cythonize
    except ImportError:
        warn("Cython is not installed: installing as pure Python")
        return []
    missing = [
        path
        for library in C_LIBRARIES.values()
        for path in (*library["sources"], *library["depends"])
        if not (HERE / path).is_file()
    ]
    if missing:
        warn(f"{missing[0]} is missing: installing as pure Python")
        return []
    modules = []
    for name in extensions["COMPILED"]:
        library = C_LIBRARIES.get(name, {})
        sources = [str(source_of(name).relative_to(HERE)), *library.get("sources", ())]
        # Every module gets llhttp's headers: those that cimport the parser
        # see the binding's C type (llhttp.pxd), which holds an llhttp_t.
        modules.append(
            Extension(
                name,
                sources,
                include_dirs=[str(LLHTTP / "include")],
                depends=library.get("depends", []),
            )
        )
    # The generated C goes to build/, not beside the sources.
    return cythonize(modules, compiler_directives=DIRECTIVES, build_dir="build/cython", quiet=True)


class OptionalBuildExt(build_ext):
    """build_ext that turns a failed compile into pure Python, and leaves the
    source's hash beside each extension it builds."""

    def run(self) -> None:
        self.built: list[str] = []
        self.failed = False
        try:
            super().run()  # builds, then copies into the sources if in place
        except Exception as error:  # no compiler, no Python headers, ...
            warn(f"cannot compile the extensions ({error}): installing as pure Python")
            return
        for module in self.built:
            target = Path(self.get_ext_fullpath(module))
            digest = extensions["source_hash"](source_of(module))
            target.with_name(target.name + extensions["HASH_SUFFIX"]).write_text(digest + "\n")

    def build_extension(self, extension: Extension) -> None:
        # The compiled modules run together or not at all (extensions.py):
        # after one failure, the rest is not worth the time.
        if self.failed:
            return
        try:
            super().build_extension(extension)
        except Exception as error:
            self.failed = True
            warn(f"cannot compile {extension.name} ({error}): installing as pure Python")
        else:
            self.built.append(extension.name)


setup(
    ext_modules=compiled_extensions(),
    cmdclass={"build_ext": OptionalBuildExt},
)
