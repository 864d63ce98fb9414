"""`glade [OPTIONS] MODULE:APP`: argv -> Config -> the master process.

The flags are generated from the settings table, grouped by its sections;
gunicorn's flag names are used wherever gunicorn has the same setting.
"""

from __future__ import annotations

import argparse
import os
import sys

from glade import __version__
from glade.config import SETTINGS, ConfigError, load_config
from glade.config.settings import SECTIONS

EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"glade: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="glade",
        usage="glade [OPTIONS] MODULE:APP",
        description="Serve a WSGI app with pre-forked gevent (or sync) workers.",
        epilog="Every setting can also come from a config file (-c) or a "
        "GLADE_<SETTING> environment variable; see docs/settings.md.",
    )
    parser.add_argument(
        "wsgi_app",
        nargs="?",
        metavar="MODULE:APP",
        default=argparse.SUPPRESS,
        help="the WSGI app, like myproject.wsgi:application or app:create_app()",
    )
    parser.add_argument("--version", action="version", version=f"glade {__version__}")
    parser.add_argument(
        "-c",
        "--config",
        metavar="FILE",
        default=None,
        help="a config file: Python (like gunicorn.conf.py) or TOML",
    )
    parser.add_argument(
        "--check-config",
        action="store_true",
        help="load the config and the app, report problems, exit 0 or 1",
    )
    parser.add_argument(
        "--print-config",
        action="store_true",
        help="print every setting's value and where it came from, then exit",
    )
    groups = {section: parser.add_argument_group(section) for section in SECTIONS}
    for setting in SETTINGS:
        if not setting.flags:
            continue
        group = groups[setting.section]
        kwargs = {
            "dest": setting.name,
            "default": argparse.SUPPRESS,
            "help": _plain(setting.doc),
        }
        if setting.is_switch:
            kwargs["action"] = "store_true"
        else:
            kwargs["metavar"] = setting.metavar
            if setting.multiple:
                kwargs["action"] = "append"
        group.add_argument(*setting.flags, **kwargs)
    return parser


def _plain(doc: str) -> str:
    return doc.replace("`", "").replace("%", "%%")


def parse_args(argv: list[str]):
    parser = build_parser()
    namespace = parser.parse_args(argv)
    options = vars(namespace)
    config_path = options.pop("config")
    check_config = options.pop("check_config")
    print_config = options.pop("print_config")
    return options, config_path, check_config, print_config


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    options, config_path, check_config, print_config = parse_args(argv)
    try:
        cfg = load_config(options, config_path, os.environ)
    except ConfigError as error:
        sys.exit(_fail(str(error), EXIT_USAGE))
    if print_config:
        for name, value, source in cfg.items():
            print(f"{name} = {value!r}  ({source})")
        sys.exit(0)
    if not cfg.wsgi_app:
        sys.exit(_fail("no app given: glade [OPTIONS] MODULE:APP (see glade --help)", EXIT_USAGE))
    if check_config:
        sys.exit(_check(cfg))
    from glade.supervisor.master import Master

    sys.exit(Master(cfg).run())


def _fail(message: str, code: int) -> int:
    print(f"glade: error: {message}", file=sys.stderr)
    return code


def _check(cfg) -> int:
    """Load the app the way a worker would, without serving."""
    from glade.app import AppImportError, import_app, prepare_path

    if cfg.worker_class == "gevent":
        from gevent import monkey

        monkey.patch_all()
    try:
        prepare_path(cfg.chdir, cfg.pythonpath)
        import_app(cfg.wsgi_app)
    except AppImportError as error:
        return _fail(str(error), 1)
    except Exception as error:
        return _fail(f"the app failed to load: {type(error).__name__}: {error}", 1)
    print("glade: config and app OK")
    return 0
