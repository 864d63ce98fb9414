"""Running the workers as another user: the `user`, `group` and `initgroups` settings.

The master keeps its own identity (it must be root to hand out another
one); each worker switches right after fork, before it imports the app, so
no code of the app ever runs as root. When `user` is set and `group` is
not, the worker takes the user's own group, and it keeps no supplementary
group of the master's (root's) unless `initgroups` asks for the user's.
"""

from __future__ import annotations

import grp
import os
import pwd
from dataclasses import dataclass


class IdentityError(Exception):
    """The switch failed; str() says what to fix."""


@dataclass(frozen=True)
class Identity:
    uid: int | None
    gid: int | None
    user_name: str | None

    @property
    def changes_anything(self) -> bool:
        return self.uid is not None or self.gid is not None


def resolve(cfg) -> Identity:
    """The uid and gid that `user` and `group` name (None: unchanged)."""
    uid = gid = name = None
    if cfg.user is not None:
        try:
            entry = pwd.getpwuid(cfg.user) if isinstance(cfg.user, int) else pwd.getpwnam(cfg.user)
        except KeyError:
            if not isinstance(cfg.user, int):
                raise IdentityError(f"user {cfg.user!r}: no such user") from None
            uid = cfg.user  # a bare uid without a passwd entry, as in a container
        else:
            uid, gid, name = entry.pw_uid, entry.pw_gid, entry.pw_name
    if cfg.group is not None:
        if isinstance(cfg.group, int):
            gid = cfg.group
        else:
            try:
                gid = grp.getgrnam(cfg.group).gr_gid
            except KeyError:
                raise IdentityError(f"group {cfg.group!r}: no such group") from None
    return Identity(uid, gid, name)


def switch(cfg) -> None:
    """Become `user` and `group`, for good (a worker never switches back)."""
    identity = resolve(cfg)
    if not identity.changes_anything:
        return
    try:
        if identity.gid is not None:
            if cfg.initgroups and identity.user_name is not None:
                os.initgroups(identity.user_name, identity.gid)
            elif os.geteuid() == 0:
                os.setgroups([])  # root's supplementary groups stay behind
            os.setgid(identity.gid)
        if identity.uid is not None:
            os.setuid(identity.uid)
    except PermissionError:
        wanted = ", ".join(
            part
            for part in (
                f"user {cfg.user!r}" if cfg.user is not None else "",
                f"group {cfg.group!r}" if cfg.group is not None else "",
            )
            if part
        )
        raise IdentityError(
            f"cannot switch the workers to {wanted}: only a master started as root can"
        ) from None
