"""How many CPUs this process may use: what ``workers = auto`` counts.

``os.cpu_count()`` counts the host's cores. In a container limited to two
CPUs on a 64-core host it says 64, and 64 workers then share two CPUs' worth
of time: the kernel throttles them all, and the app sits in memory 64 times.
What a container is really given is its cgroup's CPU quota:

- cgroup v2: ``cpu.max``, ``"200000 100000"`` (2 CPUs) or ``"max 100000"``
  (no limit);
- cgroup v1: ``cpu.cfs_quota_us`` over ``cpu.cfs_period_us``, ``-1`` for no
  limit.

A limit may be set on any parent of the process's cgroup (Kubernetes sets it
on the pod, systemd on a slice), so every level up to the root is read and
the smallest limit counts. Directories that are not there are skipped: in a
container without its own cgroup namespace, /proc/self/cgroup names a path
on the host, while the container's own cgroup is mounted at the root. A
fraction rounds up (1.5 CPUs: 2 workers), and the count is never more than
the CPUs the process may run on (its affinity mask, as ``taskset`` or a
cpuset leaves it): a quota cannot make more of them. With no quota, that
count is the answer.

The cgroup file system is read at /sys/fs/cgroup, or at ``GLADE_CGROUP_ROOT``
for containers that mount it elsewhere (tests point it at fake files). A file
that is missing or does not parse counts as no limit: the worst outcome is
the affinity count, never an error at startup.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace

CGROUP_ROOT = "/sys/fs/cgroup"
ROOT_VARIABLE = "GLADE_CGROUP_ROOT"
SELF_CGROUP = "/proc/self/cgroup"


@dataclass(frozen=True)
class Limit:
    """A CPU quota: `quota` microseconds of CPU time per `period`."""

    quota: int
    period: int
    where: str  # what was read, as --print-config shows it

    @property
    def cpus(self) -> int:
        """Whole CPUs, rounded up."""
        return -(-self.quota // self.period)


@dataclass(frozen=True)
class CpuCount:
    count: int
    reason: str  # "cgroup cpu.max 200000/100000", for --print-config


def available_cpus(environ: Mapping[str, str] | None = None) -> CpuCount:
    """The number of workers ``auto`` means, and why."""
    environ = os.environ if environ is None else environ
    root = environ.get(ROOT_VARIABLE) or CGROUP_ROOT
    usable = usable_cpus()
    limit = cgroup_limit(root, _read(SELF_CGROUP) or "")
    runnable = f"{usable} CPU{'s' * (usable != 1)} to run on"
    if limit is None:
        return CpuCount(usable, f"no cgroup CPU quota, {runnable}")
    if limit.cpus > usable:
        return CpuCount(usable, f"{limit.where}, but {runnable}")
    return CpuCount(limit.cpus, limit.where)


def usable_cpus() -> int:
    """The CPUs this process may run on, which may be fewer than the host's."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):  # not Linux
        return os.cpu_count() or 1


def cgroup_limit(root: str, membership: str) -> Limit | None:
    """The tightest CPU quota on the cgroup named in `membership` (the text
    of /proc/self/cgroup) or any of its parents; cgroup v2 first, then v1."""
    v2_path = "/"
    v1_controllers, v1_path = "cpu", "/"
    for line in membership.splitlines():
        fields = line.strip().split(":", 2)
        if len(fields) != 3:
            continue
        number, controllers, path = fields
        if number == "0" and controllers == "":
            v2_path = path
        elif "cpu" in controllers.split(","):
            v1_controllers, v1_path = controllers, path
    return _tightest(_v2_limits(root, v2_path)) or _tightest(
        _v1_limits(root, v1_controllers, v1_path)
    )


def parse_cpu_max(text: str) -> Limit | None:
    """cgroup v2's ``cpu.max``: "QUOTA PERIOD", or "max PERIOD" for none."""
    fields = text.split()
    if len(fields) != 2 or fields[0] == "max":
        return None
    quota, period = _positive(fields[0]), _positive(fields[1])
    if quota is None or period is None:
        return None
    return Limit(quota, period, f"cgroup cpu.max {quota}/{period}")


def parse_cfs(quota_text: str, period_text: str) -> Limit | None:
    """cgroup v1's ``cpu.cfs_quota_us`` (-1 for none) and ``cpu.cfs_period_us``."""
    quota, period = _positive(quota_text), _positive(period_text)
    if quota is None or period is None:
        return None
    return Limit(quota, period, f"cgroup cpu.cfs_quota_us/cpu.cfs_period_us {quota}/{period}")


def _v2_limits(root: str, path: str) -> list[Limit]:
    limits = []
    for level in _levels(path):
        text = _read(os.path.join(root, level, "cpu.max"))
        limit = parse_cpu_max(text) if text is not None else None
        if limit is not None:
            limits.append(_at(limit, level))
    return limits


def _v1_limits(root: str, controllers: str, path: str) -> list[Limit]:
    # Mounted as "cpu,cpuacct" with a "cpu" link to it, or as "cpu" alone.
    for name in dict.fromkeys((controllers, "cpu")):
        hierarchy = os.path.join(root, name)
        if os.path.isdir(hierarchy):
            break
    else:
        return []
    limits = []
    for level in _levels(path):
        directory = os.path.join(hierarchy, level)
        quota = _read(os.path.join(directory, "cpu.cfs_quota_us"))
        period = _read(os.path.join(directory, "cpu.cfs_period_us"))
        if quota is None or period is None:
            continue
        limit = parse_cfs(quota, period)
        if limit is not None:
            limits.append(_at(limit, level))
    return limits


def _levels(path: str) -> list[str]:
    """'/a/b' -> ['a/b', 'a', '']: the cgroup, then each parent up to the root."""
    parts = [part for part in path.strip().split("/") if part not in ("", ".", "..")]
    return ["/".join(parts[:depth]) for depth in range(len(parts), -1, -1)]


def _at(limit: Limit, level: str) -> Limit:
    """Name the cgroup a limit was found on, unless it is the top of the mount
    (in a container, usually the container's own cgroup)."""
    return replace(limit, where=f"{limit.where} at /{level}") if level else limit


def _tightest(limits: list[Limit]) -> Limit | None:
    if not limits:
        return None
    return min(limits, key=lambda limit: limit.quota / limit.period)


def _positive(text: str) -> int | None:
    try:
        number = int(text.strip())
    except ValueError:
        return None
    return number if number > 0 else None


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="ascii", errors="replace") as file:
            return file.read(4096)
    except OSError:
        return None
