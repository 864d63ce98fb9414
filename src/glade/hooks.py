"""Server hooks with gunicorn's names and call signatures.

A hook is a setting whose value is a callable (usually defined in the
config file). `call_hook` runs it and logs an exception with the hook's
name instead of letting it take the server down.
"""

from __future__ import annotations

from glade.logging import error_log

# Hooks whose failure must stop startup rather than be logged and ignored.
FATAL_HOOKS = frozenset({"on_starting", "when_ready"})


class HookFailed(Exception):
    """A fatal hook raised; str() is the line to show."""


def call_hook(cfg, name: str, *args) -> None:
    hook = getattr(cfg, name, None)
    if hook is None:
        return
    try:
        hook(*args)
    except Exception as error:
        if name in FATAL_HOOKS:
            raise HookFailed(f"the {name} hook failed: {type(error).__name__}: {error}") from error
        error_log.error("The %s hook failed", name, exc_info=True)
