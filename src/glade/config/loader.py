"""Merge the sources of settings, lowest precedence first:

1. defaults (the table);
2. one config file: ``-c PATH`` (Python or TOML), ``-c python:MODULE``, or
   else the first of glade.conf.py, glade.toml and pyproject.toml's
   ``[tool.glade]`` in the working directory;
3. the environment: conventional variables (WEB_CONCURRENCY, ...), then
   ``GLADE_<SETTING>``, then the flags in ``GLADE_CMD_ARGS``;
4. the command line.
Last, ``PORT`` gives ``bind = 0.0.0.0:$PORT`` if no source set ``bind``, and
``workers = auto`` becomes a number (glade.cpu_quota).

Each value remembers where it came from, so that ``--print-config`` can say
it and every error names the setting, the value, its source and what is
expected, in one line (ConfigError). Settings that are accepted but not
implemented, and gunicorn settings Glade does not have, become warnings
(``Config.warnings``), one line each.
"""

from __future__ import annotations

import ast
import copy
import importlib
import importlib.util
import inspect
import os
import re
import sys
import types
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from glade.config.settings import (
    AUTO,
    BY_NAME,
    GUNICORN_ONLY,
    GUNICORN_ONLY_REASONS,
    NOT_YET,
    SETTINGS,
    SettingError,
    gunicorn_only_is_default,
)
from glade.cpu_quota import ROOT_VARIABLE, available_cpus


def _toml_module():
    """tomllib, imported only when a TOML file is read: it and difflib
    together weigh about 3 MB, which every worker would carry."""
    if sys.version_info >= (3, 11):
        import tomllib

        return tomllib
    try:  # pragma: no cover - Python 3.10
        import tomli

        return tomli
    except ImportError:  # pragma: no cover
        return None


DEFAULT_FILES = ("glade.conf.py", "glade.toml", "pyproject.toml")
CMD_ARGS_VAR = "GLADE_CMD_ARGS"
FILE_SETTINGS = tuple(s.name for s in SETTINGS if s.in_file)


class ConfigError(Exception):
    """A setting a user got wrong; str() is the one line to show them."""


class Given(NamedTuple):
    """A value from a command line, and the flag that gave it."""

    value: Any
    flag: str = ""


@dataclass(frozen=True)
class Source:
    kind: str  # "default", "found", "file", "env", "cmd_args", "argv"
    where: str = ""

    def __str__(self) -> str:
        if self.kind == "default":
            return "default"
        if self.kind == "found":
            return f"found in the working directory: {self.where}"
        if self.kind == "env":
            return f"env {self.where}"
        if self.kind == "cmd_args":
            return f"{CMD_ARGS_VAR} {self.where}".rstrip()
        if self.kind == "argv":
            return f"flag {self.where}" if self.where.startswith("-") else "command line"
        return self.where


DEFAULT = Source("default")


class Config:
    """Effective settings, read as attributes: ``cfg.workers``."""

    def __init__(self) -> None:
        self._values: dict[str, Any] = {}
        self._sources: dict[str, Source] = {}
        self.warnings: list[str] = []
        self.notes: dict[str, str] = {}  # how a value given as "auto" was worked out
        self.argv: list[str] = []  # the command line it came from, for a reload
        for setting in SETTINGS:
            self._values[setting.name] = copy.deepcopy(setting.default)
            self._sources[setting.name] = DEFAULT

    def __getattr__(self, name: str):
        try:
            return self.__dict__["_values"][name]
        except KeyError:
            raise AttributeError(name) from None

    def set(self, name: str, raw: Any, source: Source) -> None:
        """Validate and set one value; ConfigError names all the user needs."""
        setting = BY_NAME[name]
        try:
            value = setting.parse(raw)
        except SettingError as error:
            raise ConfigError(f"setting {name!r} (from {source}) is {show(raw)}; {error}") from None
        self._values[name] = value
        self._sources[name] = source

    def resolve(self, name: str, value: Any, note: str) -> None:
        """Replace a value given as "auto" by the one it means; the source
        stays where "auto" was given, and the note says how."""
        self._values[name] = value
        self.notes[name] = note

    def source_of(self, name: str) -> Source:
        return self._sources[name]

    def items(self):
        """(name, value, source) for every setting, in the table's order."""
        for setting in SETTINGS:
            yield setting.name, self._values[setting.name], self._sources[setting.name]

    def warn(self, message: str) -> None:
        self.warnings.append(message)


def show(value: Any) -> str:
    """A value as an error message or --print-config shows it."""
    if inspect.isroutine(value) or (callable(value) and not isinstance(value, type)):
        name = getattr(value, "__qualname__", None) or type(value).__name__
        try:
            return f"<function {name}{inspect.signature(value)}>"
        except (TypeError, ValueError):
            return f"<function {name}>"
    text = repr(value)
    return text if len(text) <= 120 else text[:117] + "..."


