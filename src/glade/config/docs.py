"""Generate docs/settings.md from the settings table.

    python -m glade.config.docs [PATH]          write it (default docs/settings.md)
    python -m glade.config.docs --check [PATH]  exit 1 if PATH is stale

The reference is never edited by hand: a test fails when it differs from
what this module renders. `glade --help-settings` prints the same entries
as plain text (render_text), since a pip install has no docs/ directory.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from glade.config.settings import (
    GUNICORN_ONLY,
    NOT_YET,
    SECTIONS,
    SETTINGS,
    Setting,
    format_default,
)

DEFAULT_PATH = "docs/settings.md"

INTRO = """\
# Settings

<!-- Generated from src/glade/config/settings.py by `python -m glade.config.docs`
     (`make docs`). Do not edit by hand. -->

Every setting has one name, used as the config-file key, and most have a
command-line flag and a `GLADE_<NAME>` environment variable. The names and
flags are gunicorn's wherever gunicorn has the same setting, so a
`gunicorn.conf.py` runs unchanged with `glade -c gunicorn.conf.py`.

## Where settings come from

From lowest to highest precedence:

1. **Defaults**, listed below.
2. **A config file**, one of:
   - `-c PATH` (or `GLADE_CONFIG=PATH`): a Python file whose module-level
     names are settings, exactly like gunicorn's `gunicorn.conf.py`; a
     `.toml` file; or `python:package.module` to import a Python module.
   - otherwise the first of these found in the working directory:
     `glade.conf.py`, `glade.toml`, and `pyproject.toml` if it has a
     `[tool.glade]` table.
3. **The environment**: the conventional variables `WEB_CONCURRENCY`
   (workers), `FORWARDED_ALLOW_IPS` and `SCRIPT_NAME`; then
   `GLADE_<NAME>` for every setting (`GLADE_WORKERS=4`); then
   `GLADE_CMD_ARGS`, a string of command-line flags parsed like a shell
   would (`GLADE_CMD_ARGS="-w 4 --timeout 60"`), as gunicorn's
   `GUNICORN_CMD_ARGS`.
4. **The command line.**

Last, if no source set `bind` and `PORT` is set, Glade listens on
`0.0.0.0:$PORT` (Heroku, Cloud Run and Render set `PORT`).

One difference from gunicorn: there, `WEB_CONCURRENCY` only changes the
default of `workers`, so a config file's `workers` wins over it; here it
ranks with the environment, above the config file.

`glade --help-settings` prints this reference in a terminal, from the
installed version. `glade --print-config` shows the effective value of every
setting and where it came from (`default`, `FILE:LINE`, `env VAR`, `flag --name`).
`glade --check-config MODULE:APP` loads the config and the app and exits 0 if
both are fine, 1 otherwise, without serving.

Values from the environment and the command line are text: numbers as
usual, booleans as `true`/`false` (or `1`/`0`, `yes`/`no`, `on`/`off`),
lists comma-separated, dicts as JSON.

### A Python config file

```python
# glade.conf.py (or gunicorn.conf.py)
import multiprocessing

bind = "0.0.0.0:8000"
workers = multiprocessing.cpu_count()
timeout = 60
accesslog = "-"

def post_fork(server, worker):
    server.log.info("worker %s started", worker.pid)
```

Names that are not settings (imports, helper variables) are left alone,
as in gunicorn; one that looks like a misspelt setting gets a warning.

### A TOML file

```toml
# glade.toml; or, in pyproject.toml, the same keys under [tool.glade]
bind = ["0.0.0.0:8000"]
workers = 4
timeout = 60
accesslog = "-"
on_starting = "myproject.hooks.on_starting"   # hooks as import paths
```

In TOML every key must be a setting: an unknown key is an error.

### Mistakes, and settings Glade does not have yet

A wrong value stops Glade before it starts, with exit status 2 and one
line that names the setting, the value, where it came from and what is
expected:

```
glade: error: setting 'workers' (from gunicorn.conf.py:3) is -1; expected an integer >= 1, or auto
```

