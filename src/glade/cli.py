"""`glade [OPTIONS] MODULE:APP`: argv -> Config -> the master process.

The flags are generated from the settings table, grouped by its sections;
gunicorn's flag names are used wherever gunicorn has the same setting.
`GLADE_CMD_ARGS` is parsed by the same parser and ranks between the
environment and the command line.

Exit status: 2 for a usage or config error (one `glade: error:` line, no
traceback); `--check-config` exits 0 when the config and the app load, 1
when they do not.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import shutil
import socket
import sys

from glade import __version__
from glade.config import SETTINGS, ConfigError, load_config
from glade.config.loader import CMD_ARGS_VAR, Config, Given, show, suggest
from glade.config.settings import NOT_YET, SECTIONS, format_default

EXIT_USAGE = 2
EXIT_CHECK_FAILED = 1


class UsageError(Exception):
    """A command line argparse refuses; str() is argparse's message."""


class _Parser(argparse.ArgumentParser):
    # Every long flag it accepts, for suggestions (build_parser fills it).
    known_flags: tuple[str, ...] = ()

    def error(self, message: str):
        # Raised, not exited: the same parser reads GLADE_CMD_ARGS, whose
        # errors must say they come from there.
        raise UsageError(message)

    def parse_args(self, args=None, namespace=None):
        """argparse's, but a mistyped flag is named as one.

        argparse would say "unrecognized arguments: --timout MODULE:APP":
        the flag's value has taken the app's place, so the app looks wrong.
        """
        namespace, extras = self.parse_known_args(args, namespace)
        if extras:
            self.error(_unknown_flag(extras, self.known_flags) or _unrecognized(extras))
        return namespace


_NEGATIVE_NUMBER = re.compile(r"^-\d+$|^-\d*\.\d+$")


def _unknown_flag(extras: list[str], known_flags) -> str | None:
    """`unknown flag --timout; did you mean --timeout?` for the first flag
    argparse did not know, if any (suggested as config-file keys are)."""
    for arg in extras:
        if arg.startswith("-") and arg != "-" and not _NEGATIVE_NUMBER.match(arg):
            flag = arg.split("=", 1)[0]
            match = suggest(flag, known_flags) if flag.startswith("--") else None
            hint = f"did you mean {match}?" if match else "see glade --help"
            return f"unknown flag {flag}; {hint}"
    return None


def _unrecognized(extras: list[str]) -> str:
    return "unrecognized arguments: " + " ".join(extras)


class _Given(argparse.Action):
    """Stores `Given(value, flag)`, so errors and --print-config name the flag used."""

    def __init__(self, option_strings, dest, switch=False, off=False, append=False, **kwargs):
        self.switch = switch
        self.off = off  # a switch that turns its setting off (--no-proxy-headers)
        self.append = append
        if switch:
            kwargs["nargs"] = 0
        super().__init__(option_strings, dest, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        value = (not self.off) if self.switch else values
        if self.append:
            previous = getattr(namespace, self.dest, None)
            value = [*(previous.value if previous else []), values]
        flag = option_string or ""
        long_flags = [f for f in self.option_strings if f.startswith("--")]
        if flag and not flag.startswith("--") and long_flags:
            flag = f"{flag}/{long_flags[0]}"  # what was typed, and the name to look up
        setattr(namespace, self.dest, Given(value, flag))


class _PrintSettings(argparse.Action):
    """--help-settings: the settings reference, from the installed table.

    A pip install has no docs/ directory, so --help points here rather than
    at docs/settings.md; both are rendered from the same entries.
    """

    def __init__(self, option_strings, dest, **kwargs):
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        from glade.config.docs import render_text

        columns = shutil.get_terminal_size((80, 24)).columns
        try:
            sys.stdout.write(render_text(width=max(60, min(columns, 100) - 1)) + "\n")
            sys.stdout.flush()
        except BrokenPipeError:
            # `glade --help-settings | head`: the reader has what it wanted.
            # stdout goes to /dev/null, or the flush at exit would fail again.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="glade",
        usage="glade [OPTIONS] MODULE:APP",
        description="Serve a WSGI app with pre-forked gevent (or sync) workers.",
        epilog="Every setting can also come from a config file (-c), a "
        "GLADE_<SETTING> environment variable, or GLADE_CMD_ARGS. "
        "glade --help-settings prints every setting in full: its flag, "
        "environment variable, config-file key, default and what it does.",
        formatter_class=lambda prog: argparse.HelpFormatter(prog, max_help_position=34),
    )
    parser.add_argument(
        "wsgi_app",
        nargs="?",
        action=_Given,
        metavar="MODULE:APP",
        default=argparse.SUPPRESS,
        help="the WSGI app, like myproject.wsgi:application or app:create_app()",
    )
    parser.add_argument("--version", action="version", version=f"glade {__version__}")
    parser.add_argument(
        "--help-settings",
        action=_PrintSettings,
        help="print every setting: flag, environment variable, config key, default and doc",
    )
    flags = ["--help", "--version", "--help-settings"]
    for section in SECTIONS:
        members = [s for s in SETTINGS if s.section == section]
        group = parser.add_argument_group(section, _section_note(members))
        for setting in members:
            if not setting.flags:
                continue
            kwargs = {"dest": setting.name, "default": argparse.SUPPRESS, "help": _help(setting)}
            if setting.is_switch:
                kwargs["switch"] = True
            else:
                kwargs["metavar"] = setting.metavar
                kwargs["append"] = setting.multiple
            group.add_argument(*setting.flags, action=_Given, **kwargs)
            if setting.off_flags:
                off = dict(kwargs, off=True, help=f"turn {setting.flags[0]} off")
                group.add_argument(*setting.off_flags, action=_Given, **off)
            if setting.gunicorn_flags:
                kwargs["help"] = argparse.SUPPRESS
                group.add_argument(*setting.gunicorn_flags, action=_Given, **kwargs)
            flags += [*setting.flags, *setting.off_flags, *setting.gunicorn_flags]
    parser.known_flags = tuple(flag for flag in flags if flag.startswith("--"))
    return parser


