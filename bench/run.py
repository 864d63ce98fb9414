"""Side-by-side benchmark: Glade against gunicorn 27, granian and a raw gevent ceiling.

One command measures every server on the same app, worker count and machine, taking
turns round by round, and reports each as a ratio to gunicorn -k gevent; a ratio
measured in one run is the number that means something, not an absolute req/s.

    python bench/run.py                 # everything (about 50 minutes)
    python bench/run.py --quick         # 1 round, 2 s, workload A, 1 worker
    python bench/run.py --servers glade-gevent,gunicorn-gevent --workloads A,D

See bench/README.md for the options, the workloads and what is printed.
"""

import argparse
import os
import resource
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent
if str(BENCH_DIR) not in sys.path:
    sys.path.insert(0, str(BENCH_DIR))

from harness import anchors, procs, report, servers, wrk  # noqa: E402
from harness.workloads import WORKLOADS  # noqa: E402

QUICK = {"rounds": 1, "duration": 2, "warmup": 1, "workloads": "A", "workers": [1]}
FULL = {"rounds": 3, "duration": 10, "warmup": 2, "workloads": ",".join(WORKLOADS)}
FULL["workers"] = [1, 2]
SERVER_ENV_DROP = ("PYTHONPATH", "PYTHONSTARTUP", "GUNICORN_CMD_ARGS", "WEB_CONCURRENCY")
SERVER_ENV_DROP_PREFIXES = ("GLADE_", "GRANIAN_")
START_OVERHEAD_S = 1.5
BUSY_LOAD = 1.0


def log(message):
    """Progress goes to stderr so stdout carries only the table."""
    print(message, file=sys.stderr, flush=True)


def parse_args(argv):
    """Options; --quick only changes the defaults, so explicit flags still win."""
    p = argparse.ArgumentParser(
        prog="bench/run.py",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--quick", action="store_true", help="smoke run: " + str(QUICK))
    p.add_argument("--servers", help="comma list, default all: " + ",".join(servers.SERVERS))
    p.add_argument("--workloads", help="comma list, default all: " + ",".join(WORKLOADS))
    p.add_argument("--workers", type=int, nargs="+", help="worker counts (default: 1 2)")
    p.add_argument("--rounds", type=int, help="rounds per measurement (default 3)")
    p.add_argument("--duration", type=int, help="seconds per measurement (default 10)")
    p.add_argument("--warmup", type=int, help="warmup seconds before each (default 2)")
    p.add_argument("--glade-python", help="python that runs glade and the ceiling")
    p.add_argument("--anchors-venv", default=str(BENCH_DIR / ".venv-anchors"))
    p.add_argument("--upgrade-anchors", action="store_true", help="reinstall the anchors")
    p.add_argument("--results-dir", default=str(BENCH_DIR / "results"))
    p.add_argument("--no-chart", action="store_true", help="skip the PNG chart")
    p.add_argument("--keep-logs", action="store_true", help="keep server logs in results")
    p.add_argument(
        "--per-core",
        action="store_true",
        help="each server, its every process and thread, on one CPU and wrk on another",
    )
    p.add_argument("--ready-timeout", type=float, default=30.0, help="s to wait for a server")
    p.add_argument("--stop-timeout", type=float, default=10.0, help="s from SIGTERM to SIGKILL")
    args = p.parse_args(argv)
    args.explicit_servers = args.servers is not None
    for key, value in (QUICK if args.quick else FULL).items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    args.servers = _pick(args.servers or ",".join(servers.SERVERS), servers.SERVERS, p)
    args.workloads = _pick(args.workloads, WORKLOADS, p)
    # abspath, not resolve: a venv's python must keep its own path to find its packages.
    args.glade_python = os.path.abspath(args.glade_python or sys.executable)
    if min([*args.workers, args.rounds, args.duration]) < 1 or args.warmup < 0:
        p.error("--workers, --rounds and --duration must be >= 1, --warmup >= 0")
    args.cpus = None
    if args.per_core:
        args.cpus = _cpus_for_per_core(p)
    return args


def _cpus_for_per_core(parser):
    """(the server's CPU, wrk's CPU) for --per-core: two CPUs this process may use."""
    allowed = sorted(os.sched_getaffinity(0))
    if len(allowed) < 2:
        parser.error(f"--per-core needs two CPUs; this process may use {len(allowed)}")
    if not shutil.which("taskset"):
        parser.error("--per-core needs taskset (util-linux): apt-get install -y util-linux")
    return allowed[1], allowed[0]


def pinned(cmd, cpu):
    """`cmd` run on `cpu` only, it and everything it starts (taskset's affinity is
    inherited by every child process and thread)."""
    if cpu is None:
        return cmd
    return ["taskset", "-c", str(cpu), *cmd]


def _pick(text, known, parser):
    """Validate a comma list against the known names, keeping the known order."""
    wanted = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in wanted if name not in known]
    if unknown:
        parser.error(f"unknown {unknown}; choose from {','.join(known)}")
    return [name for name in known if name in wanted]