def load_config(
    argv: Mapping[str, Given] | None = None,
    *,
    cmd_args: Mapping[str, Given] | None = None,
    environ: Mapping[str, str] | None = None,
    cwd: str | None = None,
) -> Config:
    """Build the effective Config from every source, lowest precedence first.

    `argv` and `cmd_args` map setting names to the values given on the
    command line and in GLADE_CMD_ARGS (glade.cli parses both).
    """
    argv = argv or {}
    cmd_args = cmd_args or {}
    environ = os.environ if environ is None else environ
    cwd = os.getcwd() if cwd is None else cwd
    cfg = Config()
    located = _locate_config_file(argv, cmd_args, environ, cwd)
    if located is not None:
        path, source = located
        cfg.set("config", path, source)
        _load_file(cfg, path, source, cwd)
    _load_environ(cfg, environ)
    for kind, given in (("cmd_args", cmd_args), ("argv", argv)):
        for name, (raw, flag) in given.items():
            if name != "config":
                cfg.set(name, raw, Source(kind, flag))
    port = environ.get("PORT", "").strip()
    if port and cfg.source_of("bind") is DEFAULT:
        if not port.isdigit() or not 0 < int(port) < 65536:
            raise ConfigError(f"env PORT is {port!r}; expected a port number 1-65535")
        cfg.set("bind", f"0.0.0.0:{int(port)}", Source("env", "PORT"))
    if cfg.workers == AUTO:
        _resolve_auto_workers(cfg, environ)
    for name, value, source in cfg.items():
        setting = BY_NAME[name]
        if setting.unsupported and source is not DEFAULT and value != setting.default:
            cfg.warn(f"setting {name!r} (from {source}) {setting.unsupported}")
    return cfg


def _resolve_auto_workers(cfg: Config, environ: Mapping[str, str]) -> None:
    """`workers = auto` becomes a number here, once, so that the rest of Glade
    reads an int. A WEB_CONCURRENCY number wins: the platform that set it
    knows the size it gave the app. Else one worker per CPU the cgroup allows."""
    concurrency = environ.get("WEB_CONCURRENCY", "").strip()
    if concurrency and concurrency.lower() != AUTO:
        # Already checked by _load_environ, which reads it with the same parser.
        count = BY_NAME["workers"].parse(concurrency)
        cfg.resolve("workers", count, f"auto: WEB_CONCURRENCY={count}")
        return
    cpus = available_cpus(environ)
    cfg.resolve("workers", cpus.count, f"auto: {cpus.reason}")


# -- which config file ---------------------------------------------------------


def _locate_config_file(argv, cmd_args, environ, cwd) -> tuple[str, Source] | None:
    for kind, given in (("argv", argv), ("cmd_args", cmd_args)):
        if "config" in given:
            value, flag = given["config"]
            return value, Source(kind, flag)
    if environ.get("GLADE_CONFIG"):
        return environ["GLADE_CONFIG"], Source("env", "GLADE_CONFIG")
    for name in DEFAULT_FILES:
        path = os.path.join(cwd, name)
        if not os.path.isfile(path):
            continue
        if name == "pyproject.toml" and not _has_glade_table(path):
            continue
        return name, Source("found", name)
    return None


def _has_glade_table(path: str) -> bool:
    try:
        with open(path, encoding="utf-8", errors="replace") as file:
            text = file.read()
    except OSError:
        return False
    return re.search(r"^\s*\[\s*tool\s*\.\s*glade\s*[.\]]", text, re.MULTILINE) is not None


def _load_file(cfg: Config, location: str, source: Source, cwd: str) -> None:
    # As in gunicorn, a config file (and a hook's import path) may import
    # modules from the working directory.
    added = cwd not in sys.path
    if added:
        sys.path.insert(0, cwd)
    try:
        _load_location(cfg, location, source, cwd)
    finally:
        if added and cwd in sys.path:
            sys.path.remove(cwd)


def _load_location(cfg: Config, location: str, source: Source, cwd: str) -> None:
    if location.startswith("python:"):
        _load_python_module(cfg, location[len("python:") :], cwd)
        return
    display = location[len("file:") :] if location.startswith("file:") else location
    path = display if os.path.isabs(display) else os.path.join(cwd, display)
    try:
        with open(path, "rb") as file:
            data = file.read()
    except OSError as error:
        reason = error.strerror or str(error)
        message = f"cannot read config file {display!r} (from {source}): {reason}"
        raise ConfigError(message) from None
    if path.endswith(".toml"):
        _load_toml(cfg, data, display)
    else:
        _load_python(cfg, data, path, display)


