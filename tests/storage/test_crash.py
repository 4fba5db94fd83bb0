"""kill -9 during `vnrec import`: visible parts stay readable, no row is duplicated, and
importing the remaining lines with --append completes the day exactly."""

from __future__ import annotations

import datetime as dt
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pyarrow.parquet as pq
import pytest

from vnrec import testing as f
from vnrec.storage.layout import Layout

DAY = dt.date(2026, 11, 5)
LINES = 2_000
TRIALS = 5

pytestmark = pytest.mark.slow


def _vnrec(*args: str) -> list[str]:
    return [sys.executable, "-m", "vnrec.cli.main", *args]


def _write_day(path: Path) -> list[bytes]:
    envelopes = []
    for i in range(LINES // 2):
        envelopes.append(f.quote("A", [(9990.0, 100.0 + i)], [(10000.0, 100.0)]))
        envelopes.append(f.trade("A", 10000.0, 100.0, float(100 * (i + 1))))
    lines = f.to_jsonl(envelopes).splitlines(keepends=True)
    path.write_bytes(b"".join(lines))
    return lines


def _raw(layout: Layout) -> list[tuple[int, str]]:
    rows: list[tuple[int, str]] = []
    for table in ("raw", "trades", "quotes"):
        for part in layout.parts(table, DAY):
            pq.read_table(part.path)  # every visible part must be readable
    for part in layout.parts("raw", DAY):
        data = pq.read_table(part.path, columns=["seq", "content"]).to_pydict()
        rows.extend(zip(data["seq"], data["content"], strict=True))
    return rows


def test_kill_minus_nine_during_import_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    """Across several random kills, the committed prefix is intact and --append completes it."""
    source = tmp_path / "day.jsonl"
    lines = _write_day(source)
    rng = random.Random(20261105)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    interrupted = 0
    for trial in range(TRIALS):
        layout = Layout(tmp_path / f"data{trial}")
        proc = subprocess.Popen(
            _vnrec("import", str(source), "--data", str(layout.root), "--batch-lines", "40"),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        deadline = time.monotonic() + 60
        while not layout.parts("raw", DAY) and proc.poll() is None:
            assert time.monotonic() < deadline, "import wrote nothing in 60 s"
            time.sleep(0.005)
        time.sleep(rng.uniform(0.0, 0.4))
        proc.send_signal(signal.SIGKILL)
        proc.wait()

        rows = _raw(layout)
        seqs = [s for s, _ in rows]
        assert seqs == list(range(1, len(seqs) + 1)), f"trial {trial}: gap or duplicate"
        assert [c for _, c in rows] == [orjson.loads(x)["Content"] for x in lines[: len(rows)]]
        if 0 < len(rows) < len(lines):
            interrupted += 1
        rest = tmp_path / f"rest{trial}.jsonl"
        rest.write_bytes(b"".join(lines[len(rows) :]))
        if len(rows) < len(lines):
            subprocess.run(
                _vnrec("import", str(rest), "--data", str(layout.root), "--append"),
                check=True,
                capture_output=True,
            )
        complete = _raw(layout)
        assert [s for s, _ in complete] == list(range(1, LINES + 1))
        trade_seqs = []
        for part in layout.parts("trades", DAY):
            trade_seqs.extend(pq.read_table(part.path, columns=["seq"])["seq"].to_pylist())
        assert trade_seqs == list(range(2, LINES + 1, 2)), f"trial {trial}: trades damaged"
    assert interrupted >= 2, "too few kills landed mid-import to test anything"