def raise_fd_limit():
    """D opens 1000 connections; lift the soft fd limit so wrk and servers inherit it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else 65536
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(target, 65536), hard))


def glade_env():
    """Environment for glade: the working tree's src/ first, so the code under review runs."""
    env = server_env()
    src = REPO_DIR / "src"
    if (src / "glade").is_dir():
        env["PYTHONPATH"] = str(src)
    return env


def server_env():
    """Environment for a server, without variables that would change its configuration."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(SERVER_ENV_DROP_PREFIXES)}
    for key in SERVER_ENV_DROP:
        env.pop(key, None)
    return env


def glade_importable(python):
    """Whether `python -m glade` runs at all (others may still be writing the server)."""
    try:
        done = subprocess.run(
            [python, "-m", "glade", "--version"],
            env=glade_env(),
            capture_output=True,
            stdin=subprocess.DEVNULL,
            timeout=60,
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0


def select_servers(args, notes):
    """Drop servers that cannot run here; explicit requests that cannot run are errors."""
    chosen = list(args.servers)
    glade = [s for s in chosen if servers.SERVERS[s].runtime == servers.GLADE]
    if glade and not glade_importable(args.glade_python):
        message = f"`{args.glade_python} -m glade --version` failed"
        if args.explicit_servers:
            sys.exit(f"bench: {message}")
        notes.append(f"skipped {','.join(glade)}: {message}")
        log("note: " + notes[-1])
        chosen = [s for s in chosen if s not in glade]
    if servers.CEILING in chosen and not anchors.has_module(args.glade_python, "gevent"):
        sys.exit(f"bench: the ceiling needs gevent, which {args.glade_python} cannot import")
    if not chosen:
        sys.exit("bench: no server left to measure")
    return chosen


def plan(args, chosen):
    """Every measurement in run order: for each round, every server once (A B C A B C)."""
    steps = []
    for workers in args.workers:
        for key in args.workloads:
            workload = WORKLOADS[key]
            names = [s for s in chosen if servers.SERVERS[s].supports(workload)]
            for round_no in range(1, args.rounds + 1):
                steps.extend((workers, workload, round_no, name) for name in names)
    return steps


class Context:
    """What every measurement needs: pythons, wrk, timeouts and where logs go."""

    def __init__(self, args, wrk_path, anchors_python, log_dir):
        self.args = args
        self.wrk = wrk_path
        self.log_dir = Path(log_dir)
        self.python = {
            servers.GLADE: args.glade_python,
            servers.CEILING: args.glade_python,
            servers.ANCHORS: str(anchors_python) if anchors_python else None,
        }

    def env(self, server):
        env = glade_env() if server.runtime == servers.GLADE else server_env()
        env.update(server.env)
        return env


def _load(ctx, port, workload, duration):
    """Run wrk once against the server; returns (parsed result, command)."""
    script = BENCH_DIR / workload.script if workload.script else None
    url = f"http://127.0.0.1:{port}{workload.path}"
    cmd = wrk.command(ctx.wrk, url, workload.connections, duration, workload.headers, script)
    cmd = pinned(cmd, ctx.args.cpus and ctx.args.cpus[1])
    result, _raw = wrk.run(cmd, duration)
    return result, cmd


def measure(ctx, workers, workload, round_no, name):
    """Start the server fresh, warm up, measure, read worker RSS, stop it.

    A server that fails never stops the run: its row carries the error and the log tail.
    """
    server = servers.SERVERS[name]
    row = {"workers": workers, "workload": workload.key, "server": name, "round": round_no}
    row["loadavg_1m"] = os.getloadavg()[0]  # to spot rounds skewed by other work
    port = procs.free_port()
    python = ctx.python[server.runtime]
    cmd = servers.command(name, python, port, workers, BENCH_DIR, workload.app)
    cmd = pinned(cmd, ctx.args.cpus and ctx.args.cpus[0])
    row["command"] = shlex.join(str(part) for part in cmd)
    log_path = ctx.log_dir / f"{name}-w{workers}-{workload.key}-r{round_no}.log"
    timeouts = (ctx.args.ready_timeout, ctx.args.stop_timeout)
    try:
        with procs.running(
            cmd, BENCH_DIR, ctx.env(server), log_path, port, *timeouts, workers, workload.path
        ) as proc:
            if ctx.args.warmup:
                _load(ctx, port, workload, ctx.args.warmup)
            result, wrk_cmd = _load(ctx, port, workload, ctx.args.duration)
            row["worker_rss_kib"] = procs.worker_rss_kib(proc.pid)
            row["worker_uss_kib"] = procs.worker_uss_kib(proc.pid)
            row["server_pss_kib"] = procs.server_pss_kib(proc.pid)
            row["wrk"] = shlex.join(str(part) for part in wrk_cmd)
            row.update(result)
            if proc.poll() is not None:
                row["error"] = f"server exited ({proc.returncode}) during the load"
    except procs.ServerFailed as exc:
        row["error"] = str(exc)
    if row.get("error"):
        row.pop("requests_per_sec", None)
        row["log_tail"] = procs.tail(log_path)
    return row


def _progress(index, total, row):
    """One line per measurement, so a long run shows where it is."""
    head = f"[{index}/{total}] w={row['workers']} {row['workload']:<4} {row['server']:<16}"
    if row.get("error"):
        return f"{head} FAILED: {row['error']}\n{row.get('log_tail', '')}"
    return f"{head} {row['requests_per_sec']:>10,.0f} req/s  errors={row['errors']}"


def run_all(ctx, steps):
    """Run the plan; Ctrl+C stops early but the rows so far are still reported."""
    rows = []
    try:
        for index, step in enumerate(steps, 1):
            rows.append(measure(ctx, *step))
            log(_progress(index, len(steps), rows[-1]))
    except KeyboardInterrupt:
        log("interrupted: reporting the measurements done so far")
        return rows, True
    return rows, False


def chart_python(args, anchors_python):
    """A python with matplotlib: the project's, else the anchors venv (installed there)."""
    candidates = [args.glade_python]
    if anchors_python or anchors.venv_python(args.anchors_venv).exists():
        candidates.append(str(anchors.venv_python(args.anchors_venv)))
    for python in candidates:
        if anchors.has_module(python, "matplotlib"):
            return python
    if args.quick:
        return None  # a smoke run does not build a venv just for a picture
    return str(anchors.ensure(args.anchors_venv, log=log))