def _section_note(members) -> str | None:
    hooks = [s for s in members if s.hook_args is not None]
    if hooks:
        calls = ", ".join(f"{s.name}({', '.join(s.hook_args)})" for s in hooks)
        return f"Functions defined in a config file: {calls}."
    file_only = [s.name for s in members if not s.flags and s.in_file and s.name != "wsgi_app"]
    if file_only:
        return "Set in a config file or the environment only: " + ", ".join(file_only) + "."
    return None


def _help(setting) -> str:
    text = re.split(r"(?<=\.)\s+", setting.doc.replace("`", ""), maxsplit=1)[0]
    default = format_default(setting)
    if not setting.is_switch and default not in ("none", '""', "{}"):
        text += f" [default: {default}]"
    if setting.unsupported == NOT_YET:
        text += " [not supported yet: ignored with a warning]"
    elif setting.unsupported:
        text += " [ignored with a warning]"
    return text.replace("%", "%%")


def parse_args(argv: list[str]) -> dict[str, Given]:
    """Setting name -> Given(value, flag), for the flags present in argv."""
    return vars(build_parser().parse_args(argv))


def load(argv: list[str], environ=None, cwd: str | None = None) -> Config:
    """Every source, merged: the Config the master runs with.

    Raises UsageError (bad argv) or ConfigError (anything else); a reload
    can call it again with ``cfg.argv``.
    """
    environ = os.environ if environ is None else environ
    given = parse_args(argv)
    cmd_args = _parse_cmd_args(environ.get(CMD_ARGS_VAR, ""))
    cfg = load_config(given, cmd_args=cmd_args, environ=environ, cwd=cwd)
    cfg.argv = list(argv)
    return cfg


def _parse_cmd_args(text: str) -> dict[str, Given]:
    if not text.strip():
        return {}
    try:
        return parse_args(shlex.split(text))
    except (ValueError, UsageError) as error:
        raise ConfigError(f"env {CMD_ARGS_VAR} is {text!r}; {error}") from None


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else list(argv)
    checking = "--check-config" in argv or "--check-config" in os.environ.get(CMD_ARGS_VAR, "")
    try:
        cfg = load(argv)
    except UsageError as error:
        build_parser().print_usage(sys.stderr)
        sys.exit(_fail(str(error), EXIT_USAGE))
    except ConfigError as error:
        sys.exit(_fail(str(error), EXIT_CHECK_FAILED if checking else EXIT_USAGE))
    for warning in cfg.warnings:
        print(f"glade: warning: {warning}", file=sys.stderr)
    if cfg.print_config:
        print(format_config(cfg))
        sys.exit(0)
    if not cfg.wsgi_app:
        message = "no app given: glade [OPTIONS] MODULE:APP (see glade --help)"
        sys.exit(_fail(message, EXIT_CHECK_FAILED if cfg.check_config else EXIT_USAGE))
    if cfg.check_config:
        sys.exit(_check(cfg))
    from glade.supervisor.master import Master

    sys.exit(Master(cfg, reload_config=_reloader(argv, os.getcwd()), argv=argv).run())


