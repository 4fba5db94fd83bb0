"""`make bench` keeps working: a quick run of two benchmarks through the driver. No timing
is asserted, only that each reports figures in the documented shape."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def test_quick_bench_reports_rows() -> None:
    """The driver prints a markdown row per metric and writes no files in --no-write mode."""
    result = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--only", "import,replay", "--no-write"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    rows = [line for line in result.stdout.splitlines() if line.startswith("| import")]
    assert any("envelopes/s (1 core)" in row for row in rows)
    assert any(line.startswith("| replay | events/s") for line in result.stdout.splitlines())
