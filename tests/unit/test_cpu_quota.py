"""`workers = auto` counts CPUs from cgroup files: read here from fake
cgroup trees on disk, laid out as the kernel lays out the real ones."""

from __future__ import annotations

import os

import pytest

from glade.cpu_quota import (
    ROOT_VARIABLE,
    available_cpus,
    cgroup_limit,
    parse_cfs,
    parse_cpu_max,
    usable_cpus,
)

V2_ONLY = "0::/kubepods/pod1/app\n"
HYBRID = "12:cpu,cpuacct:/kubepods/pod1/app\n4:memory:/kubepods/pod1/app\n0::/\n"


def tree(root, files: dict[str, str]):
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return str(root)


# -- the files, one by one -------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "cpus"),
    [
        ("200000 100000\n", 2),
        ("150000 100000\n", 2),  # 1.5 CPUs round up
        ("100000 100000", 1),
        ("50000 100000", 1),  # half a CPU is still one worker
        ("100001 100000", 2),
        ("400000 50000", 8),
    ],
)
def test_cpu_max_with_a_quota(text, cpus):
    assert parse_cpu_max(text).cpus == cpus


@pytest.mark.parametrize(
    "text",
    [
        "max 100000\n",  # no limit
        "max",
        "",
        "garbage",
        "200000",
        "200000 0",
        "-5 100000",
        "200000 100000 7",
        "2.5 1",
        "\ufffd\ufffd",
    ],
)
def test_cpu_max_without_a_usable_quota(text):
    assert parse_cpu_max(text) is None


def test_cfs_quota():
    assert parse_cfs("150000\n", "100000\n").cpus == 2
    assert parse_cfs("300000", "100000").cpus == 3
    assert parse_cfs("-1\n", "100000\n") is None  # no limit
    for quota, period in [("", "100000"), ("abc", "100000"), ("100000", "0"), ("1e5", "1e5")]:
        assert parse_cfs(quota, period) is None


def test_the_limit_says_what_was_read():
    assert parse_cpu_max("200000 100000").where == "cgroup cpu.max 200000/100000"
    assert parse_cfs("150000", "100000").where == (
        "cgroup cpu.cfs_quota_us/cpu.cfs_period_us 150000/100000"
    )


# -- cgroup v2: the process's cgroup and its parents -------------------------------


def test_v2_quota_on_the_process_cgroup(tmp_path):
    root = tree(tmp_path, {"kubepods/pod1/app/cpu.max": "200000 100000\n"})
    limit = cgroup_limit(root, V2_ONLY)
    assert limit.cpus == 2
    assert limit.where == "cgroup cpu.max 200000/100000 at /kubepods/pod1/app"


def test_v2_max_everywhere_is_no_limit(tmp_path):
    root = tree(
        tmp_path,
        {"kubepods/pod1/app/cpu.max": "max 100000\n", "kubepods/cpu.max": "max 100000\n"},
    )
    assert cgroup_limit(root, V2_ONLY) is None


def test_v2_limit_set_on_a_parent(tmp_path):
    root = tree(
        tmp_path,
        {
            "kubepods/pod1/app/cpu.max": "max 100000\n",
            "kubepods/pod1/cpu.max": "300000 100000\n",
            "kubepods/cpu.max": "max 100000\n",
        },
    )
    limit = cgroup_limit(root, V2_ONLY)
    assert limit.cpus == 3
    assert limit.where.endswith(" at /kubepods/pod1")


def test_v2_the_tightest_level_counts(tmp_path):
    root = tree(
        tmp_path,
        {
            "kubepods/pod1/app/cpu.max": "400000 100000\n",
            "kubepods/pod1/cpu.max": "150000 100000\n",
            "kubepods/cpu.max": "800000 100000\n",
        },
    )
    assert cgroup_limit(root, V2_ONLY).cpus == 2


def test_v2_inside_a_container_without_its_own_cgroup_namespace(tmp_path):
    # /proc/self/cgroup names the host's path; the container's own cgroup is
    # what is mounted, so the limit sits at the top of the mount.
    root = tree(tmp_path, {"cpu.max": "100000 100000\n"})
    limit = cgroup_limit(root, "0::/system.slice/docker-0123abcd.scope\n")
    assert (limit.cpus, limit.where) == (1, "cgroup cpu.max 100000/100000")


