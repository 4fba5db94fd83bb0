"""`verify_day`: what a damaged day and a day with data-quality problems report."""

from __future__ import annotations

import datetime as dt
import shutil
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from vnrec import testing
from vnrec.analytics.verify import VerifyReport, verify_day
from vnrec.errors import NoDataError
from vnrec.recorder.connections import DAY_EVENT, ConnectionLog
from vnrec.storage.journal import Journal, journal_dir
from vnrec.storage.layout import Layout, part_name

from .conftest import Write

DAY = dt.date(2026, 11, 5)


def _status(report: VerifyReport) -> dict[str, str]:
    return {check.name: check.status for check in report.checks}


def _check(report: VerifyReport, name: str) -> dict[str, Any]:
    (found,) = [c.to_dict() for c in report.checks if c.name == name]
    return found


def _clean_batch(first_total: int = 0) -> list[testing.Envelope]:
    return [
        testing.quote("AAA", [(100.0, 10.0)], [(101.0, 10.0)], time="09:20:00"),
        testing.trade("AAA", 101.0, 100, first_total + 100, time="09:20:01"),
        testing.index("VN30", 1300.0, time="09:20:02"),
    ]


def test_clean_day(write: Write, layout: Layout) -> None:
    """A day written by the importer passes every check; coverage is skipped without a
    connections table."""
    write(_clean_batch())
    report = verify_day(layout.root, DAY)
    assert not report.damaged
    assert report.events == 3
    assert _status(report) == {
        "commit_log": "ok",
        "parts": "ok",
        "seq_coverage": "ok",
        "journal": "ok",
        "uncommitted_files": "ok",
        "raw_seq": "ok",
        "normalized_in_raw": "ok",
        "completeness": "ok",
        "repeats": "ok",
        "event_time_order": "ok",
        "coverage": "skipped",
        "stats_cache": "skipped",
        "basis_cache": "skipped",
    }
    assert report.render().startswith(
        "2026-11-05: OK (3 events)\n  [OK     ] commit_log: 2 commits in date=2026-11-05.log\n"
        "  [OK     ] parts: 4 committed parts present, checksums match, readable\n"
    )
    assert report.to_dict()["damaged"] is False


def test_no_data_is_an_error(layout: Layout) -> None:
    """A day without committed data or journal raises NoDataError."""
    with pytest.raises(NoDataError):
        verify_day(layout.root, DAY)


def test_a_deleted_committed_part_is_damage(write: Write, layout: Layout) -> None:
    """A committed part that is gone: the parts check names it, and its rows are missing."""
    write(_clean_batch())
    write(_clean_batch(100))
    lost = layout.parts("trades", DAY)[-1]
    lost.path.unlink()
    report = verify_day(layout.root, DAY)
    assert report.damaged
    assert _check(report, "parts")["details"] == [
        {"table": "trades", "part": lost.name, "problem": "missing (committed, but not on disk)"}
    ]


def test_seq_gap_in_raw(write: Write, layout: Layout) -> None:
    """A missing first batch shows as missing parts and missing seqs 1..3 in raw."""
    write(_clean_batch())
    write(_clean_batch(100))
    for table in ("raw", "trades", "quotes", "index"):
        layout.parts(table, DAY)[0].path.unlink()
    report = verify_day(layout.root, DAY)
    assert _check(report, "parts")["status"] == "error"
    seq = _check(report, "raw_seq")
    assert seq["status"] == "error"
    assert seq["summary"] == "seq 1..6: 3 missing seqs, 0 duplicate rows"
    assert seq["details"] == [{"problem": "missing", "first_missing": 1, "last_missing": 3}]


def test_a_rewritten_part_fails_its_checksum(write: Write, layout: Layout) -> None:
    """A part replaced by other rows (here: one row twice) no longer matches the checksum
    recorded at its commit."""
    write(_clean_batch())
    (part,) = layout.parts("raw", DAY)
    table = pq.read_table(part.path)
    pq.write_table(pa.concat_tables([table, table.slice(0, 1)]), part.path)
    parts = _check(verify_day(layout.root, DAY), "parts")
    assert parts["status"] == "error"
    assert "(altered" in parts["details"][0]["problem"]


def test_flipped_bytes_inside_a_part_are_found(write: Write, layout: Layout) -> None:
    """A few bytes changed inside a data page, same size: the SHA-256 catches it."""
    write(_clean_batch())
    (part,) = layout.parts("trades", DAY)
    data = bytearray(part.path.read_bytes())
    for offset in range(40, 48):
        data[offset] ^= 0x5A
    part.path.write_bytes(bytes(data))
    report = verify_day(layout.root, DAY)
    assert report.damaged
    assert _check(report, "parts")["details"] == [
        {
            "table": "trades",
            "part": part.name,
            "problem": "SHA-256 differs from its commit record (altered or damaged)",
        }
    ]


def test_garbage_part_and_stray_file(write: Write, layout: Layout) -> None:
    """A committed part overwritten with garbage is damage; a file no commit names is only
    reported (it is invisible to vnrec's readers)."""
    write(_clean_batch())
    write(_clean_batch(100))
    quotes = layout.parts("quotes", DAY)[0].path
    quotes.write_bytes(b"garbage")
    index_parts = layout.parts("index", DAY)
    shutil.copy(index_parts[0].path, layout.part_path("index", DAY, 2, 5))
    report = verify_day(layout.root, DAY)
    parts = _check(report, "parts")
    assert parts["status"] == "error"
    assert [(p["table"], p["part"]) for p in parts["details"]] == [("quotes", quotes.name)]
    stray = _check(report, "uncommitted_files")
    assert stray["status"] == "warning"
    assert stray["details"] == [{"table": "index", "file": part_name(2, 5)}]
    assert _check(report, "raw_seq")["status"] == "ok"


