"""`vnrec demo` end to end on a small market: record, replay, parity with DuckDB, chart."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def test_demo_records_replays_checks_parity_and_draws(tmp_path: Path) -> None:
    """The demo completes offline, says replay and DuckDB agree, and writes a PNG chart."""
    root = tmp_path / "demo"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "vnrec.cli.main",
            "demo",
            "--data",
            str(root),
            "--symbols",
            "3",
            "--activity",
            "0.05",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "replay == DuckDB for all" in result.stderr
    assert "0 reconnects, 0 gaps, 0 malformed" in result.stderr
    for section in ("session stats", "foreign", "index", "basis"):
        assert f"\n{section}\n" in result.stdout
    chart = root / "demo-chart.png"
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert f"chart: {chart}" in result.stdout
    assert "watch it: vnrec serve --data " in result.stdout and "--replay 20" in result.stdout


def test_demo_refuses_a_directory_it_did_not_create(tmp_path: Path) -> None:
    """A non-empty directory without the demo marker is never wiped."""
    (tmp_path / "precious.txt").write_text("keep me")
    result = subprocess.run(
        [sys.executable, "-m", "vnrec.cli.main", "demo", "--data", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1
    assert "is not empty and not a demo directory" in result.stderr
    assert (tmp_path / "precious.txt").read_text() == "keep me"
