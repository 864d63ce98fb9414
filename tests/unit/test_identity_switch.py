"""identity.switch from a process that is not root: the error the operator sees.

The switch itself is tested on real servers (tests/integration/test_identity.py);
this is the one case a root test run cannot reach through a server, so a forked
child gives up root first.
"""

from __future__ import annotations

import os
import pwd

import pytest

from glade.cli import load
from glade.identity import IdentityError, switch

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to become someone else")


def switch_as(uid: int, gid: int, argv: list[str]) -> str:
    """In a child running as uid/gid, switch() to what argv says; returns its error."""
    cfg = load([*argv, "app:app"])
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child never returns into pytest
        message = "no error"
        try:
            os.setgroups([])
            os.setgid(gid)
            os.setuid(uid)
            switch(cfg)
        except IdentityError as error:
            message = str(error)
        except BaseException as error:  # anything else: reported to the parent
            message = repr(error)
        finally:
            os.write(write_end, message.encode())
            os._exit(0)
    os.close(write_end)
    os.waitpid(pid, 0)
    with os.fdopen(read_end, "rb") as answer:
        return answer.read().decode()


def test_a_master_that_is_not_root_cannot_switch_and_says_why():
    try:
        nobody = pwd.getpwnam("nobody")
    except KeyError:
        pytest.skip("this machine has no user named nobody")
    message = switch_as(nobody.pw_uid, nobody.pw_gid, ["-u", "root", "-g", "0"])
    assert message == (
        "cannot switch the workers to user 'root', group 0: only a master started as root can"
    )
    # Already the user it asks for: nothing to do, no error.
    assert switch_as(nobody.pw_uid, nobody.pw_gid, ["-u", "nobody"]) == "no error"
