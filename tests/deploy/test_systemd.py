"""deploy/systemd/: units systemd accepts, a stop timeout that fits the
drain, and the unit's own command line run the way systemd runs it.

`systemd-analyze verify` checks the units where it is installed. The last
test runs the service's ExecStart (its flags unchanged; the app, the path of
glade and the metrics port swapped for the test's) under
`systemd-socket-activate`, which hands it a listening socket as glade.socket
would, with a NOTIFY_SOCKET the test reads as systemd would.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support.deploy import STOP_MARGIN, SYSTEMD_DIR, glade_config, workers_from_auto
from support.server import TRACEBACK, free_port, http_get, kill_group, wait_until

from glade.config.loader import DEFAULT

HERE = Path(__file__).resolve().parent
APP = "deploy_app:app"
SERVICE = SYSTEMD_DIR / "glade.service"
SOCKET = SYSTEMD_DIR / "glade.socket"


def unit(path: Path) -> dict[str, dict[str, list[str]]]:
    """section -> key -> every value given (a key may repeat), with
    continuation lines joined the way systemd joins them."""
    sections: dict[str, dict[str, list[str]]] = {}
    current = None
    pending = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith(("#", ";"))):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line, pending = pending + line, ""
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        key, _, value = line.partition("=")
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


def one(section: dict[str, list[str]], key: str) -> str:
    (value,) = section[key]
    return value


def seconds(timespan: str) -> float:
    """A systemd time span: "45", "45s", "1min 30s"."""
    units = {"": 1, "s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600}
    parts = re.findall(r"(\d+(?:\.\d+)?)\s*([a-z]*)", timespan)
    assert parts and all(unit in units for _, unit in parts), timespan
    return sum(float(number) * units[unit] for number, unit in parts)


def exec_start() -> list[str]:
    return shlex.split(one(unit(SERVICE)["Service"], "ExecStart"))


def test_units_pass_systemd_analyze_verify(tmp_path):
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed (Debian: apt-get install systemd)")
    # verify checks that ExecStart's program exists: point it at this glade.
    glade = Path(sys.executable).with_name("glade")
    assert glade.exists(), f"no glade script next to {sys.executable}"
    installed = exec_start()[0]
    (tmp_path / SERVICE.name).write_text(SERVICE.read_text().replace(installed, str(glade)))
    shutil.copy(SOCKET, tmp_path / SOCKET.name)
    result = subprocess.run(
        [analyze, "verify", "--man=no", f"./{SERVICE.name}", f"./{SOCKET.name}"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    # verify only warns about an unknown key or a bad value: any word on our units fails.
    ours = [line for line in output.splitlines() if "glade." in line or str(tmp_path) in line]
    assert not ours, output


def test_stop_timeout_fits_the_shutdown_delay_and_the_drain():
    service = unit(SERVICE)["Service"]
    cfg = glade_config(exec_start()[1:])
    stop_timeout = seconds(one(service, "TimeoutStopSec"))
    assert stop_timeout >= cfg.shutdown_delay + cfg.graceful_timeout + STOP_MARGIN


def test_service_is_notify_reloads_with_hup_and_stops_the_master_only():
    sections = unit(SERVICE)
    service = sections["Service"]
    assert one(service, "Type") == "notify"
    # Glade's sd_notify messages come from the master alone.
    assert one(service, "NotifyAccess") == "main"
    assert one(service, "ExecReload") == "/bin/kill -HUP $MAINPID"
    assert one(service, "KillMode") == "mixed"
    cfg = glade_config(exec_start()[1:])
    assert workers_from_auto(cfg)
    assert cfg.metrics_bind


def test_service_takes_its_socket_from_the_socket_unit():
    sections = unit(SERVICE)
    assert SOCKET.name in sections["Unit"]["Requires"][0].split()
    assert SOCKET.name in sections["Unit"]["After"][0].split()
    # No -b: Glade serves on the sockets it is given.
    assert glade_config(exec_start()[1:]).source_of("bind") is DEFAULT
    assert unit(SOCKET)["Socket"]["ListenStream"]


def test_the_service_command_under_socket_activation(tmp_path):
    """What systemd does with these units: a socket bound before Glade runs
    (the first connection waits in its queue while Glade boots), READY=1,
    a reload, and a stop that serves through the shutdown delay with
    /readyz at 503, then drains and exits 0 within TimeoutStopSec."""
    activate = shutil.which("systemd-socket-activate")
    if activate is None:
        pytest.skip("systemd-socket-activate is not installed (Debian: apt-get install systemd)")
    argv = exec_start()[1:]
    cfg = glade_config(argv)
    stop_timeout = seconds(one(unit(SERVICE)["Service"], "TimeoutStopSec"))
    metrics_port = free_port()
    argv[argv.index("--metrics-bind") + 1] = f"127.0.0.1:{metrics_port}"
    argv[argv.index(cfg.wsgi_app)] = APP
    port = free_port()

    notify_path = str(tmp_path / "notify.sock")
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(notify_path)
    notify.settimeout(20)
    log = tmp_path / "glade.log"
    # systemd-socket-activate passes only the variables named with -E.
    passed = [f"NOTIFY_SOCKET={notify_path}", "PYTHONUNBUFFERED=1"]
    if os.environ.get("PYTHONPATH"):
        passed.append(f"PYTHONPATH={os.environ['PYTHONPATH']}")
    command = [activate, "-l", f"127.0.0.1:{port}"]
    for variable in passed:
        command += ["-E", variable]
    command += [sys.executable, "-m", "glade", *argv]
    with open(log, "wb") as output:
        proc = subprocess.Popen(
            command,
            cwd=HERE,
            stdout=output,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )

    def wait_for_message(text: str) -> None:
        """Read sd_notify messages (STATUS= lines come too) until one has `text`."""
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if text in notify.recv(4096).decode():
                return
        raise AssertionError(f"no {text} from glade:\n{log.read_text()}")

    try:
        assert wait_until(lambda: b"Listening on" in log.read_bytes(), 10), log.read_text()
        # This connection starts Glade (it execs in systemd-socket-activate's place).
        assert http_get("127.0.0.1", port, "/", timeout=20) == (200, b"ok")
        wait_for_message("READY=1")
        assert "inherited listening sockets" in log.read_text()
        assert http_get("127.0.0.1", metrics_port, "/readyz")[0] == 200

        proc.send_signal(signal.SIGHUP)  # ExecReload
        wait_for_message("RELOADING=1")
        wait_for_message("READY=1")

        proc.send_signal(signal.SIGTERM)  # systemctl stop, KillMode=mixed
        stopping = time.monotonic()
        assert wait_until(lambda: http_get("127.0.0.1", metrics_port, "/readyz")[0] == 503, 5)
        assert http_get("127.0.0.1", port, "/") == (200, b"ok")  # still serving
        wait_for_message("STOPPING=1")
        assert time.monotonic() - stopping >= cfg.shutdown_delay - 0.5
        assert proc.wait(timeout=stop_timeout) == 0
        assert time.monotonic() - stopping < stop_timeout
    finally:
        notify.close()
        kill_group(proc.pid)
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=5)
    output = log.read_text()
    assert output.count(TRACEBACK) == 0, output