A misspelt flag, on the command line or in `GLADE_CMD_ARGS`, is named with
the flag it most resembles, as a misspelt key in a config file is:

```
glade: error: unknown flag --timout; did you mean --timeout?
```

Settings marked *not supported yet* below are accepted, so that gunicorn
configs keep working; setting one gets one warning line, and the setting
is ignored:

```
glade: warning: setting 'user' (from gunicorn.conf.py:7) is not supported yet and is ignored
```

The same goes for gunicorn settings that Glade does not have at all (listed
at the end). `daemon = True` is refused: run Glade in the foreground under
systemd, a container runtime or supervisord.
"""

HOOKS_INTRO = """\
Hooks are functions defined in a config file (or, in TOML, import paths
like `"myproject.hooks.on_starting"`), with gunicorn's names and arguments.
Glade checks that each is callable with its arguments when the config loads.
The `server` argument has `log`, `cfg`, `pid` and `num_workers`; a `worker`
has `pid`, `age`, `log`, `cfg` and `alive`. An exception in a hook is logged
with the hook's name and the server goes on, except in `on_starting` and
`when_ready`, where it stops startup.
"""


def render() -> str:
    parts = [INTRO]
    for section in SECTIONS:
        parts.append(f"\n## {section}\n")
        if section == "Server hooks":
            parts.append("\n" + HOOKS_INTRO)
        for setting in SETTINGS:
            if setting.section == section:
                parts.append("\n" + _entry(setting))
    parts.append("\n## gunicorn settings Glade ignores\n\n")
    parts.append(
        "A gunicorn config file may set these; Glade warns about each one set "
        "to anything but gunicorn's default, and ignores it.\n\n"
    )
    parts.append(_wrap(", ".join(f"`{name}`" for name in sorted(GUNICORN_ONLY))) + "\n")
    return "".join(parts)


def _entry(setting: Setting) -> str:
    lines = [f"### `{setting.name}`", ""]
    if setting.hook_args is not None:
        lines.append(f"`def {setting.name}({', '.join(setting.hook_args)}):`")
        lines.append("")
    else:
        every_flag = setting.flags + setting.off_flags
        flags = ", ".join(_flag(flag, setting) for flag in every_flag) or "none"
        env = ", ".join(f"`{name}`" for name in _env_names(setting)) or "none"
        lines += [
            "| Flag | Environment | Default |",
            "|---|---|---|",
            f"| {flags} | {env} | `{format_default(setting)}` |",
            "",
        ]
        if setting.is_action:
            lines += ["Command line only.", ""]
        elif not setting.in_file:
            lines += ["Command line and environment only.", ""]
        if setting.expects and not setting.is_action:
            accepts = f"Accepts {setting.expects}"
            lines += [_wrap(accepts if accepts.endswith(".") else accepts + "."), ""]
    lines.append(_wrap(setting.doc))
    if setting.gunicorn_flags:
        spelled = ", ".join(f"`{flag}`" for flag in setting.gunicorn_flags)
        lines += ["", f"gunicorn's spelling {spelled} is accepted too."]
    if setting.unsupported == NOT_YET:
        lines += ["", "*Not supported yet*: accepted, and ignored with a warning."]
    elif setting.unsupported:
        lines += ["", "*Accepted for gunicorn configs*, and ignored with a warning."]
    return "\n".join(lines) + "\n"


def _flag(flag: str, setting: Setting) -> str:
    return f"`{_plain_flag(flag, setting)}`"


def _plain_flag(flag: str, setting: Setting) -> str:
    if setting.is_switch or not setting.metavar:
        return flag
    return f"{flag} {setting.metavar}"


def _env_names(setting: Setting) -> list[str]:
    if setting.env_var is None or setting.is_action:
        return []
    names = [setting.env_var, *setting.env_aliases]
    if setting.name == "bind":
        names.append("PORT")
    return names


# -- plain text, for a terminal -------------------------------------------------

TEXT_INTRO = """\
Glade settings

