"""Run a command on a pseudo-terminal, the way a person runs it in a shell.

The command becomes a session leader with the pty as its controlling
terminal, so writing the interrupt character (Ctrl+C, 0x03) to the pty
makes the kernel send SIGINT to the whole foreground process group:
master and workers alike, exactly as when a person presses Ctrl+C.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import termios
import threading
import time

CTRL_C = b"\x03"


class Terminal:
    def __init__(self, command: list[str], cwd: str, env: dict | None = None) -> None:
        self.master_fd, slave_fd = os.openpty()
        self._output = bytearray()
        self._lock = threading.Lock()

        def become_session_leader() -> None:
            os.setsid()
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)

        self.proc = subprocess.Popen(
            command,
            cwd=cwd,
            env=env,
            stdin=slave_fd,
            stdout=slave_fd,
            stderr=slave_fd,
            preexec_fn=become_session_leader,  # a controlling tty needs setsid + TIOCSCTTY
        )
        os.close(slave_fd)
        self.pid = self.proc.pid
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while True:
            try:
                data = os.read(self.master_fd, 65536)
            except OSError:
                return
            if not data:
                return
            with self._lock:
                self._output += data

    def output(self) -> str:
        with self._lock:
            return self._output.decode("utf-8", "replace").replace("\r\n", "\n")

    def press_ctrl_c(self) -> None:
        os.write(self.master_fd, CTRL_C)

    def wait_for_text(self, text: str, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.output():
                return True
            if self.proc.poll() is not None:
                return text in self.output()
            time.sleep(0.02)
        return False

    def close(self) -> None:
        try:
            os.killpg(self.pid, 9)
        except (ProcessLookupError, PermissionError):
            pass
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=5)
        self._reader.join(timeout=2)
        try:
            os.close(self.master_fd)
        except OSError:
            pass