# -- Python files ----------------------------------------------------------------


def _load_python(cfg: Config, data: bytes, path: str, display: str) -> None:
    """A gunicorn-style config: the module-level names that are settings count."""
    path = os.path.abspath(path)
    try:
        code = compile(data, path, "exec", dont_inherit=True)
    except SyntaxError as error:
        where = f"{display}:{error.lineno}" if error.lineno else display
        raise ConfigError(f"config file {where}: SyntaxError: {error.msg}") from None
    except ValueError as error:
        raise ConfigError(f"config file {display}: {error}") from None
    # gunicorn runs its config as the module "__config__"; code that looks
    # itself up (pickling, dataclasses) keeps working.
    module = types.ModuleType("__config__")
    module.__file__ = path
    sys.modules["__config__"] = module
    try:
        exec(code, module.__dict__)
    except SystemExit:
        raise ConfigError(f"config file {display}: it called sys.exit()") from None
    except Exception as error:
        line = _error_line(error, path)
        where = f"{display}:{line}" if line else display
        raise ConfigError(f"config file {where}: {type(error).__name__}: {error}") from None
    _apply_namespace(cfg, vars(module), _assignment_lines(data, path), display)


def _load_python_module(cfg: Config, module_name: str, cwd: str) -> None:
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        if error.name and (module_name == error.name or module_name.startswith(error.name + ".")):
            raise ConfigError(
                f"config module {module_name!r}: no module named {error.name!r} "
                f"(working directory: {cwd})"
            ) from None
        raise ConfigError(f"config module {module_name!r}: {error}") from None
    except Exception as error:
        path = _module_file(module_name)
        line = _error_line(error, path) if path else None
        where = f"{_relative(path, cwd)}:{line}" if line else f"python:{module_name}"
        raise ConfigError(f"config module {where}: {type(error).__name__}: {error}") from None
    path = getattr(module, "__file__", None)
    lines: dict[str, int] = {}
    display = f"python:{module_name}"
    if path:
        display = _relative(path, cwd)
        try:
            with open(path, "rb") as file:
                lines = _assignment_lines(file.read(), path)
        except OSError:
            pass
    _apply_namespace(cfg, vars(module), lines, display)


def _module_file(module_name: str) -> str | None:
    try:
        spec = importlib.util.find_spec(module_name)
    except (ImportError, ValueError):
        return None
    return spec.origin if spec is not None else None


def _relative(path: str, cwd: str) -> str:
    relative = os.path.relpath(path, cwd)
    return path if relative.startswith("..") else relative


def _apply_namespace(cfg: Config, namespace: dict, lines: dict[str, int], display: str) -> None:
    for name, value in list(namespace.items()):
        if name.startswith("__"):
            continue
        source = Source("file", f"{display}:{lines[name]}" if name in lines else display)
        setting = BY_NAME.get(name)
        if setting is not None and setting.in_file:
            cfg.set(name, value, source)
        elif setting is not None:
            cfg.warn(f"setting {name!r} (from {source}) cannot be set in a config file; ignored")
        elif name in GUNICORN_ONLY:
            if not gunicorn_only_is_default(name, value):
                reason = GUNICORN_ONLY_REASONS.get(name, NOT_YET)
                cfg.warn(f"setting {name!r} (from {source}) {reason}")
        elif not isinstance(value, (types.ModuleType, type)):
            suggestion = suggest(name)
            if suggestion:
                cfg.warn(
                    f"{name!r} (from {source}) is not a setting and is ignored; "
                    f"did you mean {suggestion!r}?"
                )


def _assignment_lines(data: bytes, path: str) -> dict[str, int]:
    """Where each module-level name is last bound (assignment, def, import)."""
    try:
        tree = ast.parse(data, path)
    except (SyntaxError, ValueError):
        return {}
    lines: dict[str, int] = {}

    def visit(statements) -> None:
        for node in statements:
            names: list[str] = []
            if isinstance(node, ast.Assign):
                for target in node.targets:
                    names += _target_names(target)
            elif isinstance(node, (ast.AnnAssign, ast.AugAssign)):
                names += _target_names(node.target)
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.append(node.name)
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                names += [(alias.asname or alias.name).split(".")[0] for alias in node.names]
            for name in names:
                lines[name] = node.lineno
            # Names bound inside if/try/with/for blocks are still module-level.
            for field in ("body", "orelse", "finalbody", "handlers"):
                children = getattr(node, field, None)
                if isinstance(children, list) and not isinstance(
                    node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
                ):
                    visit(children)

    visit(tree.body)
    return lines


def _target_names(target) -> list[str]:
    if isinstance(target, ast.Name):
        return [target.id]
    if isinstance(target, (ast.Tuple, ast.List)):
        return [name for element in target.elts for name in _target_names(element)]
    return []


