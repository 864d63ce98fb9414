"""--request-timeout: ending a request that runs too long, in every worker.

A request is ended by raising RequestTimedOut inside the request's own
code, wherever it is waiting: the app's `finally` blocks and context
managers run, its result's close() is called, and the serving loop answers
503 (or cuts the response if its head went out) and logs where the code
was. The worker goes on serving.

How it gets raised:
- gevent: the connection records its request's deadline, and the worker's
  sweeper greenlet, which already wakes a few times a second, throws the
  exception into the greenlets past it (workers/gevent_serving.py). No
  timer per request: creating and cancelling one would cost every request,
  to serve the rare one that runs too long.
- sync: SIGALRM, armed with setitimer when the app is called and disarmed
  when its response is done (workers/sync.py).

A request stuck in code that never yields to gevent (or in C code that
never returns to the interpreter) is beyond both: the heartbeat (--timeout)
catches it, and logs its stack, as before.
"""

from __future__ import annotations

import traceback

from glade.extensions import GLADE_CODE


class RequestTimedOut(BaseException):
    """Ends a request that outlived --request-timeout, from inside its code.

    A BaseException, as gevent.Timeout is, so that the app's `except
    Exception` cannot swallow it, while its `finally` blocks run. `stack`
    is where the request was when its time ran out, captured by whoever
    raised it (for the log line).
    """

    def __init__(self, stack: str) -> None:
        super().__init__(stack)
        self.stack = stack


def stack_below(frame, boundary) -> str:
    """The stack from the frame of code object `boundary` (excluded) in to `frame`.

    The boundary is the serving loop's frame that called the app, so what is
    left is the request's own code: the app first (Glade's frames that lead
    into it dropped), then whatever it called, down to where it waits. Only
    the `File ..., line ..., in ...` lines: no "Traceback" header, since
    nothing crashed.
    """
    frames = []
    while frame is not None and frame.f_code is not boundary:
        frames.append(frame)
        frame = frame.f_back
    frames.reverse()
    shown = frames
    while shown and shown[0].f_code.co_filename.startswith(GLADE_CODE):
        shown = shown[1:]
    # Nothing left: the time ran out in Glade's own code (sending the
    # response to a slow client, say); show that rather than nothing.
    summary = traceback.StackSummary.extract((f, f.f_lineno) for f in shown or frames)
    return "".join(summary.format()).rstrip() or "  (no Python frame)"
