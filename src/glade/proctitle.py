"""Process titles: `glade: master [myapp]` in ps and top, as gunicorn names its processes."""

from __future__ import annotations

from glade.logging import error_log


def set_title(role: str, cfg) -> None:
    """Name this process for its role (master, worker, zygote), when setproctitle is installed."""
    try:
        import setproctitle
    except ImportError:
        if cfg.proc_name and role == "master":
            error_log.warning(
                "proc_name is set but the setproctitle package is missing: "
                "pip install 'glade[setproctitle]' to name the processes"
            )
        return
    setproctitle.setproctitle(f"glade: {role} [{cfg.proc_name or cfg.wsgi_app}]")