def _error_line(error: BaseException, path: str) -> int | None:
    if isinstance(error, SyntaxError) and error.filename == path:
        return error.lineno
    trace = error.__traceback__
    line = None
    while trace is not None:
        if os.path.abspath(trace.tb_frame.f_code.co_filename) == os.path.abspath(path):
            line = trace.tb_lineno
        trace = trace.tb_next
    return line


def suggest(name: str, candidates=FILE_SETTINGS) -> str | None:
    """The candidate (a setting, by default) `name` is probably a misspelling
    of: close, and about as long (so helpers like `graceful_timeout_str` are
    not taken for typos)."""
    import difflib

    matches = difflib.get_close_matches(name.lower(), candidates, n=1, cutoff=0.85)
    if matches and abs(len(matches[0]) - len(name)) <= 2:
        return matches[0]
    return None


# -- TOML files ----------------------------------------------------------------------


def _load_toml(cfg: Config, data: bytes, display: str) -> None:
    tomllib = _toml_module()
    if tomllib is None:  # pragma: no cover - Python 3.10 without tomli
        raise ConfigError(f"config file {display}: reading TOML on Python 3.10 needs tomli")
    try:
        text = data.decode("utf-8")
        document = tomllib.loads(text)
    except UnicodeDecodeError as error:
        raise ConfigError(f"config file {display}: not UTF-8 text ({error.reason})") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"config file {display}: invalid TOML: {error}") from None
    table: tuple[str, ...] = ()
    if os.path.basename(display) == "pyproject.toml":
        table = ("tool", "glade")
        document = document.get("tool", {}).get("glade")
        if not isinstance(document, dict):
            raise ConfigError(f"config file {display}: no [tool.glade] table")
    lines = _toml_key_lines(text, table)
    for key, value in document.items():
        name = key.replace("-", "_")
        where = f"{display}:{lines[key]}" if key in lines else display
        source = Source("file", where)
        setting = BY_NAME.get(name)
        if setting is not None and setting.in_file:
            cfg.set(name, value, source)
        elif name in GUNICORN_ONLY:
            if not gunicorn_only_is_default(name, value):
                reason = GUNICORN_ONLY_REASONS.get(name, NOT_YET)
                cfg.warn(f"setting {name!r} (from {source}) {reason}")
        else:
            suggestion = suggest(name)
            hint = f"did you mean {suggestion!r}?" if suggestion else "see glade --help-settings"
            what = "cannot be set in a config file" if setting else "is not a Glade setting"
            raise ConfigError(f"setting {key!r} = {show(value)} (from {source}) {what}; {hint}")


_TOML_TABLE = re.compile(r"^\[\[?\s*([^\]]+?)\s*\]\]?")
_TOML_KEY = re.compile(r"""^(?:"([^"]+)"|'([^']+)'|([A-Za-z0-9_-]+))\s*[.=]""")


def _toml_key_lines(text: str, table: tuple[str, ...]) -> dict[str, int]:
    """Line of each key of `table` (tomllib does not keep positions)."""
    lines: dict[str, int] = {}
    current: tuple[str, ...] = ()
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        header = _TOML_TABLE.match(stripped)
        if header:
            current = tuple(part.strip().strip("\"'") for part in header.group(1).split("."))
            if len(current) > len(table) and current[: len(table)] == table:
                lines.setdefault(current[len(table)], number)
            continue
        if current == table:
            key = _TOML_KEY.match(stripped)
            if key:
                lines.setdefault(key.group(1) or key.group(2) or key.group(3), number)
    return lines


# -- the environment --------------------------------------------------------------


def _load_environ(cfg: Config, environ: Mapping[str, str]) -> None:
    known = {CMD_ARGS_VAR, ROOT_VARIABLE}
    for setting in SETTINGS:
        if not setting.in_env:
            continue
        known.add(setting.env_var)
        if setting.name == "config":
            continue  # chosen first, by _locate_config_file
        for alias in setting.env_aliases:
            if environ.get(alias, "") != "":
                cfg.set(setting.name, environ[alias], Source("env", alias))
        if setting.env_var in environ:
            cfg.set(setting.name, environ[setting.env_var], Source("env", setting.env_var))
    # A misspelt GLADE_ variable gets a warning; other tools' GLADE_* are left alone.
    env_vars = sorted(known)
    for name in environ:
        if name.startswith("GLADE_") and name not in known:
            import difflib

            matches = difflib.get_close_matches(name, env_vars, n=1, cutoff=0.85)
            if matches:
                cfg.warn(
                    f"env {name} is not a Glade setting and is ignored; did you mean {matches[0]}?"
                )
