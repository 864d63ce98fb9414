"""The app of tests/deploy: "ok" on `/`, and orphans on demand, for Glade as PID 1.

`/orphan?seconds=N`: a shell started by the worker starts `sleep N` in the
background and exits at once; the worker waits for the shell, so the sleep
is orphaned and the kernel hands it to the namespace's init, Glade's master.
`/child?seconds=N`: the worker starts `sleep N` and never waits for it, so
it is orphaned when the worker exits (at the drain of a SIGTERM).
Both answer with the sleep's pid as the namespace sees it.
"""

import subprocess
from urllib.parse import parse_qs

children = []  # keeps the Popen of /child alive, so nothing waits for it


def app(environ, start_response):
    query = parse_qs(environ.get("QUERY_STRING", ""))
    seconds = query.get("seconds", ["30"])[0]
    path = environ["PATH_INFO"]
    if path == "/orphan":
        shell = subprocess.run(
            ["sh", "-c", f"sleep {seconds} >/dev/null 2>&1 & echo $!"],
            capture_output=True,
            check=True,
        )
        body = shell.stdout.strip()
    elif path == "/child":
        child = subprocess.Popen(["sleep", seconds])
        children.append(child)
        body = str(child.pid).encode()
    else:
        body = b"ok"
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [body]
