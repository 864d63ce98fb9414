"""--preload for the gevent worker: a zygote that patches, imports the app
once, and forks the workers.

gevent must patch the standard library before the app is imported, and the
master never imports gevent; so the app cannot be imported in the master,
as --preload does for the sync worker. The zygote, a child of the master,
patches, imports the app, and then forks each worker the master asks for:
the workers share the app's memory copy-on-write, as with gunicorn's
--preload, and the patches came before any of the app's code, so no
MonkeyPatchWarning can arise.

A worker must be the master's own child: the master reaps it, and the worker
watches its parent to notice a master that is gone. So the zygote forks
twice: the process in the middle reports the worker's pid and exits at
once, and the worker is re-parented to the master, which is a child
subreaper (PR_SET_CHILD_SUBREAPER) in this mode.

The zygote talks to the master on a socketpair (supervisor/zygote.py holds
the master's side): it says `ready` once the app is imported (or
`boot-error <line>`), then answers each `fork <age>`, which carries the
worker's two pipe ends as SCM_RIGHTS, with `pid <n>`. End of file on the
socket means the master is done with it, or gone: the zygote exits.
"""

from __future__ import annotations

import array
import os
import socket
import time

from glade.app import AppImportError
from glade.logging import error_log
from glade.proctitle import set_title
from glade.workers.base import load_app
from glade.workers.process import run_worker_process

# How long a new worker waits for the middle process to exit, so that its
# parent is the master before it starts watching its parent.
REPARENT_WAIT = 2.0


def run_zygote(cfg, server, sock: socket.socket, worker_class, listeners) -> None:
    """The zygote's whole life, in the process the master forked; never returns."""
    code = 0
    try:
        set_title("zygote", cfg)
        from gevent import monkey

        monkey.patch_all()
        raw_fork = monkey.get_original("os", "fork")
        raw_waitpid = monkey.get_original("os", "waitpid")
        try:
            app = load_app(cfg)
        except AppImportError as error:
            sock.sendall(f"boot-error {error}\n".encode("utf-8", "replace"))
            return
        sock.sendall(b"ready\n")
        while True:
            request = _receive(sock)
            if request is None:
                return  # the master closed its side: this zygote is done
            age, status_w, control_r = request
            middle = raw_fork()
            if middle == 0:
                worker = raw_fork()
                if worker == 0:
                    sock.close()
                    _become_worker(
                        cfg, server, worker_class, listeners, age, app, status_w, control_r
                    )
                sock.sendall(f"pid {worker}\n".encode("ascii"))
                os._exit(0)
            raw_waitpid(middle, 0)
            os.close(status_w)
            os.close(control_r)
    except BaseException:
        error_log.critical("the zygote (--preload) failed", exc_info=True)
        code = 1
    finally:
        os._exit(code)


def _receive(sock: socket.socket) -> tuple[int, int, int] | None:
    """The master's next `fork <age>` and its two descriptors; None at end of file."""
    fds = array.array("i")
    try:
        data, ancillary, _flags, _address = sock.recvmsg(64, socket.CMSG_SPACE(2 * fds.itemsize))
    except OSError:
        return None
    if not data:
        return None
    for level, kind, payload in ancillary:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(payload[: len(payload) - len(payload) % fds.itemsize])
    command, _, age = data.decode("ascii").strip().partition(" ")
    if command != "fork" or len(fds) != 2:
        for fd in fds:
            os.close(fd)
        return None
    return int(age), fds[0], fds[1]


def _become_worker(
    cfg, server, worker_class, listeners, age: int, app, status_w: int, control_r: int
) -> None:
    """In the worker, a grandchild of the zygote: run it; never returns."""
    import gevent

    gevent.reinit()  # after a plain fork, gevent's hub must start afresh
    deadline = time.monotonic() + REPARENT_WAIT
    while os.getppid() != server.pid and time.monotonic() < deadline:
        time.sleep(0.001)
    worker = worker_class(cfg, listeners, age, status_w, server.pid)
    worker.control_fd = control_r
    worker.preloaded_app = app
    run_worker_process(worker, cfg, server)