def test_unconverted_journal_is_reported(write: Write, layout: Layout) -> None:
    """Messages a killed recorder journaled but did not commit are a warning with their seq
    range; a journal that does not continue the committed seq is damage."""
    write(_clean_batch())
    journal = Journal(journal_dir(layout.root, DAY), first_seq=4, monotonic=lambda: 0.0)
    journal.append("X-TRADE", str(testing.trade("AAA", 101.0, 100, 200)["Content"]), 1)
    journal.append("X-TRADE", str(testing.trade("AAA", 101.0, 100, 300)["Content"]), 2)
    journal.close()
    check = _check(verify_day(layout.root, DAY), "journal")
    assert check["status"] == "warning"
    assert check["summary"].startswith("2 messages (seq 4-5) journaled but not yet committed")
    other = Journal(journal_dir(layout.root, DAY), first_seq=9, monotonic=lambda: 0.0)
    other.append("X-TRADE", str(testing.trade("AAA", 101.0, 100, 400)["Content"]), 3)
    other.close()
    check = _check(verify_day(layout.root, DAY), "journal")
    assert check["status"] == "error"
    assert check["details"] == [
        {"segment": "segment-000000000009.journal", "first_seq": 9, "expected": 6}
    ]


def test_quality_warnings_do_not_damage(write: Write, layout: Layout) -> None:
    """Missed volume, repeats and event times going backwards are warnings."""
    write(
        [
            testing.trade("AAA", 100.0, 100, 100, time="09:30:00"),
            testing.trade("AAA", 100.0, 100, 500, time="09:31:00"),  # 300 missed before
            testing.trade("AAA", 100.0, 100, 100, time="09:29:00"),  # repeat, time back
            testing.trade("BBB", 100.0, 100, 100, time="09:29:00"),
        ]
    )
    report = verify_day(layout.root, DAY)
    assert not report.damaged
    completeness = _check(report, "completeness")
    assert completeness["status"] == "warning"
    assert completeness["details"] == [
        {"symbol": "AAA", "last_total_vol": 500, "counted_volume": 200, "missed_volume": 300}
    ]
    assert _check(report, "repeats")["details"] == [{"symbol": "AAA", "repeats": 1}]
    order = _check(report, "event_time_order")
    assert order["status"] == "warning"
    assert [(d["table"], d["key"], d["seq"]) for d in order["details"]] == [("trades", "AAA", 3)]


def _connections(layout: Layout, table: pa.Table) -> None:
    directory = layout.root / "connections" / f"date={DAY.isoformat()}"
    directory.mkdir(parents=True)
    pq.write_table(table, directory / "part-000000000001-000000000003.parquet")


def _run(layout: Layout, run_id: str, events: list[tuple[int, str]]) -> None:
    """One recorder run's connection events (minutes after 09:00 local), as the recorder
    writes them."""
    log = ConnectionLog(layout.root, run_id)
    for minute, event in events:
        at = dt.datetime(2026, 11, 5, 2, minute, tzinfo=dt.UTC)
        log.record(at, event, "test", 0)
    log.record(dt.datetime(2026, 11, 5, 2, 0, tzinfo=dt.UTC), DAY_EVENT, DAY.isoformat(), 0)
    log.close()


def test_connection_gaps(write: Write, layout: Layout) -> None:
    """A disconnect, a stall and a killed run are coverage gaps until the next connect; the
    disconnect at a clean stop is not."""
    write(_clean_batch())
    _run(layout, "1", [(0, "start"), (0, "connect"), (10, "disconnect"), (12, "connect"),
                       (20, "stall"), (21, "connect"), (30, "subscribe")])  # fmt: skip
    _run(layout, "2", [(40, "start"), (40, "connect"), (50, "disconnect"), (50, "stop")])
    coverage = _check(verify_day(layout.root, DAY), "coverage")
    assert coverage["status"] == "warning"
    at = [dt.datetime(2026, 11, 5, 2, m, tzinfo=dt.UTC) for m in (10, 12, 20, 21, 30, 40)]
    assert coverage["details"] == [
        {
            "disconnected": at[0],
            "reconnected": at[1],
            "seconds": 120.0,
            "reason": "disconnect: test",
            "seq": None,
        },
        {
            "disconnected": at[2],
            "reconnected": at[3],
            "seconds": 60.0,
            "reason": "stall: test",
            "seq": None,
        },
        {
            "disconnected": at[4],
            "reconnected": at[5],
            "seconds": 600.0,
            "reason": "recorder stopped without a clean stop",
            "seq": None,
        },
    ]


def test_connections_without_known_columns_are_skipped(write: Write, layout: Layout) -> None:
    """A connections table with other columns is noted and skipped, not guessed at."""
    write(_clean_batch())
    _connections(layout, pa.table({"x": [1]}))
    coverage = _check(verify_day(layout.root, DAY), "coverage")
    assert coverage["status"] == "skipped"
