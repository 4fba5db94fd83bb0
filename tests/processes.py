"""Child processes of the end-to-end tests: stopped as a user would, never left behind."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

STOP_TIMEOUT_S = 120.0


def interrupt(proc: subprocess.Popen[Any], timeout: float = STOP_TIMEOUT_S) -> int:
    """Ctrl-C (SIGINT), then the exit status once the process has stopped."""
    proc.send_signal(signal.SIGINT)
    return proc.wait(timeout=timeout)


def reap(proc: subprocess.Popen[Any]) -> None:
    """Kill and wait for the process if it is still running (a test's `finally`)."""
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def vnrec(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """`vnrec ARGS` run as a user runs it, its output captured as text."""
    return subprocess.run(
        [sys.executable, "-m", "vnrec.cli.main", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=timeout,
        check=False,
    )