def test_a_garbage_file_does_not_hide_a_parent_limit(tmp_path):
    root = tree(
        tmp_path,
        {"kubepods/pod1/app/cpu.max": "oops\n", "kubepods/cpu.max": "200000 100000\n"},
    )
    assert cgroup_limit(root, V2_ONLY).cpus == 2


def test_no_cgroup_files_at_all(tmp_path):
    assert cgroup_limit(str(tmp_path), V2_ONLY) is None
    assert cgroup_limit(str(tmp_path), HYBRID) is None
    assert cgroup_limit(str(tmp_path / "missing"), "") is None
    assert cgroup_limit(str(tmp_path), "garbage\n::\n0::/../../etc\n") is None


# -- cgroup v1: the cpu controller's CFS quota --------------------------------------


def test_v1_quota(tmp_path):
    root = tree(
        tmp_path,
        {
            "cpu,cpuacct/kubepods/pod1/app/cpu.cfs_quota_us": "150000\n",
            "cpu,cpuacct/kubepods/pod1/app/cpu.cfs_period_us": "100000\n",
        },
    )
    limit = cgroup_limit(root, HYBRID)
    assert limit.cpus == 2  # 1.5 rounds up
    assert limit.where == (
        "cgroup cpu.cfs_quota_us/cpu.cfs_period_us 150000/100000 at /kubepods/pod1/app"
    )


def test_v1_none(tmp_path):
    root = tree(
        tmp_path,
        {
            "cpu/kubepods/cpu.cfs_quota_us": "-1\n",
            "cpu/kubepods/cpu.cfs_period_us": "100000\n",
            "cpu/cpu.cfs_quota_us": "-1\n",
            "cpu/cpu.cfs_period_us": "100000\n",
        },
    )
    assert cgroup_limit(root, "3:cpu:/kubepods\n") is None


def test_v1_limit_set_on_a_parent_under_the_cpu_link(tmp_path):
    # Mounted as "cpu" alone, while /proc/self/cgroup says "cpu,cpuacct".
    root = tree(
        tmp_path,
        {
            "cpu/kubepods/pod1/app/cpu.cfs_quota_us": "-1\n",
            "cpu/kubepods/pod1/app/cpu.cfs_period_us": "100000\n",
            "cpu/kubepods/pod1/cpu.cfs_quota_us": "300000\n",
            "cpu/kubepods/pod1/cpu.cfs_period_us": "100000\n",
        },
    )
    assert cgroup_limit(root, HYBRID).cpus == 3


def test_v1_garbage_is_no_limit(tmp_path):
    root = tree(
        tmp_path,
        {"cpu/cpu.cfs_quota_us": "lots\n", "cpu/cpu.cfs_period_us": "100000\n"},
    )
    assert cgroup_limit(root, "3:cpu:/\n") is None


def test_v2_is_read_before_v1(tmp_path):
    root = tree(
        tmp_path,
        {
            "cpu.max": "100000 100000\n",
            "cpu/cpu.cfs_quota_us": "400000\n",
            "cpu/cpu.cfs_period_us": "100000\n",
        },
    )
    assert cgroup_limit(root, "3:cpu:/\n0::/\n").cpus == 1


# -- the answer `auto` gets -----------------------------------------------------------


def test_a_quota_gives_the_count(tmp_path):
    root = tree(tmp_path, {"cpu.max": "100000 100000\n"})
    cpus = available_cpus({ROOT_VARIABLE: root})
    assert (cpus.count, cpus.reason) == (1, "cgroup cpu.max 100000/100000")


def test_without_a_quota_the_cpus_this_process_may_run_on(tmp_path):
    root = tree(tmp_path, {"cpu.max": "max 100000\n"})
    cpus = available_cpus({ROOT_VARIABLE: root})
    assert cpus.count == usable_cpus() == len(os.sched_getaffinity(0))
    assert cpus.reason.startswith("no cgroup CPU quota, ")


def test_a_quota_above_the_usable_cpus_is_capped(tmp_path):
    usable = usable_cpus()
    root = tree(tmp_path, {"cpu.max": f"{(usable + 1) * 100000} 100000\n"})
    cpus = available_cpus({ROOT_VARIABLE: root})
    assert cpus.count == usable
    assert cpus.reason.endswith(f", but {usable} CPU{'s' * (usable != 1)} to run on")
