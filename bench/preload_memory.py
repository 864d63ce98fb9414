"""What --preload saves with the gevent worker: total USS of a Django site's workers.

Runs the Django example (examples/django_project) with 4 gevent workers,
without and with --preload (whose zygote imports the app once, after gevent
patched, and forks the workers from it), warms each up with requests to its
views, and prints the unique memory (USS: the pages only that process holds)
of the workers, of the zygote, and their total. USS is what each process
really costs: with --preload the app's pages are shared copy-on-write.

    .venv/bin/python bench/preload_memory.py
"""

from __future__ import annotations

import http.client
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from harness import procs  # noqa: E402

ROOT = HERE.parent
WORKERS = 4
PATHS = ("/", "/form", "/stream", "/source")


def measure(preload: bool) -> dict:
    port = procs.free_port()
    cmd = [
        sys.executable,
        "-m",
        "glade",
        "-w",
        str(WORKERS),
        "-b",
        f"{procs.LOOPBACK}:{port}",
        "--chdir",
        str(ROOT / "examples" / "django_project"),
        *(["--preload"] if preload else []),
        "mysite.wsgi:application",
    ]
    log = Path(f"/tmp/glade-preload-{port}.log")
    env = None
    processes = WORKERS + (1 if preload else 0)
    with procs.running(cmd, ROOT, env, log, port, 30, 15, processes, PATHS[0]) as proc:
        for _ in range(WORKERS * 25):
            for path in PATHS:
                connection = http.client.HTTPConnection(procs.LOOPBACK, port, timeout=10)
                connection.request("GET", path)
                connection.getresponse().read()
                connection.close()
        time.sleep(1)
        children = procs.children(proc.pid)
        uss = {pid: procs.uss_kib(pid) or 0 for pid in children}
        titles = {
            pid: Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
            for pid in children
        }
    zygote = sum(value for pid, value in uss.items() if "zygote" in titles[pid])
    workers = sum(value for pid, value in uss.items() if "zygote" not in titles[pid])
    return {"workers": workers, "zygote": zygote, "total": workers + zygote}


def main() -> None:
    plain = measure(preload=False)
    preloaded = measure(preload=True)
    print(f"Django example, {WORKERS} gevent workers, total USS in MiB:")
    print(f"{'':24}{'workers':>10}{'zygote':>10}{'total':>10}")
    for name, row in (("without --preload", plain), ("with --preload", preloaded)):
        print(
            f"{name:24}{row['workers'] / 1024:10.1f}{row['zygote'] / 1024:10.1f}"
            f"{row['total'] / 1024:10.1f}"
        )
    saved = plain["total"] - preloaded["total"]
    print(f"saved: {saved / 1024:.1f} MiB ({saved / plain['total']:.0%})")


if __name__ == "__main__":
    main()
