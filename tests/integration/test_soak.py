"""Mixed and hostile load for minutes leaks nothing and breaks nothing.

Two gevent workers serve keep-alive GETs, POST bodies of up to 1 MiB (with a
Content-Length and chunked), and clients that leave in the middle of a
request or of a response (support.mixed_load). Every 10 s each worker is
sampled: its resident memory and open descriptors from /proc, from outside,
and its live greenlets, which only the worker can count (the app's
/greenlets route answers for the worker that serves it). The same answer
gives the worker's allocated Python memory blocks: not a criterion, but
when RSS grows, they tell leaked objects from the allocator's own growth.

It fails on:
- any error a well-behaved client sees (a status or body other than the
  right one, a reset, a timeout);
- a traceback, an ERROR or CRITICAL line, or an unexpected warning in the
  server's log (EXPECTED_WARNINGS lists the ones that are not the server's
  fault);
- a worker that was replaced during the run;
- descriptors or greenlets above their baseline once the load has stopped
  and the server is idle (the baseline is taken idle, after a warm-up);
- resident memory of a worker growing by more than 2 MiB between the sample
  at one minute and the last one.

GLADE_SOAK_SECONDS sets how long the load runs (`make soak`: 600). Without
it, `make test` runs a smoke form of SMOKE_SECONDS, too short for the memory
check to mean anything: it then skips that check and says so.
"""

from __future__ import annotations

import http.client
import os
import re
import time
from collections import Counter
from dataclasses import dataclass, field

import pytest
from support.mixed_load import MixedLoad
from support.server import GladeServer, children_of, vm_rss

APP = "soak_app:app"
SMOKE_SECONDS = 25.0
DURATION = float(os.environ.get("GLADE_SOAK_SECONDS", SMOKE_SECONDS))
SAMPLE_EVERY = 10.0
CLIENTS = 8
WARM_UP = 15.0 if DURATION >= 120 else 4.0
RSS_FROM = 60.0  # the sample the memory check starts from
RSS_CHECKED = DURATION >= RSS_FROM + 60  # at least a minute of load after it
RSS_GROWTH_LIMIT = 2 * 1024 * 1024
# Idle keep-alive connections close after --keepalive (2 s) and a lingering
# close ends within 2 s: by then a worker is back to its idle state.
SETTLE = 5.0
IDLE_WAIT = 30.0
# Warnings that report the machine, not the server: on a loaded two-core
# machine the process can be off the CPU long enough for the watchdog to
# notice.
EXPECTED_WARNINGS = ("a greenlet has blocked the event loop",)
MIB = 1024 * 1024
LEVEL = re.compile(r"^\[[^\]]*\] \[\d+\] \[([A-Z]+)\]", re.MULTILINE)

pytestmark = pytest.mark.timeout(DURATION + WARM_UP + 4 * IDLE_WAIT + 120)


@dataclass
class Worker:
    rss: int
    fds: int
    greenlets: int | None
    blocks: int | None  # sys.getallocatedblocks(), after a collection


@dataclass
class Sample:
    label: str
    workers: dict[int, Worker]
    checked: int | None = None  # requests checked so far, while the load runs
    notes: list[str] = field(default_factory=list)


