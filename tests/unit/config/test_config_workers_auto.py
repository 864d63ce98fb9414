"""`workers = auto` from every source: it becomes a number when the config is
loaded (cfg.workers is an int), WEB_CONCURRENCY's number wins over it, and
--print-config says how the number was found. The cgroup is a fake tree."""

from __future__ import annotations

import pytest

from glade.cli import format_config, load
from glade.config import ConfigError
from glade.cpu_quota import ROOT_VARIABLE, usable_cpus


@pytest.fixture
def one_cpu(tmp_path, monkeypatch):
    """A cgroup that allows one CPU: less than `usable_cpus()` on any machine
    with two, so the answer cannot be the affinity count by accident."""
    root = tmp_path / "cgroup"
    root.mkdir()
    (root / "cpu.max").write_text("100000 100000\n")
    monkeypatch.setenv(ROOT_VARIABLE, str(root))
    return root


def workers_line(cfg) -> str:
    return next(line for line in format_config(cfg).splitlines() if line.startswith("workers ="))


def test_the_default_stays_one(one_cpu):
    cfg = load([])
    assert cfg.workers == 1
    assert cfg.notes == {}
    assert cfg.warnings == []  # GLADE_CGROUP_ROOT is known, not a misspelt setting


@pytest.mark.parametrize("spelling", ["auto", "AUTO", " Auto "])
def test_auto_on_the_command_line(one_cpu, spelling):
    cfg = load(["-w", spelling])
    assert cfg.workers == 1 and type(cfg.workers) is int
    assert str(cfg.source_of("workers")) == "flag -w/--workers"
    assert cfg.notes["workers"] == "auto: cgroup cpu.max 100000/100000"
    assert workers_line(cfg).endswith("# flag -w/--workers (auto: cgroup cpu.max 100000/100000)")


def test_auto_from_the_environment_and_glade_cmd_args(one_cpu, monkeypatch):
    monkeypatch.setenv("GLADE_WORKERS", "auto")
    cfg = load([])
    assert (cfg.workers, str(cfg.source_of("workers"))) == (1, "env GLADE_WORKERS")
    monkeypatch.delenv("GLADE_WORKERS")
    monkeypatch.setenv("GLADE_CMD_ARGS", "--workers auto")
    assert load([]).workers == 1


def test_auto_in_config_files(one_cpu, write):
    write("glade.conf.py", "workers = 'auto'\n")
    cfg = load([])
    assert (cfg.workers, str(cfg.source_of("workers"))) == (1, "glade.conf.py:1")
    write("glade.toml", 'workers = "auto"\n')
    assert load(["-c", "glade.toml"]).workers == 1


def test_without_a_quota_auto_counts_the_cpus_to_run_on(one_cpu):
    (one_cpu / "cpu.max").write_text("max 100000\n")
    cfg = load(["-w", "auto"])
    assert cfg.workers == usable_cpus()
    assert cfg.notes["workers"].startswith("auto: no cgroup CPU quota, ")


def test_web_concurrency_wins_over_auto(one_cpu, monkeypatch):
    monkeypatch.setenv("WEB_CONCURRENCY", "3")
    cfg = load(["-w", "auto"])
    assert cfg.workers == 3
    assert workers_line(cfg).endswith("# flag -w/--workers (auto: WEB_CONCURRENCY=3)")
    monkeypatch.setenv("GLADE_WORKERS", "auto")
    assert load([]).workers == 3


def test_a_number_still_wins_over_web_concurrency(one_cpu, monkeypatch):
    monkeypatch.setenv("WEB_CONCURRENCY", "3")
    cfg = load(["-w", "4"])
    assert cfg.workers == 4 and cfg.notes == {}


def test_web_concurrency_may_say_auto_itself(one_cpu, monkeypatch):
    monkeypatch.setenv("WEB_CONCURRENCY", "auto")
    cfg = load([])
    assert (cfg.workers, str(cfg.source_of("workers"))) == (1, "env WEB_CONCURRENCY")
    assert cfg.notes["workers"] == "auto: cgroup cpu.max 100000/100000"


def test_each_load_reads_the_quota_again(one_cpu):
    """A reload (HUP) loads the config again: a resized container is seen."""
    assert load(["-w", "auto"]).workers == 1
    (one_cpu / "cpu.max").write_text(f"{usable_cpus() * 100000} 100000\n")
    assert load(["-w", "auto"]).workers == usable_cpus()


def test_a_word_other_than_auto_is_refused(one_cpu):
    with pytest.raises(ConfigError) as caught:
        load(["-w", "automatic"])
    assert str(caught.value) == (
        "setting 'workers' (from flag -w/--workers) is 'automatic'; "
        "expected an integer >= 1, or auto"
    )
