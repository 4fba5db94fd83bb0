"""The journal: records round-trip, segments rotate, a torn tail is cut at the last complete
group commit and kept aside, and conversion to committed parts is idempotent across a
crash and never skips a record the day holds from another source."""

from __future__ import annotations

import datetime as dt
import zlib
from array import array
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from vnrec import testing as f
from vnrec.errors import StorageError
from vnrec.storage import journal as journal_module
from vnrec.storage import segments
from vnrec.storage.day import RecoveryReport, open_day
from vnrec.storage.importer import import_envelopes
from vnrec.storage.journal import (
    Journal,
    journal_dir,
    list_segments,
    repair_segment,
    scan_segment,
)
from vnrec.storage.layout import Layout

DAY = dt.date(2026, 11, 5)


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _journal(directory: Path, first_seq: int = 1, **kwargs: object) -> tuple[Journal, list[Path]]:
    closed: list[Path] = []
    journal = Journal(
        directory,
        first_seq=first_seq,
        on_segment_closed=closed.append,
        monotonic=FakeMonotonic(),
        **kwargs,  # type: ignore[arg-type]
    )
    return journal, closed


def test_records_round_trip_in_order(tmp_path: Path) -> None:
    """Appended messages come back with their seq, recv_ns, type and exact content, in one
    block per commit."""
    journal, closed = _journal(tmp_path)
    contents = ['{"a":1}', '{"b":"ä"}', "{}"]
    seqs = [journal.append("X-TRADE", c, 1000 + i) for i, c in enumerate(contents)]
    assert seqs == [1, 2, 3]
    assert journal.commit() == 3
    journal.close()
    assert closed == list_segments(tmp_path)
    scan = scan_segment(closed[0])
    assert scan.torn_bytes == 0
    records = scan.records
    assert [(r.seq, r.recv_ns, r.data_type, r.content) for r in records] == [
        (1, 1000, "X-TRADE", '{"a":1}'),
        (2, 1001, "X-TRADE", '{"b":"ä"}'),
        (3, 1002, "X-TRADE", "{}"),
    ]


def test_segments_rotate_by_size_and_continue_seq(tmp_path: Path) -> None:
    """A full segment is closed and handed over; the next one starts at the next seq."""
    journal, closed = _journal(tmp_path, first_seq=41, segment_bytes=200)
    for _ in range(10):
        journal.append("X-QUOTE", '{"Symbol":"AAA","BidPrice1":1.0}', 1)
        journal.commit()
    journal.close()
    assert len(closed) > 1
    seqs = [r.seq for path in closed for r in scan_segment(path).records]
    assert seqs == list(range(41, 51))
    assert closed[0].name == "segment-000000000041.journal"


def test_torn_tail_is_cut_reported_and_kept_aside(tmp_path: Path) -> None:
    """A half-written last commit is cut; the complete ones stay; dropped bytes kept."""
    journal, closed = _journal(tmp_path)
    for i in range(5):
        journal.append("R", f'{{"i":{i}}}', i)
        journal.commit()
    journal.close()
    segment = closed[0]
    whole = segment.read_bytes()
    segment.write_bytes(whole[:-3])
    torn = repair_segment(segment)
    assert torn is not None
    assert torn.records_kept == 4
    assert torn.kept_aside.read_bytes() == whole[len(segment.read_bytes()) : -3]
    assert [r.seq for r in scan_segment(segment).records] == [1, 2, 3, 4]
    assert repair_segment(segment) is None


def test_corrupt_block_stops_the_scan(tmp_path: Path) -> None:
    """A commit block whose checksum does not match ends the valid prefix."""
    journal, closed = _journal(tmp_path)
    for i in range(3):
        journal.append("R", f'{{"i":{i}}}', i)
        journal.commit()
    journal.close()
    data = bytearray(closed[0].read_bytes())
    data[-2] ^= 0xFF
    closed[0].write_bytes(bytes(data))
    scan = scan_segment(closed[0])
    assert [r.seq for r in scan.records] == [1, 2] and scan.torn_bytes > 0


def _recover(layout: Layout) -> RecoveryReport:
    report = RecoveryReport(DAY)
    open_day(layout, DAY, report=report).close()
    return report


