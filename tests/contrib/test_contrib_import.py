"""Glade never needs gunicorn unless glade.contrib.gunicorn is used.

These run everywhere, with or without gunicorn installed: each check runs in
a fresh interpreter where gunicorn cannot be imported.
"""

import subprocess
import sys
import textwrap

NO_GUNICORN = "import sys\nsys.modules['gunicorn'] = None  # as if it were not installed\n"


def run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", NO_GUNICORN + textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_glade_imports_without_gunicorn():
    result = run(
        """
        import glade, glade.contrib, glade.cli, glade.workers.gevent
        loaded = [
            name for name, module in sys.modules.items()
            if name.split(".")[0] == "gunicorn" and module is not None
        ]
        assert loaded == [], loaded
        """
    )
    assert result.returncode == 0, result.stderr


def test_the_worker_class_says_what_to_install():
    result = run(
        """
        try:
            import glade.contrib.gunicorn
        except ImportError as error:
            print(error)
        """
    )
    assert result.returncode == 0, result.stderr
    assert "pip install 'glade[gunicorn]'" in result.stdout
