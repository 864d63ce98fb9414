"""Binary upgrade (USR2): start a new master that inherits the listening sockets.

The sockets are passed the way systemd passes them (fds 3.., LISTEN_FDS,
LISTEN_PID), so the new master uses the same code for an upgrade and for
socket activation, and the port is never closed. GLADE_UPGRADED_FROM tells
it that the old master still runs: it then writes `<pidfile>.2` and takes
the plain name once the old master is gone, while the old one renames its
own file to `<pidfile>.oldbin` (the names gunicorn uses).
"""

from __future__ import annotations

import os
import signal
import sys

from glade.supervisor.systemd import SD_LISTEN_FDS_START

UPGRADED_FROM_ENV = "GLADE_UPGRADED_FROM"
# Set when the sockets came from systemd's socket activation: the new master
# must know that they outlive it, as the old one did.
SOCKET_ACTIVATED_ENV = "GLADE_SOCKET_ACTIVATED"
OLD_SUFFIX = ".oldbin"
NEW_SUFFIX = ".2"


def start_new_master(
    listeners, argv: list[str], old_master_pid: int, *, socket_activated: bool
) -> int:
    """Fork and exec `python -m glade ARGV` with the sockets; the child's pid."""
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid:
        return pid
    try:
        signal.set_wakeup_fd(-1)
        # Copied high first, so that placing them at 3.. cannot overwrite one
        # that is still to be copied.
        high = [os.dup(listener.fileno()) for listener in listeners]
        for offset, fd in enumerate(high):
            os.dup2(fd, SD_LISTEN_FDS_START + offset, inheritable=True)
        env = dict(os.environ)
        env.update(
            LISTEN_FDS=str(len(high)),
            LISTEN_PID=str(os.getpid()),
            **{UPGRADED_FROM_ENV: str(old_master_pid)},
        )
        if socket_activated:
            env[SOCKET_ACTIVATED_ENV] = "1"
        os.execvpe(sys.executable, [sys.executable, "-m", "glade", *argv], env)
    except BaseException as error:
        print(f"glade: error: the upgrade could not start: {error}", file=sys.stderr)
    finally:
        os._exit(1)


def upgraded_from() -> int | None:
    """The old master's pid when this master was started by a USR2 upgrade."""
    value = os.environ.pop(UPGRADED_FROM_ENV, "")
    return int(value) if value.isdigit() else None


def socket_activated(upgraded_from: int | None) -> bool:
    """For a master that inherited its sockets: do they outlive it?

    From systemd, yes. From an upgrade, only if the old master had them
    from systemd.
    """
    flagged = os.environ.pop(SOCKET_ACTIVATED_ENV, "") == "1"
    return upgraded_from is None or flagged