Every setting has one name, which is also its config-file key; most have a
command-line flag and a GLADE_<NAME> environment variable. From lowest to
highest precedence: the defaults below; a config file (-c FILE, else
glade.conf.py, glade.toml, or the [tool.glade] table of pyproject.toml in
the working directory); the environment (WEB_CONCURRENCY, FORWARDED_ALLOW_IPS
and SCRIPT_NAME, then GLADE_<NAME>, then GLADE_CMD_ARGS, a string of flags);
the command line. glade --print-config shows the value of every setting
and where it came from; glade --check-config MODULE:APP loads the config
and the app without serving. Values from the environment and the command
line are text: booleans as true/false, lists comma-separated, dicts as JSON.
"""


def render_text(width: int = 79) -> str:
    """The reference of every setting, as `glade --help-settings` prints it:
    the entries of docs/settings.md, without Markdown."""
    indent = "    "
    parts = [_wrap_paragraphs(TEXT_INTRO, width)]
    for section in SECTIONS:
        parts.append(f"\n\n{section}\n{'=' * len(section)}\n")
        if section == "Server hooks":
            parts.append("\n" + _wrap_paragraphs(HOOKS_INTRO, width) + "\n")
        for setting in SETTINGS:
            if setting.section == section:
                parts.append("\n" + _text_entry(setting, indent, width - len(indent)) + "\n")
    title = "gunicorn settings Glade ignores"
    parts.append(f"\n\n{title}\n{'=' * len(title)}\n\n")
    parts.append(
        _wrap(
            "A gunicorn config file may set these; Glade warns about each one set to "
            "anything but gunicorn's default, and ignores it: "
            + ", ".join(sorted(GUNICORN_ONLY))
            + ".",
            width,
        )
        + "\n"
    )
    return "".join(parts)


def _text_entry(setting: Setting, indent: str, width: int) -> str:
    if setting.hook_args is not None:
        facts = [("Config file", f"def {setting.name}({', '.join(setting.hook_args)}):")]
    else:
        every_flag = setting.flags + setting.off_flags
        if setting.is_action:
            key = "none (command line only)"
        elif not setting.in_file:
            key = "none (command line and environment only)"
        else:
            key = setting.name
        facts = [
            ("Flag", ", ".join(_plain_flag(flag, setting) for flag in every_flag) or "none"),
            ("Environment", ", ".join(_env_names(setting)) or "none"),
            ("Config key", key),
            ("Default", format_default(setting)),
        ]
        if setting.expects and not setting.is_action:
            facts.append(("Accepts", setting.expects))
    lines = [setting.name]
    lines += [f"{indent}{name + ':':13} {value}" for name, value in facts]
    text = setting.doc
    if setting.gunicorn_flags:
        text += f" gunicorn's spelling {', '.join(setting.gunicorn_flags)} is accepted too."
    if setting.unsupported == NOT_YET:
        text += " Not supported yet: accepted, and ignored with a warning."
    elif setting.unsupported:
        text += " Accepted for gunicorn configs, and ignored with a warning."
    lines += ["", _wrap(text.replace("`", ""), width, indent)]
    return "\n".join(lines)


def _wrap_paragraphs(text: str, width: int) -> str:
    paragraphs = text.replace("`", "").split("\n\n")
    return "\n\n".join(_wrap(paragraph, width) for paragraph in paragraphs).rstrip("\n")


def _wrap(text: str, width: int = 76, indent: str = "") -> str:
    lines: list[str] = []
    line = ""
    for word in text.split():
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    if line:
        lines.append(line)
    return "\n".join(indent + line for line in lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m glade.config.docs",
        description="Write the settings reference, or check that it is current.",
    )
    parser.add_argument("path", nargs="?", default=str(DEFAULT_PATH), help="the Markdown file")
    parser.add_argument("--check", action="store_true", help="exit 1 if PATH is stale")
    args = parser.parse_args(argv)
    path = Path(args.path)
    text = render()
    if args.check:
        current = path.read_text(encoding="utf-8") if path.exists() else ""
        if current != text:
            print(f"{path} is stale: run `python -m glade.config.docs {path}`", file=sys.stderr)
            return 1
        return 0
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
