"""Run wrk (-t1, loopback only) and turn its --latency report into numbers.

One client thread keeps the load generator's CPU share fixed on a 2-core machine, so
the servers compete for the same remaining CPU.
"""

import re
import shutil
import subprocess

APT_TIMEOUT = 600
UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}
_DURATION = r"([\d.]+)(us|ms|s|m|h)"


def _apt(*args):
    """Run one apt-get command, bounded; report success without raising."""
    try:
        done = subprocess.run(
            ["apt-get", *args],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=APT_TIMEOUT,
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0


def ensure_wrk(log=print):
    """Path of wrk, installing it with apt-get when missing (update only if needed)."""
    found = shutil.which("wrk")
    if found:
        return found
    log("wrk not found: installing it with apt-get")
    if not _apt("install", "-y", "wrk"):
        _apt("update")
        _apt("install", "-y", "wrk")
    return shutil.which("wrk")


def command(wrk, url, connections, duration, headers=(), script=None):
    """The wrk command line for one measurement (also stored in the results)."""
    cmd = [wrk, "-t1", f"-c{connections}", f"-d{duration}s", "--latency"]
    for header in headers:
        cmd += ["-H", header]
    if script:
        cmd += ["-s", str(script)]
    return [*cmd, url]


def run(cmd, duration):
    """Run wrk with a hard time bound; return (parsed result, raw output)."""
    try:
        done = subprocess.run(
            cmd,
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            timeout=duration + 30,
        )
    except subprocess.TimeoutExpired:
        return {"error": "wrk timed out"}, ""
    out = done.stdout + done.stderr
    result = parse(out)
    if done.returncode != 0 and "error" not in result:
        result["error"] = f"wrk exited with {done.returncode}"
    return result, out


def to_ms(value, unit):
    """Convert a wrk duration ("850.00us", "1.2s") to milliseconds."""
    return float(value) * UNIT_MS[unit]


def _latency_percentiles(text):
    """p50/p75/p90/p99 in ms from the 'Latency Distribution' block."""
    found = {}
    for pct, value, unit in re.findall(r"^\s*(50|75|90|99)%\s+" + _DURATION, text, re.M):
        found[f"p{pct}_ms"] = to_ms(value, unit)
    return found


def _socket_errors(text):
    """wrk's 'Socket errors' line; absent means zero of each kind."""
    kinds = ("connect", "read", "write", "timeout")
    match = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    values = [int(v) for v in match.groups()] if match else [0, 0, 0, 0]
    return dict(zip(kinds, values, strict=True))


def parse(text):
    """Numbers from a wrk --latency report; {'error': ...} if it has no Requests/sec."""
    rps = re.search(r"^Requests/sec:\s+([\d.]+)", text, re.M)
    if not rps:
        first = text.strip().splitlines()[-1] if text.strip() else "no output"
        return {"error": f"no Requests/sec in wrk output: {first}"}
    total = re.search(r"^\s*(\d+) requests in " + _DURATION, text, re.M)
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    socket_errors = _socket_errors(text)
    result = {
        "requests_per_sec": float(rps.group(1)),
        "requests": int(total.group(1)) if total else None,
        "socket_errors": socket_errors,
        "non_2xx": int(non_2xx.group(1)) if non_2xx else 0,
    }
    result["errors"] = sum(socket_errors.values()) + result["non_2xx"]
    result.update(_latency_percentiles(text))
    return result