def open_descriptors(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def greenlet_counts(host: str, port: int, pids: list[int], timeout: float = 10.0):
    """Ask /greenlets on fresh connections until every worker has answered
    (or the time is up): ({pid: (greenlets, blocks)}, the errors met)."""
    counts: dict[int, tuple[int, int]] = {}
    errors: list[str] = []
    deadline = time.monotonic() + timeout
    while set(pids) - counts.keys() and time.monotonic() < deadline:
        connection = http.client.HTTPConnection(host, port, timeout=timeout)
        try:
            connection.request("GET", "/greenlets", headers={"Connection": "close"})
            response = connection.getresponse()
            pid, greenlets, blocks = map(int, response.read().split())
            counts[pid] = (greenlets, blocks)
        except (OSError, http.client.HTTPException, ValueError) as error:
            errors.append(f"GET /greenlets: {error!r}")
            time.sleep(0.1)
        finally:
            connection.close()
    return counts, errors


def take_sample(server, pids: list[int], label: str, load: MixedLoad | None = None) -> Sample:
    # Descriptors first, while none of this sample's connections is open.
    fds = {pid: open_descriptors(pid) for pid in pids}
    rss = {pid: vm_rss(pid) for pid in pids}
    counts, errors = greenlet_counts(server.host, server.port, pids)
    sample = Sample(
        label,
        {pid: Worker(rss[pid], fds[pid], *counts.get(pid, (None, None))) for pid in pids},
        load.checked if load else None,
    )
    sample.notes += errors[:3]
    if set(children_of(server.pid)) != set(pids):
        sample.notes.append(f"workers are now {children_of(server.pid)}, not {pids}")
    missing = set(pids) - counts.keys()
    if missing:
        sample.notes.append(f"no greenlet count from {sorted(missing)} within 10 s")
    return sample


def above(sample: Sample, baseline: Sample) -> list[str]:
    """What is still above the baseline in `sample`."""
    found = []
    for pid, worker in sample.workers.items():
        base = baseline.workers[pid]
        if worker.fds > base.fds:
            found.append(f"worker {pid}: {worker.fds} descriptors open, {base.fds} at the baseline")
        if worker.greenlets is None or worker.greenlets > base.greenlets:
            found.append(
                f"worker {pid}: {worker.greenlets} greenlets, {base.greenlets} at the baseline"
            )
    return found


def settled(server, pids: list[int], label: str, baseline: Sample | None = None) -> Sample:
    """After SETTLE s, sample until idle: at or below `baseline`, or (to take
    the baseline) the same descriptors and greenlets twice in a row."""
    time.sleep(SETTLE)
    deadline = time.monotonic() + IDLE_WAIT
    previous = take_sample(server, pids, label)
    while time.monotonic() < deadline:
        if baseline is not None and not above(previous, baseline):
            return previous
        time.sleep(1.0)
        sample = take_sample(server, pids, label)
        if baseline is None and not sample.notes and same_counts(sample, previous):
            return sample
        previous = sample
    return previous


def same_counts(one: Sample, other: Sample) -> bool:
    return all(
        (w.fds, w.greenlets) == (other.workers[pid].fds, other.workers[pid].greenlets)
        for pid, w in one.workers.items()
    )


def table(samples: list[Sample], pids: list[int]) -> str:
    header = f"{'sample':>10} |" + "".join(
        f" worker {pid:>7}: {'RSS MiB':>8} {'fds':>4} {'greenlets':>9} {'blocks':>7} |"
        for pid in pids
    )
    lines = [header + " checked requests", "-" * (len(header) + 17)]
    for sample in samples:
        line = f"{sample.label:>10} |"
        for pid in pids:
            worker = sample.workers[pid]
            greenlets = "?" if worker.greenlets is None else worker.greenlets
            blocks = "?" if worker.blocks is None else worker.blocks
            line += (
                f" {'':>15} {worker.rss / MIB:>8.2f} {worker.fds:>4} {greenlets:>9} {blocks:>7} |"
            )
        checked = "-" if sample.checked is None else sample.checked
        lines.append(f"{line} {checked:>16}" + "".join(f"  ({n})" for n in sample.notes))
    return "\n".join(lines)


def log_problems(output: str) -> tuple[list[str], list[str]]:
    """(lines that fail the soak, expected warnings) in the server's log."""
    problems, expected = [], []
    for line in output.splitlines():
        if "Traceback" in line or "[ERROR]" in line or "[CRITICAL]" in line:
            problems.append(line)
        elif "[WARNING]" in line:
            (expected if any(text in line for text in EXPECTED_WARNINGS) else problems).append(line)
    return problems, expected


def log_summary(output: str) -> str:
    """How many lines of each level the server logged, and how many of its
    INFO lines are refusals (clients that left inside a request head)."""
    levels = Counter(match.group(1) for match in LEVEL.finditer(output))
    refused = output.count("refused request from")
    return (
        "server log: "
        + ", ".join(f"{n} {level}" for level, n in sorted(levels.items()))
        + (f" ({refused} INFO lines are refusals of a request cut short)")
    )


def mib(growth: dict[int, int]) -> str:
    return ", ".join(f"worker {pid} {grown / MIB:+.2f} MiB" for pid, grown in growth.items())


def run_load(server, seconds: float, seed: int, pids: list[int], samples: list[Sample]):
    """The mixed load for `seconds`, sampled every SAMPLE_EVERY s into `samples`."""
    with MixedLoad(
        server.host, server.port, clients=CLIENTS, seed=seed, max_seconds=seconds + 60
    ) as load:
        started = time.monotonic()
        for k in range(1, int(seconds // SAMPLE_EVERY) + 1):
            time.sleep(max(started + k * SAMPLE_EVERY - time.monotonic(), 0))
            samples.append(take_sample(server, pids, f"{k * SAMPLE_EVERY:g} s", load))
        time.sleep(max(started + seconds - time.monotonic(), 0))
        load.stop()
    return load


@dataclass
class SoakRun:
    samples: list[Sample]
    pids: list[int]
    errors: list[str]  # what well-behaved clients met
    counts: Counter
    log: str
    report: str = ""

    @property
    def baseline(self) -> Sample:
        return self.samples[0]

    @property
    def idle(self) -> Sample:
        return self.samples[-1]

    def rss_growth(self, until: int = -1) -> dict[int, int]:
        """Each worker's RSS growth from the sample at RSS_FROM to the last
        (or to the sample `until`)."""
        start = next(s for s in self.samples if s.label == f"{RSS_FROM:g} s")
        end = self.samples[until]
        return {pid: end.workers[pid].rss - start.workers[pid].rss for pid in self.pids}


@pytest.fixture(scope="module")
def soak() -> SoakRun:
    """One server, a warm-up, the baseline, the load, the idle end: the
    tests below judge this one run."""
    with GladeServer(APP, "-k", "gevent", "-w", "2") as server:
        pids = sorted(server.worker_pids())
        assert len(pids) == 2, pids
        warm_up = run_load(server, WARM_UP, seed=1, pids=pids, samples=[])
        samples = [settled(server, pids, "baseline")]
        load = run_load(server, DURATION, seed=2, pids=pids, samples=samples)
        samples.append(settled(server, pids, "idle", samples[0]))
        run = SoakRun(samples, pids, warm_up.errors + load.errors, load.counts, server.output())
    server.log_path.unlink(missing_ok=True)
    if RSS_CHECKED:
        rss = (
            f"RSS growth from the sample at {RSS_FROM:g} s to the last: {mib(run.rss_growth())}"
            f" (to the last one under load: {mib(run.rss_growth(-2))})"
        )
    else:
        rss = f"RSS not checked: {DURATION:g} s is too short (GLADE_SOAK_SECONDS >= 120 checks it)"
    outcomes = ", ".join(f"{key}: {value}" for key, value in sorted(load.counts.items()))
    problems, warnings = log_problems(run.log)
    run.report = "\n".join(
        [
            f"soak: {DURATION:g} s of mixed load, {CLIENTS} clients, 2 gevent workers",
            table(samples, pids),
            f"outcomes: {outcomes}",
            rss,
            log_summary(run.log),
            f"log lines that fail the soak: {len(problems)}",
            f"expected warnings in the log: {len(warnings)}",
            *(f"  {line}" for line in warnings[:5]),
        ]
    )
    print("\n" + run.report)
    return run


def test_well_behaved_clients_get_every_response_right(soak):
    assert not soak.errors, soak.report + "\n" + "\n".join(soak.errors)
    assert soak.counts["ok"] > DURATION, soak.report
    notes = [note for sample in soak.samples for note in sample.notes]
    assert not notes, soak.report  # a worker replaced, or one that did not answer


def test_the_server_logs_no_error_and_no_unexpected_warning(soak):
    problems, _ = log_problems(soak.log)
    assert not problems, soak.report + "\n" + "\n".join(problems[:20])


def test_descriptors_and_greenlets_return_to_the_baseline_when_idle(soak):
    assert not above(soak.idle, soak.baseline), soak.report


@pytest.mark.skipif(
    not RSS_CHECKED,
    reason=f"RSS growth needs a longer run than {DURATION:g} s (GLADE_SOAK_SECONDS >= 120)",
)
def test_worker_memory_grows_at_most_2_mib_after_the_first_minute(soak):
    growth = soak.rss_growth()
    assert all(grown <= RSS_GROWTH_LIMIT for grown in growth.values()), soak.report