def render_chart(args, anchors_python, json_path, png_path):
    """Draw the chart in a subprocess; a chart problem never loses the results."""
    try:
        python = chart_python(args, anchors_python)
    except (OSError, subprocess.SubprocessError) as exc:
        return f"chart skipped: could not set up matplotlib ({exc})"
    if python is None:
        return "chart skipped: no matplotlib here (--quick does not install it)"
    cmd = [python, str(BENCH_DIR / "chart.py"), str(json_path), str(png_path)]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    except subprocess.TimeoutExpired:
        return "chart failed: timed out"
    if done.returncode != 0:
        return "chart failed: " + (done.stderr.strip().splitlines() or ["?"])[-1]
    return f"chart: {png_path}"


def git_revision():
    """The commit measured (plus '-dirty'), so results can be tied to code."""
    try:
        rev = subprocess.run(
            ["git", "-C", str(REPO_DIR), "describe", "--always", "--dirty"],
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return rev.stdout.strip() or None


def collect_versions(args, anchors_python):
    """Versions of everything measured, stored with the numbers."""
    ours = ("glade", "gevent", "httptools", *anchors.FRAMEWORKS)
    found = {"glade-python": anchors.versions(args.glade_python, ours)}
    if anchors_python:
        found["anchors"] = anchors.versions(anchors_python)
    try:
        done = subprocess.run(["wrk", "-v"], capture_output=True, text=True, timeout=10)
        found["wrk"] = (done.stdout + done.stderr).strip().splitlines()[0]
    except (OSError, subprocess.SubprocessError, IndexError):
        pass
    return found


def setup(args, notes):
    """wrk, server selection and the anchors venv; exits with a reason if impossible."""
    wrk_path = wrk.ensure_wrk(log=log)
    if not wrk_path:
        sys.exit("bench: wrk is not installed and `apt-get install -y wrk` failed")
    chosen = select_servers(args, notes)
    anchors_python = None
    if any(servers.SERVERS[s].runtime == servers.ANCHORS for s in chosen):
        try:
            anchors_python = anchors.ensure(args.anchors_venv, args.upgrade_anchors, log=log)
        except (OSError, subprocess.SubprocessError) as exc:
            sys.exit(f"bench: could not set up the anchors venv {args.anchors_venv}: {exc}")
        check_frameworks(args, anchors_python, notes)
    return wrk_path, chosen, anchors_python


def check_frameworks(args, anchors_python, notes):
    """Warn when Glade and the anchors would run different Flask or Django code."""
    if not any(WORKLOADS[key].framework for key in args.workloads):
        return
    ours = anchors.versions(args.glade_python, anchors.FRAMEWORKS)
    theirs = anchors.versions(anchors_python, anchors.FRAMEWORKS)
    for name in anchors.FRAMEWORKS:
        if ours.get(name) != theirs.get(name):
            notes.append(
                f"{name} {ours.get(name)} under glade but {theirs.get(name)} under the"
                " anchors: the framework workloads compare different framework code"
            )
            log("warning: " + notes[-1])


def write_results(args, rows, info, anchors_python):
    """Summary table on stdout, JSON and chart in the results directory."""
    started = info["timestamp"]
    summary = report.summarize(rows)
    print(report.table(summary, {k: WORKLOADS[k] for k in args.workloads}))
    if args.cpus is not None:
        print(f"\nper core: each server had CPU {args.cpus[0]} alone, wrk CPU {args.cpus[1]}")
    results_dir = Path(args.results_dir)
    results_dir.mkdir(parents=True, exist_ok=True)
    json_path = results_dir / f"results-{started}.json"
    settings = {k: getattr(args, k) for k in ("rounds", "duration", "warmup", "workers")}
    if args.cpus is not None:
        settings["per_core"] = {"server_cpu": args.cpus[0], "wrk_cpu": args.cpus[1]}
    document = {
        "timestamp": started,
        "argv": sys.argv[1:],
        "settings": settings | {"servers": args.servers, "workloads": args.workloads},
        "machine": {
            "nproc": os.cpu_count(),
            "platform": sys.platform,
            "loadavg_start": info["loadavg_start"],
            "loadavg_end": os.getloadavg(),
        },
        "git": git_revision(),
        "versions": collect_versions(args, anchors_python),
        "notes": info["notes"],
        "interrupted": info["interrupted"],
        "summary": summary,
        "measurements": rows,
    }
    report.write_json(json_path, document)
    print(f"\nresults: {json_path}")
    if not args.no_chart and summary:
        png_path = results_dir / f"chart-{started}.png"
        print(render_chart(args, anchors_python, json_path, png_path))
    return summary


def warn_if_busy():
    """Other work on the 2 cores skews every number: say so up front (and record it)."""
    load = os.getloadavg()
    if load[0] > BUSY_LOAD:
        log(f"warning: load average is {load[0]:.1f} before the run: numbers will be noisy")
    return load


def _terminate(signum, _frame):
    """SIGTERM unwinds like Ctrl+C, so every running server is stopped by its finally."""
    raise KeyboardInterrupt


def main(argv=None):
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    raise_fd_limit()
    info = {"timestamp": time.strftime("%Y%m%d-%H%M%S"), "notes": []}
    wrk_path, chosen, anchors_python = setup(args, info["notes"])
    steps = plan(args, chosen)
    per_step = args.duration + args.warmup + START_OVERHEAD_S
    log(f"{len(steps)} measurements, about {len(steps) * per_step / 60:.1f} min: {chosen}")
    if args.cpus is not None:
        server_cpu, wrk_cpu = args.cpus
        log(f"per core: every server on CPU {server_cpu} (all its threads), wrk on CPU {wrk_cpu}")
    info["loadavg_start"] = warn_if_busy()
    with tempfile.TemporaryDirectory(prefix="glade-bench-") as tmp:
        keep = Path(args.results_dir) / f"logs-{info['timestamp']}"
        log_dir = keep if args.keep_logs else Path(tmp)
        log_dir.mkdir(parents=True, exist_ok=True)
        ctx = Context(args, wrk_path, anchors_python, log_dir)
        rows, info["interrupted"] = run_all(ctx, steps)
    summary = write_results(args, rows, info, anchors_python)
    ok = any(s["median_rps"] for s in summary)
    return 0 if ok and not info["interrupted"] else 1


if __name__ == "__main__":
    sys.exit(main())
