"""The anchors' own venv (bench/.venv-anchors): gunicorn, granian and matplotlib.

The anchors live apart from the project venv so that installing them can never change
the gevent or httptools that Glade is measured with, and so the project venv needs
nothing extra to run the bench. Flask, Werkzeug and Django, which serve workloads F
and G, are pinned to the versions the project venv was measured with: every server
must run the same framework code, or the comparison measures the frameworks.
"""

import json
import subprocess
import sys
import venv
from pathlib import Path

REQUIREMENTS = (
    "gunicorn[gevent]==27.0.1",
    "gunicorn_h1c==0.6.10",
    "granian",
    "gevent",
    "matplotlib",
    "flask==3.1.3",
    "werkzeug==3.1.9",
    "django==5.2.20",
)
FRAMEWORKS = ("flask", "werkzeug", "django")
DISTRIBUTIONS = ("gunicorn", "gunicorn_h1c", "granian", "gevent", "greenlet", "matplotlib")
DISTRIBUTIONS += FRAMEWORKS
MARKER = ".glade-bench-requirements"
INSTALL_TIMEOUT = 900


def venv_python(path):
    """Interpreter inside a venv (POSIX layout; the bench only runs on Linux)."""
    return Path(path) / "bin" / "python"


def _is_current(path):
    """True when the venv exists and was built from exactly today's requirement list."""
    marker = Path(path) / MARKER
    if not venv_python(path).exists() or not marker.exists():
        return False
    return marker.read_text().split() == list(REQUIREMENTS)


def ensure(path, upgrade=False, log=print):
    """Create or refresh the anchors venv; return its python. Installs are time-bounded."""
    path = Path(path)
    if _is_current(path) and not upgrade:
        return venv_python(path)
    if not venv_python(path).exists():
        log(f"creating anchors venv at {path}")
        venv.EnvBuilder(with_pip=True, clear=False).create(path)
    log("installing anchors: " + " ".join(REQUIREMENTS))
    cmd = [str(venv_python(path)), "-m", "pip", "install", "--quiet", "--upgrade"]
    subprocess.run(cmd + list(REQUIREMENTS), check=True, timeout=INSTALL_TIMEOUT)
    (path / MARKER).write_text("\n".join(REQUIREMENTS) + "\n")
    return venv_python(path)


def versions(python, names=DISTRIBUTIONS, timeout=60):
    """Installed versions of `names` under `python`, recorded so results can be compared."""
    code = (
        "import json, sys\n"
        "from importlib import metadata\n"
        "out = {}\n"
        "for name in sys.argv[1:]:\n"
        "    try:\n"
        "        out[name] = metadata.version(name)\n"
        "    except metadata.PackageNotFoundError:\n"
        "        pass\n"
        "print(json.dumps(out))\n"
    )
    try:
        done = subprocess.run(
            [str(python), "-c", code, *names],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=True,
        )
        return json.loads(done.stdout)
    except (OSError, subprocess.SubprocessError, ValueError):
        return {}


def has_module(python, module, timeout=60):
    """Whether `python` can import `module` (checked in a subprocess, bounded)."""
    try:
        done = subprocess.run(
            [str(python), "-c", f"import {module}"],
            capture_output=True,
            timeout=timeout,
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0


if __name__ == "__main__":
    print(ensure(Path(__file__).resolve().parent.parent / ".venv-anchors", "--upgrade" in sys.argv))