def test_conversion_commits_parquet_and_skips_what_is_committed(tmp_path: Path) -> None:
    """Segments become raw + normalized parts, one commit per segment; a segment that
    outlived its commit (a crash before its deletion) is deleted without a second copy."""
    layout = Layout(tmp_path / "data")
    directory = journal_dir(layout.root, DAY)
    journal, closed = _journal(directory, segment_bytes=1)
    messages = [
        f.quote("A", [(9990.0, 100.0)], [(10000.0, 100.0)]),
        f.trade("A", 10000.0, 100.0, 100.0),
        {"DataType": "X-TRADE", "Content": "{broken"},
    ]
    for message in messages:
        journal.append(str(message["DataType"]), str(message["Content"]), 5)
        journal.commit()
    journal.close()
    copies = [p.read_bytes() for p in closed]
    stats = _recover(layout).conversion
    assert stats.rows == 3 and stats.bad_content == 1 and not list_segments(directory)
    raw = [pq.read_table(p.path) for p in layout.parts("raw", DAY)]
    assert [t.column("seq").to_pylist() for t in raw] == [[1], [2], [3]]
    trades = pq.read_table(layout.parts("trades", DAY)[0].path).to_pylist()
    assert [t["seq"] for t in trades] == [2]
    for path, data in zip(closed, copies, strict=True):
        path.write_bytes(data)  # as if the process died before deleting the segments
    again = _recover(layout).conversion
    assert again.rows == 0 and again.skipped == 3 and not list_segments(directory)
    assert len(layout.parts("raw", DAY)) == 3


def test_a_segment_is_converted_in_bounded_batches(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A big segment becomes several parts of at most CONVERT_BATCH records, in seq order,
    in one commit, so the converter's memory does not grow with the message rate."""
    monkeypatch.setattr(segments, "CONVERT_BATCH", 4)
    layout = Layout(tmp_path / "data")
    directory = journal_dir(layout.root, DAY)
    journal, closed = _journal(directory)
    for i in range(10):
        journal.append("X-TRADE", str(f.trade("A", 10000.0, 100.0, 100.0 * (i + 1))["Content"]), i)
    journal.close()
    stats = _recover(layout).conversion
    parts = layout.parts("raw", DAY)
    assert [(p.first_seq, p.last_seq) for p in parts] == [(1, 4), (5, 8), (9, 10)]
    assert stats.rows == 10 and len(closed) == 1 and not list_segments(directory)
    assert layout.state(DAY).version == 1


def test_a_segment_whose_seqs_are_taken_is_kept_and_refused(tmp_path: Path) -> None:
    """Seqs the day holds from another writer are never silently skipped: the segment stays
    on disk and the writer refuses in one line naming it."""
    layout = Layout(tmp_path / "data")
    import_envelopes(layout, [f.trade("A", 10000.0, 100.0, 100.0)] * 2)
    directory = journal_dir(layout.root, DAY)
    journal, closed = _journal(directory)
    journal.append("X-TRADE", str(f.trade("A", 10000.0, 100.0, 300.0)["Content"]), 1)
    journal.close()
    with pytest.raises(StorageError, match=r"segment-000000000001.journal holds seq 1-1"):
        _recover(layout)
    assert list_segments(directory) == closed and layout.last_seq(DAY) == 2


def test_a_damaged_block_with_sound_blocks_after_it_is_an_error(tmp_path: Path) -> None:
    """A crash leaves at most one bad block, the last; one in the middle is damage, and
    cutting there would drop the sound blocks after it."""
    journal, closed = _journal(tmp_path)
    for i in range(3):
        journal.append("R", f'{{"i":{i}}}', i)
        journal.commit()
    journal.close()
    whole = closed[0].read_bytes()
    first = scan_segment(closed[0])
    assert len(first.records) == 3
    block = len(whole) // 3  # three blocks of the same size
    data = bytearray(whole)
    data[block + block // 2] ^= 0x01  # inside the second block's body
    closed[0].write_bytes(bytes(data))
    with pytest.raises(StorageError, match=rf"{closed[0]}: the journal block at byte {block:,}"):
        scan_segment(closed[0])


def test_a_block_of_text_that_is_not_utf8_is_named(tmp_path: Path) -> None:
    """A sound block (its checksum matches) whose Content is not UTF-8: named, not a bug."""
    parts = [
        array("q", [1]).tobytes(),
        array("q", [0]).tobytes(),
        array("H", [1]).tobytes(),
        array("I", [1]).tobytes(),
        b"R",
        b"\xff",
    ]
    body = b"".join(parts)
    segment = tmp_path / "segment-000000000001.journal"
    segment.write_bytes(journal_module._BLOCK_HEADER.pack(1, len(body), zlib.crc32(body)) + body)
    with pytest.raises(StorageError, match=rf"{segment}: .* not UTF-8"):
        scan_segment(segment)
