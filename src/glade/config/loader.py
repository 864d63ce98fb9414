"""Merge the sources of settings: defaults < file < environment < argv.

Each value remembers where it came from, so that ``--print-config`` can say
it and every error names the setting, the value and its source.
"""

from __future__ import annotations

import os
import runpy
import sys
from collections.abc import Mapping
from dataclasses import dataclass

from glade.config.settings import BY_NAME, SETTINGS, SettingError


class ConfigError(Exception):
    """A setting a user got wrong; str() is the one line to show them."""


@dataclass(frozen=True)
class Source:
    kind: str  # "default", "file", "env", "argv"
    where: str = ""

    def __str__(self) -> str:
        return f"{self.kind} {self.where}".strip()


DEFAULT = Source("default")


class Config:
    """Effective settings, read as attributes: ``cfg.workers``."""

    def __init__(self) -> None:
        self._values: dict[str, object] = {}
        self._sources: dict[str, Source] = {}
        for setting in SETTINGS:
            default = setting.default
            self._values[setting.name] = list(default) if isinstance(default, list) else default
            self._sources[setting.name] = DEFAULT

    def __getattr__(self, name: str):
        try:
            return self.__dict__["_values"][name]
        except KeyError:
            raise AttributeError(name) from None

    def set(self, name: str, raw: object, source: Source) -> None:
        setting = BY_NAME[name]
        try:
            value = setting.parse(raw)
        except SettingError as error:
            raise ConfigError(f"{_describe(name, source)}: {error}") from None
        self._values[name] = value
        self._sources[name] = source

    def source_of(self, name: str) -> Source:
        return self._sources[name]

    def items(self):
        for setting in SETTINGS:
            yield setting.name, self._values[setting.name], self._sources[setting.name]


def _describe(name: str, source: Source) -> str:
    setting = BY_NAME[name]
    if source.kind == "argv" and setting.flags:
        return f"{setting.flags[-1]} ({name})"
    if source.kind == "env":
        return f"{source.where} ({name})"
    if source.kind == "file":
        return f"{name} in {source.where}"
    return name


def load_config(
    cli_values: Mapping[str, object],
    config_path: str | None,
    environ: Mapping[str, str] | None = None,
) -> Config:
    """Build the effective Config from every source, lowest precedence first."""
    environ = os.environ if environ is None else environ
    cfg = Config()
    if "SCRIPT_NAME" in environ:
        cfg.set("script_name", environ["SCRIPT_NAME"], Source("env", "SCRIPT_NAME"))
    if config_path:
        _load_file(cfg, config_path)
    for setting in SETTINGS:
        if setting.env_var in environ:
            cfg.set(setting.name, environ[setting.env_var], Source("env", setting.env_var))
    for name, raw in cli_values.items():
        cfg.set(name, raw, Source("argv"))
    return cfg


def _load_file(cfg: Config, path: str) -> None:
    if not os.path.isfile(path):
        raise ConfigError(f"config file {path!r}: no such file")
    if path.endswith(".toml"):
        _load_toml(cfg, path)
    else:
        _load_python(cfg, path)


def _load_python(cfg: Config, path: str) -> None:
    """A gunicorn-style config: module-level names that are settings count."""
    try:
        namespace = runpy.run_path(path, run_name="__config__")
    except SystemExit:
        raise ConfigError(f"config file {path}: it called sys.exit()") from None
    except Exception as error:
        line = _error_line(error, path)
        where = f"{path}:{line}" if line else path
        raise ConfigError(f"config file {where}: {type(error).__name__}: {error}") from None
    lines = _assignment_lines(path)
    for name, value in namespace.items():
        if name in BY_NAME:
            where = f"{path}:{lines[name]}" if name in lines else path
            cfg.set(name, value, Source("file", where))


def _load_toml(cfg: Config, path: str) -> None:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib
    try:
        with open(path, "rb") as file:
            document = tomllib.load(file)
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise ConfigError(f"config file {path}: {error}") from None
    if os.path.basename(path) == "pyproject.toml":
        document = document.get("tool", {}).get("glade", {})
    for key, value in document.items():
        name = key.replace("-", "_")
        if name not in BY_NAME:
            raise ConfigError(f"config file {path}: unknown setting {key!r}")
        cfg.set(name, value, Source("file", path))


def _assignment_lines(path: str) -> dict[str, int]:
    import ast

    try:
        with open(path, encoding="utf-8") as file:
            tree = ast.parse(file.read(), path)
    except (OSError, SyntaxError, ValueError):
        return {}
    lines: dict[str, int] = {}
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else []
        if isinstance(node, ast.AnnAssign):
            targets = [node.target]
        for target in targets:
            if isinstance(target, ast.Name):
                lines[target.id] = node.lineno
    return lines


def _error_line(error: BaseException, path: str) -> int | None:
    if isinstance(error, SyntaxError):
        return error.lineno
    trace = error.__traceback__
    line = None
    while trace is not None:
        if os.path.abspath(trace.tb_frame.f_code.co_filename) == os.path.abspath(path):
            line = trace.tb_lineno
        trace = trace.tb_next
    return line
