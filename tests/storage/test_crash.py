"""kill -9 during `vnrec import` and `vnrec compact`, at random moments: readers never see
uncommitted, duplicated or missing rows, and running the same command again completes the
work exactly."""

from __future__ import annotations

import datetime as dt
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pyarrow.parquet as pq
import pytest

from vnrec import testing as f
from vnrec.analytics.verify import verify_day
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


def _seqs(layout: Layout, table: str) -> list[int]:
    """What a reader sees: the committed parts of the table, every one readable."""
    seqs: list[int] = []
    for part in layout.parts(table, DAY):
        seqs.extend(pq.read_table(part.path, columns=["seq"])["seq"].to_pylist())
    return seqs


def _contents(layout: Layout) -> list[str]:
    contents: list[str] = []
    for part in layout.parts("raw", DAY):
        contents.extend(pq.read_table(part.path, columns=["content"])["content"].to_pylist())
    return contents


def _files(layout: Layout) -> int:
    return sum(len(files) for files in layout.disk_parts(DAY).values())


def _kill_when(proc: subprocess.Popen[bytes], started: object, delay: float) -> None:
    """Kill -9 `delay` seconds after `started()` first holds (or once the process ended)."""
    deadline = time.monotonic() + 120
    while not started() and proc.poll() is None:  # type: ignore[operator]
        assert time.monotonic() < deadline, "the command did not start working in 120 s"
        time.sleep(0.002)
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    proc.wait()


def _verify_clean(layout: Layout) -> None:
    report = verify_day(layout.root, DAY)
    statuses = {check.name: check.status for check in report.checks}
    assert not report.damaged, report.render()
    assert statuses["uncommitted_files"] == statuses["commit_log"] == "ok", report.render()


def test_kill_minus_nine_during_import_is_all_or_nothing(tmp_path: Path) -> None:
    """While the import runs and after each kill, readers see no row or every row; running
    the same command again imports the whole file once (or refuses: already imported)."""
    source = tmp_path / "day.jsonl"
    lines = _write_day(source)
    rng = random.Random(20261105)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    outcomes = {"nothing": 0, "everything": 0}
    for trial in range(TRIALS):
        layout = Layout(tmp_path / f"data{trial}")
        command = _vnrec("import", str(source), "--data", str(layout.root), "--batch-lines", "40")
        proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)

        def started(layout: Layout = layout) -> bool:
            seen = _seqs(layout, "raw")
            assert seen in ([], list(range(1, LINES + 1))), "a reader saw part of an import"
            return _files(layout) > 0

        _kill_when(proc, started, rng.uniform(0.0, 0.6))
        assert proc.stderr is not None
        proc.stderr.close()
        seqs = _seqs(layout, "raw")
        assert seqs in ([], list(range(1, LINES + 1))), f"trial {trial}: partial import visible"
        outcomes["everything" if seqs else "nothing"] += 1

        again = subprocess.run(command, capture_output=True, check=False, env=env)
        if seqs:
            assert again.returncode == 1 and b"was already imported" in again.stderr
        else:
            assert again.returncode == 0, again.stderr.decode()
        assert _seqs(layout, "raw") == list(range(1, LINES + 1)), f"trial {trial}"
        assert _contents(layout) == [orjson.loads(x)["Content"] for x in lines]
        assert _seqs(layout, "trades") == list(range(2, LINES + 1, 2)), f"trial {trial}"
        _verify_clean(layout)
    assert outcomes["nothing"] >= 2, f"too few kills landed mid-import: {outcomes}"


def test_kill_minus_nine_during_compaction_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    """Compaction killed at random moments: readers always see every row exactly once, and
    compacting again finishes with one file per table."""
    source = tmp_path / "day.jsonl"
    _write_day(source)
    template = Layout(tmp_path / "template")
    subprocess.run(
        _vnrec("import", str(source), "--data", str(template.root), "--batch-lines", "20"),
        check=True,
        capture_output=True,
    )
    parts_before = len(template.parts("raw", DAY))
    expected = {t: _seqs(template, t) for t in ("raw", "trades", "quotes")}
    # How long an uninterrupted compaction takes here, to spread the kills over it (a
    # measurement of this machine now, not a threshold).
    timing = Layout(tmp_path / "timing")
    shutil.copytree(template.root, timing.root)
    began = time.monotonic()
    subprocess.run(
        _vnrec("compact", "--date", DAY.isoformat(), "--data", str(timing.root)),
        check=True,
        capture_output=True,
    )
    duration = time.monotonic() - began
    rng = random.Random(20261106)
    merged_at_kill = 0
    for trial in range(TRIALS):
        layout = Layout(tmp_path / f"data{trial}")
        shutil.copytree(template.root, layout.root)
        proc = subprocess.Popen(
            _vnrec("compact", "--date", DAY.isoformat(), "--data", str(layout.root)),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

        def started(layout: Layout = layout) -> bool:
            for table, seqs in expected.items():
                assert _seqs(layout, table) == seqs, f"a reader saw {table} change"
            return True

        _kill_when(proc, started, rng.uniform(0.0, duration))
        for table, seqs in expected.items():
            assert _seqs(layout, table) == seqs, f"trial {trial}: {table} after the kill"
        if len(layout.parts("raw", DAY)) == 1:
            merged_at_kill += 1
        subprocess.run(
            _vnrec("compact", "--date", DAY.isoformat(), "--data", str(layout.root)),
            check=True,
            capture_output=True,
        )
        for table, seqs in expected.items():
            assert [p.name for p in layout.parts(table, DAY)] == [
                f"part-{1:012d}-{LINES:012d}.parquet"
            ]
            assert _seqs(layout, table) == seqs
        _verify_clean(layout)
    assert parts_before > 50 and merged_at_kill < TRIALS, "no kill landed before the commit"
