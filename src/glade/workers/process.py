"""The life of a worker process, from the moment after its fork to its exit.

A worker is forked by the master, or, with --preload on the gevent worker,
by the zygote (workers/zygote.py). Either way, once the forking process's
own state is shed, the same steps follow: logging, the worker's own setup,
the post_fork hook, serving, the worker_exit hook, and an exit that never
returns into the code that forked it.
"""

from __future__ import annotations

import os
import sys

from glade.hooks import call_hook
from glade.logging import error_log, setup_logging
from glade.proctitle import set_title


def run_worker_process(worker, cfg, server) -> None:
    """Run `worker` in this new process and exit with its status; never returns.

    `server` is the master object the hooks receive (a copy, after fork).
    """
    code = 1
    try:
        os.set_blocking(worker.status_fd, False)
        os.set_blocking(worker.control_fd, False)
        setup_logging(cfg)
        worker.after_fork()
        set_title("worker", cfg)
        call_hook(cfg, "post_fork", server, worker)
        code = worker.run()
        call_hook(cfg, "worker_exit", server, worker)
    except SystemExit as exit_request:
        code = exit_request.code if isinstance(exit_request.code, int) else 1
    except BaseException:
        error_log.critical("worker %d crashed", os.getpid(), exc_info=True)
        code = 1
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)
