"""Part files: atomic commits, overlap refusal, recovery after a crash, compaction."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from vnrec import testing as f
from vnrec.errors import NoDataError, OverlapError, StorageError
from vnrec.storage.compact import compact_day
from vnrec.storage.importer import Importer, import_envelopes
from vnrec.storage.layout import Layout, part_name
from vnrec.storage.normalize import BatchTables
from vnrec.storage.writer import DayLock, PartWriter, recover_day, write_parquet_atomic

DAY = dt.date(2026, 11, 5)


def _day(n: int, start: int = 0) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    for i in range(start, start + n):
        out.append(f.quote("A", [(9990.0, 100.0)], [(10000.0, 100.0)], time="09:30:00"))
        out.append(f.trade("A", 10000.0, 100.0, float(100 * (i + 1)), time="09:30:01"))
    return out


def _rows(layout: Layout, table: str) -> list[int]:
    seqs: list[int] = []
    for part in layout.parts(table, DAY):
        seqs.extend(pq.read_table(part.path, columns=["seq"]).column("seq").to_pylist())
    return seqs


def test_parts_are_named_by_their_seq_range(layout: Layout) -> None:
    """Each batch writes part-<first>-<last> per table that has rows."""
    with Importer(layout, batch_lines=4) as importer:
        importer.import_lines((f.to_jsonl([e]) for e in _day(4)), "mem")
    names = [p.path.name for p in layout.parts("raw", DAY)]
    assert names == [part_name(1, 4), part_name(5, 8)]
    assert [p.path.name for p in layout.parts("trades", DAY)] == names


def test_overlapping_batch_is_refused(layout: Layout) -> None:
    """Committing a seq range the day already holds raises OverlapError, writing nothing."""
    report = import_envelopes(layout, _day(2))
    assert report.days[DAY].last_seq == 4
    table = pq.read_table(layout.parts("raw", DAY)[0].path)
    with pytest.raises(OverlapError, match="overlaps"):
        PartWriter(layout).commit(BatchTables(DAY, 3, 6, {"raw": table}))
    assert len(layout.parts("raw", DAY)) == 1


def test_recovery_removes_uncommitted_batches_and_temp_files(layout: Layout) -> None:
    """Normalized parts without a raw part (a crash mid-batch) and temp files are removed."""
    import_envelopes(layout, _day(2))
    trades = layout.parts("trades", DAY)[0]
    orphan = layout.part_path("trades", DAY, 5, 8)
    orphan.write_bytes(trades.path.read_bytes())
    temp = layout.day_dir("quotes", DAY) / ".tmp-part-000000000005-000000000008.parquet.123"
    temp.write_bytes(b"partial")
    with DayLock(layout, DAY):
        report = recover_day(layout, DAY)
    assert sorted(p.name for p in report.removed) == sorted([orphan.name, temp.name])
    assert not orphan.exists() and not temp.exists() and trades.path.exists()


def test_a_failed_write_leaves_no_file(layout: Layout) -> None:
    """An exception while writing leaves neither the target nor a temp file."""
    target = layout.part_path("raw", DAY, 1, 1)

    class Boom(Exception):
        pass

    class Exploding:
        def __getattr__(self, name: str) -> object:
            raise Boom

    with pytest.raises((Boom, TypeError, AttributeError)):
        write_parquet_atomic(Exploding(), target)  # type: ignore[arg-type]
    assert list(target.parent.iterdir()) == []


def test_day_lock_is_exclusive(layout: Layout) -> None:
    """A second writer of the same day is refused with a clear error."""
    with DayLock(layout, DAY), pytest.raises(StorageError, match="being written by another"):
        DayLock(layout, DAY).acquire()
    with DayLock(layout, DAY):
        pass  # released: can be taken again


def test_compaction_merges_parts_and_is_idempotent(layout: Layout) -> None:
    """One file per table covering the day's range, same rows in seq order; rerun is a no-op."""
    with Importer(layout, batch_lines=3) as importer:
        importer.import_lines((f.to_jsonl([e]) for e in _day(5)), "mem")
    before = {t: _rows(layout, t) for t in ("raw", "trades", "quotes")}
    assert len(layout.parts("raw", DAY)) == 4
    report = compact_day(layout, DAY)
    assert report.changed and report.tables["raw"] == (4, 10)
    for table, seqs in before.items():
        parts = layout.all_parts(table, DAY)
        assert [p.path.name for p in parts] == [part_name(1, 10)]
        assert _rows(layout, table) == seqs
    assert not compact_day(layout, DAY).changed
    assert _rows(layout, "raw") == before["raw"]


def test_interrupted_compaction_never_shows_rows_twice(layout: Layout) -> None:
    """With the merged file written but old parts not yet deleted, readers see each row once,
    and the next compaction cleans up."""
    with Importer(layout, batch_lines=2) as importer:
        importer.import_lines((f.to_jsonl([e]) for e in _day(3)), "mem")
    old = layout.parts("raw", DAY)
    table = pa.concat_tables([pq.read_table(p.path) for p in old])
    write_parquet_atomic(table, layout.part_path("raw", DAY, 1, 6))
    assert _rows(layout, "raw") == [1, 2, 3, 4, 5, 6]
    compact_day(layout, DAY)
    assert [p.path.name for p in layout.all_parts("raw", DAY)] == [part_name(1, 6)]
    assert _rows(layout, "trades") == [2, 4, 6]


def test_compacting_an_empty_day_is_an_error(layout: Layout) -> None:
    """Compaction of a day without data says so."""
    with pytest.raises(NoDataError, match="no data recorded"):
        compact_day(layout, DAY)


def test_appending_after_compaction_continues_seq(layout: Layout) -> None:
    """A day compacted into one file still accepts --append with the next seq."""
    import_envelopes(layout, _day(2))
    compact_day(layout, DAY)
    report = import_envelopes(layout, _day(1, start=2), append=True)
    assert (report.days[DAY].first_seq, report.days[DAY].last_seq) == (5, 6)
    assert _rows(layout, "raw") == [1, 2, 3, 4, 5, 6]
