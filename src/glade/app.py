"""Import the WSGI app named `module:attr` or `module:factory(args)`.

Every mistake a user can make here becomes one AppImportError line that
says which part is wrong; the app's own exceptions during import keep
their traceback, since that is the app's bug, not a usage error. That
includes an app that could never be called as WSGI asks, like a factory
named without its parentheses: otherwise the server starts and answers
every request with a 500.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import os
import sys


class AppImportError(Exception):
    """A usage error in the app name; str() is the line to show."""


def prepare_path(chdir: str | None, pythonpath: list[str]) -> None:
    if chdir:
        try:
            os.chdir(chdir)
        except OSError as error:
            raise AppImportError(f"--chdir {chdir}: {error.strerror}") from None
    for directory in reversed(pythonpath):
        sys.path.insert(0, os.path.abspath(directory))
    cwd = os.getcwd()
    if cwd not in sys.path and "" not in sys.path:
        sys.path.insert(0, cwd)


def import_app(spec: str):
    module_name, sep, expression = spec.partition(":")
    if not module_name or not _is_dotted_name(module_name):
        raise AppImportError(f"app {spec!r}: expected MODULE:NAME, like myproject.wsgi:application")
    expression = expression.strip() if sep else "application"
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        if error.name and (module_name == error.name or module_name.startswith(error.name + ".")):
            raise AppImportError(
                f"app {spec!r}: no module named {error.name!r} (working directory: {os.getcwd()})"
            ) from None
        raise
    app = _evaluate(module, expression, spec)
    if not callable(app):
        kind = type(app).__name__
        article = "an" if kind[:1].lower() in "aeiou" else "a"
        raise AppImportError(f"app {spec!r}: {expression} is {article} {kind}, not callable")
    _check_wsgi_call(app, module_name, expression, spec)
    return app


def _is_dotted_name(name: str) -> bool:
    return all(part.isidentifier() for part in name.split("."))


def _evaluate(module, expression: str, spec: str):
    try:
        node = ast.parse(expression, mode="eval").body
    except SyntaxError:
        raise AppImportError(f"app {spec!r}: cannot parse {expression!r}") from None
    if isinstance(node, ast.Name):
        return _attribute(module, node.id, spec)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        factory = _attribute(module, node.func.id, spec)
        try:
            args = [ast.literal_eval(arg) for arg in node.args]
            kwargs = {kw.arg: ast.literal_eval(kw.value) for kw in node.keywords if kw.arg}
        except ValueError:
            raise AppImportError(
                f"app {spec!r}: factory arguments must be literals (strings, numbers, ...)"
            ) from None
        if not callable(factory):
            raise AppImportError(f"app {spec!r}: {node.func.id} is not callable")
        app = factory(*args, **kwargs)
        if app is None:
            raise AppImportError(f"app {spec!r}: the factory returned None")
        return app
    raise AppImportError(f"app {spec!r}: expected a name or a factory call after ':'")


def _attribute(module, name: str, spec: str):
    try:
        return getattr(module, name)
    except AttributeError:
        raise AppImportError(
            f"app {spec!r}: module {module.__name__!r} has no attribute {name!r}"
        ) from None


def _check_wsgi_call(app, module_name: str, expression: str, spec: str) -> None:
    """Refuse a callable that cannot take `(environ, start_response)`.

    Only a signature that certainly refuses two positional arguments counts:
    a callable whose signature cannot be read (some C callables) is trusted,
    and so are `*args`, classes (their `__init__` is what gets called),
    callable instances and partials, as inspect reads them. The wrapper's
    own signature is read, not the one of what it wraps: it is what the
    server calls.
    """
    try:
        signature = inspect.signature(app, follow_wrapped=False)
    except Exception:  # whatever stops inspect from reading it: cannot tell
        return
    try:
        signature.bind(object(), object())
    except TypeError:
        pass
    else:
        return
    takes = _parameters(signature)
    if not expression.isidentifier():  # a factory call: its result is wrong
        raise AppImportError(
            f"app {spec!r}: {expression} returned a callable that takes {takes}, "
            "not a WSGI app's (environ, start_response)"
        )
    try:
        signature.bind()
    except TypeError:
        call = f"{module_name}:{expression}(...)' with its arguments"
    else:
        call = f"{module_name}:{expression}()'"
    raise AppImportError(
        f"app {spec!r}: {expression} takes {takes}, not a WSGI app's "
        f"(environ, start_response); if it is an app factory, write '{call}"
    )


def _parameters(signature: inspect.Signature) -> str:
    """`(config, *, debug=False)`: the parameters, without annotations."""
    bare = [
        parameter.replace(annotation=parameter.empty) for parameter in signature.parameters.values()
    ]
    return str(signature.replace(parameters=bare, return_annotation=signature.empty))