def _reloader(argv: list[str], cwd: str):
    """SIGHUP: the same sources read again (the config file re-run)."""

    def reload() -> Config:
        from glade.logging import error_log

        cfg = load(argv, cwd=cwd)
        for warning in cfg.warnings:
            error_log.warning("%s", warning)
        return cfg

    return reload


def _fail(message: str, code: int) -> int:
    print(f"glade: error: {message}", file=sys.stderr)
    return code


def format_config(cfg: Config) -> str:
    """--print-config: every setting as `name = value  # source`, by section."""
    lines: list[str] = []
    for section in SECTIONS:
        members = [s for s in SETTINGS if s.section == section and not s.is_action]
        if not members:
            continue
        lines.append(f"# -- {section}")
        for setting in members:
            value = getattr(cfg, setting.name)
            source = cfg.source_of(setting.name)
            note = f" ({cfg.notes[setting.name]})" if setting.name in cfg.notes else ""
            if setting.unsupported and value != setting.default:
                note = (
                    " (not supported yet: ignored)"
                    if setting.unsupported == NOT_YET
                    else " (ignored)"
                )
            lines.append(f"{setting.name} = {show(value)}".ljust(44) + f"  # {source}{note}")
    return "\n".join(lines)


# -- --check-config -----------------------------------------------------------


def _check(cfg: Config) -> int:
    """What would stop the server from starting, found without serving."""
    problems = _check_paths(cfg) + _check_binds(cfg)
    if not cfg.chdir or os.path.isdir(cfg.chdir):
        problems += _check_app(cfg)  # last: it changes directory (chdir)
    for problem in problems:
        print(f"glade: error: {problem}", file=sys.stderr)
    if problems:
        return EXIT_CHECK_FAILED
    how = f" ({cfg.notes['workers']})" if "workers" in cfg.notes else ""
    print(
        f"glade: config and app OK: {cfg.wsgi_app}, {cfg.workers} {cfg.worker_class} "
        f"worker{'s' * (cfg.workers != 1)}{how} on {', '.join(cfg.bind)}"
    )
    return 0


def _check_paths(cfg: Config) -> list[str]:
    problems = []
    if cfg.chdir and not os.path.isdir(cfg.chdir):
        problems.append(_problem(cfg, "chdir", "expected an existing directory"))
    for name in ("errorlog", "accesslog"):
        target = getattr(cfg, name)
        if target and target != "-":
            directory = os.path.dirname(os.path.abspath(target))
            if not os.path.isdir(directory) or not os.access(directory, os.W_OK):
                problems.append(_problem(cfg, name, "expected a file in a writable directory"))
    return problems


def _check_binds(cfg: Config) -> list[str]:
    from glade.addresses import parse_address

    problems = []
    for text in cfg.bind:
        address = parse_address(text)
        if address.family == socket.AF_UNIX:
            if not os.path.isdir(os.path.dirname(os.path.abspath(address.host))):
                problems.append(_problem(cfg, "bind", f"{text}: the directory does not exist"))
            continue
        try:
            socket.getaddrinfo(address.host, address.port, address.family, socket.SOCK_STREAM)
        except (OSError, UnicodeError) as error:
            problems.append(_problem(cfg, "bind", f"{text}: cannot resolve the host ({error})"))
    return problems


def _check_app(cfg: Config) -> list[str]:
    """Load the app the way a worker would."""
    from glade.app import AppImportError, import_app, prepare_path

    if cfg.worker_class == "gevent":
        from gevent import monkey

        monkey.patch_all()
    try:
        prepare_path(cfg.chdir, cfg.pythonpath)
        import_app(cfg.wsgi_app)
    except AppImportError as error:
        return [str(error)]
    except Exception as error:
        return [f"the app failed to load: {type(error).__name__}: {error}"]
    return []


def _problem(cfg: Config, name: str, expected: str) -> str:
    value = getattr(cfg, name)
    return f"setting {name!r} (from {cfg.source_of(name)}) is {show(value)}; {expected}"
