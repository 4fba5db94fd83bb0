"""Days are written through `DayWriter`: parts named by seq range, seq that continues the day
exactly, recovery of what crashed writers left, locks, and compaction in one commit."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from vnrec import testing as f
from vnrec.errors import IntegrityError, LockedError, NoDataError, OverlapError, StorageError
from vnrec.storage import compact as compact_module
from vnrec.storage.commits import OP_IMPORT, log_path, read_state
from vnrec.storage.compact import compact_day
from vnrec.storage.day import RecoveryReport, open_day
from vnrec.storage.importer import Importer, import_envelopes
from vnrec.storage.layout import Layout, part_name
from vnrec.storage.locks import DayLock
from vnrec.storage.normalize import BatchTables
from vnrec.storage.writer import sampled_encodings, write_parquet_atomic

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


def _import_in_batches(layout: Layout, envelopes: list[dict[str, object]], lines: int) -> None:
    with Importer(layout, batch_lines=lines) as importer:
        importer.import_lines((f.to_jsonl([e]) for e in envelopes), "mem")
        importer.commit()


def test_parts_are_named_by_their_seq_range(layout: Layout) -> None:
    """Each batch writes part-<first>-<last> per table that has rows."""
    _import_in_batches(layout, _day(4), 4)
    names = [p.path.name for p in layout.parts("raw", DAY)]
    assert names == [part_name(1, 4), part_name(5, 8)]
    assert [p.path.name for p in layout.parts("trades", DAY)] == names


def test_a_batch_that_does_not_continue_the_day_is_refused(layout: Layout) -> None:
    """A seq range that overlaps the day or leaves a gap raises OverlapError, writing nothing."""
    import_envelopes(layout, _day(2))
    table = pq.read_table(layout.parts("raw", DAY)[0].path)
    with open_day(layout, DAY) as writer:
        for first, last in ((3, 6), (6, 9)):
            with pytest.raises(OverlapError, match="does not continue"):
                writer.write(BatchTables(DAY, first, last, {"raw": table}))
    assert [p.name for p in layout.parts("raw", DAY)] == [part_name(1, 4)]
    assert sorted(p.name for p in layout.day_dir("raw", DAY).iterdir()) == [part_name(1, 4)]


def test_written_parts_are_invisible_until_committed(layout: Layout) -> None:
    """An import's parts are on disk before its commit but no reader sees them; the commit
    makes every one of them visible at once."""
    import_envelopes(layout, _day(1))
    with Importer(layout, append=True, batch_lines=2) as importer:
        importer.import_lines((f.to_jsonl([e]) for e in _day(3, start=1)), "mem")
        written = importer._written[DAY]
        assert len(written) == 9 and all(part.path.exists() for part in written)
        assert _rows(layout, "raw") == [1, 2] and layout.last_seq(DAY) == 2
        importer.commit()
        assert _rows(layout, "raw") == [1, 2, 3, 4, 5, 6, 7, 8]


def test_a_failed_import_leaves_no_file(layout: Layout) -> None:
    """An import that fails before its commit removes the parts it wrote."""
    import_envelopes(layout, _day(1))
    with pytest.raises(RuntimeError), Importer(layout, append=True, batch_lines=2) as importer:
        importer.import_lines((f.to_jsonl([e]) for e in _day(2, start=1)), "mem")
        raise RuntimeError("the input broke")
    assert sorted(p.name for p in layout.day_dir("raw", DAY).iterdir()) == [part_name(1, 2)]
    assert _rows(layout, "raw") == [1, 2]


def test_recovery_moves_uncommitted_parts_aside(layout: Layout) -> None:
    """Temp files go; a part no commit names (a crashed batch) is moved aside, since it
    could be a committed part whose record was lost; committed parts stay."""
    import_envelopes(layout, _day(2))
    trades = layout.parts("trades", DAY)[0]
    stray = layout.part_path("trades", DAY, 5, 8)
    stray.write_bytes(trades.path.read_bytes())
    temp = layout.day_dir("quotes", DAY) / ".tmp-part-000000000005-000000000008.parquet.123"
    temp.write_bytes(b"partial")
    assert [p.name for p in layout.parts("trades", DAY)] == [trades.name]  # invisible already
    report = RecoveryReport(DAY)
    with open_day(layout, DAY, report=report) as writer:
        assert writer.next_seq == 5
    assert not stray.exists() and not temp.exists() and trades.path.exists()
    aside = layout.root / "_commits" / "aside" / f"date={DAY.isoformat()}" / "trades" / stray.name
    assert report.aside == [aside] and aside.read_bytes() == trades.path.read_bytes()
    assert report.removed == [temp]


def test_the_merged_files_of_a_killed_compaction_are_deleted(layout: Layout) -> None:
    """A compaction killed before its commit leaves merged files whose seqs the committed
    parts all hold: deleted, not moved aside (that would keep a copy of the day)."""
    _import_in_batches(layout, _day(3), 2)
    parts = layout.parts("raw", DAY)
    assert len(parts) == 3
    merged = layout.part_path("raw", DAY, parts[0].first_seq, parts[-1].last_seq)
    merged.write_bytes(parts[0].path.read_bytes())
    report = RecoveryReport(DAY)
    with open_day(layout, DAY, report=report):
        pass
    assert report.removed == [merged] and not report.aside


@pytest.mark.parametrize("damage", ["emptied", "truncated"])
def test_a_log_that_lost_its_records_loses_no_part(layout: Layout, damage: str) -> None:
    """A log emptied or cut inside its only record (damage, or a filesystem that lost its
    tail) hides the day, but no writer deletes its parts: they are moved aside whole."""
    _import_in_batches(layout, _day(4), 2)
    compact_day(layout, DAY)
    parts = {(p.table, p.name): p.path.read_bytes() for p in layout.state(DAY).all_parts()}
    path = log_path(layout.root, DAY)
    assert path.read_bytes().count(b"\n") == 1
    path.write_bytes(b"" if damage == "emptied" else path.read_bytes()[:300])
    report = RecoveryReport(DAY)
    with open_day(layout, DAY, report=report):
        pass
    aside = {(p.parent.name, p.name): p.read_bytes() for p in report.aside}
    assert aside == parts and not report.removed


def test_an_interrupted_commit_is_invisible_and_cut_off(layout: Layout) -> None:
    """A half-written last record of the log is not a commit: readers ignore it, the next
    writer keeps its bytes aside and cuts it off."""
    import_envelopes(layout, _day(1))
    path = log_path(layout.root, DAY)
    committed = path.read_bytes()
    path.write_bytes(committed + b'0badc0de {"op":"record","add":[{"tab')
    state = layout.state(DAY)
    assert state.last_seq == 2 and state.torn_bytes > 0
    with open_day(layout, DAY):
        pass
    assert path.read_bytes() == committed
    aside = list((layout.root / "_commits" / "torn").iterdir())
    assert len(aside) == 1 and aside[0].read_bytes().startswith(b"0badc0de")


def test_a_damaged_record_inside_the_log_is_an_error(layout: Layout) -> None:
    """A record that fails its checksum before the end of the log is damage, not a crash."""
    _import_in_batches(layout, _day(2), 2)
    import_envelopes(layout, _day(1, start=2), append=True)
    path = log_path(layout.root, DAY)
    lines = path.read_bytes().splitlines(keepends=True)
    lines[0] = lines[0].replace(b'"rows":', b'"rowz":', 1)
    path.write_bytes(b"".join(lines))
    with pytest.raises(StorageError, match=r":1: commit record damaged"):
        layout.state(DAY)
    with pytest.raises(StorageError, match=r":1: commit record damaged"):
        open_day(layout, DAY)


@pytest.mark.parametrize("damage", ["flipped", "newline lost"])
def test_a_damaged_last_record_is_an_error_and_nothing_is_deleted(
    layout: Layout, damage: str
) -> None:
    """A whole last line that fails its checksum (a flipped bit), or a whole record that
    lost its newline, is damage: taken for an interrupted append, the day would vanish and
    the next writer would delete its parts."""
    import_envelopes(layout, _day(2))  # an import record, then its tx_commit
    path = log_path(layout.root, DAY)
    lines = path.read_bytes().splitlines(keepends=True)
    if damage == "flipped":
        lines[-1] = lines[-1].replace(b'"op":', b'"oq":', 1)
    else:
        lines[-1] = lines[-1][:-1]
    damaged = b"".join(lines)
    path.write_bytes(damaged)
    files = sorted(layout.root.rglob("*.parquet"))
    where = rf"\.log:{len(lines)}: commit record damaged"
    with pytest.raises(StorageError, match=where):
        layout.state(DAY)
    with pytest.raises(StorageError, match=where):
        open_day(layout, DAY)
    with pytest.raises(StorageError, match=where):
        import_envelopes(layout, _day(1, start=2), append=True)
    assert sorted(layout.root.rglob("*.parquet")) == files
    assert path.read_bytes() == damaged


def test_pending_import_records_are_invisible_then_dropped(layout: Layout) -> None:
    """An import record without its decision is invisible; the next writer drops it and
    its files, and the day's seq continues where the committed data ends."""
    import_envelopes(layout, _day(1))
    with Importer(layout, append=True) as importer:
        importer.import_lines((f.to_jsonl([e]) for e in _day(2, start=1)), "mem")
        writer = importer._writers[DAY]
        pending = importer._written[DAY]
        writer.commit(OP_IMPORT, pending, tx="import-test")
        assert layout.last_seq(DAY) == 2  # prepared, not decided: invisible
        importer._written.clear()  # as if killed here: nothing discards the files
    assert list(read_state(layout.root, DAY).pending) == ["import-test"]
    assert all(part.path.exists() for part in pending)
    with open_day(layout, DAY) as again:
        assert again.next_seq == 3 and not again.state.pending
    assert not any(part.path.exists() for part in pending)
    assert _rows(layout, "raw") == [1, 2]


def test_day_lock_is_exclusive(layout: Layout) -> None:
    """A second writer of the same day is refused with a clear error naming the holder."""
    with open_day(layout, DAY), pytest.raises(LockedError, match="being written by another"):
        open_day(layout, DAY)
    with DayLock(layout.root, DAY):
        pass  # released: can be taken again


def test_compaction_merges_parts_in_one_commit_and_is_idempotent(layout: Layout) -> None:
    """One file per table covering the day's range, same rows in seq order, old files gone,
    the log rewritten as one checkpoint; a rerun is a no-op."""
    _import_in_batches(layout, _day(5), 3)
    before = {t: _rows(layout, t) for t in ("raw", "trades", "quotes")}
    version = layout.state(DAY).version
    assert len(layout.parts("raw", DAY)) == 4
    report = compact_day(layout, DAY)
    assert report.changed and report.tables["raw"] == (4, 10)
    for table, seqs in before.items():
        assert [p.name for p in layout.parts(table, DAY)] == [part_name(1, 10)]
        assert [p.name for p in layout.day_dir(table, DAY).iterdir()] == [part_name(1, 10)]
        assert _rows(layout, table) == seqs
    assert len(log_path(layout.root, DAY).read_bytes().splitlines()) == 1
    assert layout.state(DAY).version > version
    assert not compact_day(layout, DAY).changed
    assert _rows(layout, "raw") == before["raw"]


def test_compaction_writes_whole_row_groups_but_the_last(
    layout: Layout, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only a file's last row group is short: a stray small group in the middle would store
    every column's dictionary once more."""
    _import_in_batches(layout, _day(20), 6)  # parts of 6 messages, 20 quotes in all
    monkeypatch.setattr(compact_module, "ROW_GROUP_ROWS", 7)
    compact_day(layout, DAY)
    (merged,) = layout.parts("quotes", DAY)
    meta = pq.ParquetFile(merged.path).metadata
    groups = [meta.row_group(i).num_rows for i in range(meta.num_row_groups)]
    assert groups == [7, 7, 6]
    assert _rows(layout, "quotes") == list(range(1, 41, 2))


def test_each_column_is_encoded_by_what_its_first_rows_hold() -> None:
    """Dictionaries where values repeat; without one where most values are new: delta when
    they never decrease, byte-stream split for floats, plain for other integers."""
    rows = 1_000
    rng = np.random.default_rng(7)
    sample = pa.table(
        {
            "seq": pa.array(np.arange(1, rows + 1)),
            "price": pa.array(rng.choice([10_000.0, 10_100.0, 10_200.0], rows)),
            "total_val": pa.array(rng.random(rows) * 1e12),
            "cumulative": pa.array(np.cumsum(rng.integers(0, 1_000, rows))),
            "volume": pa.array(rng.permutation(rows) * 100),
            "few_volumes": pa.array(rng.integers(1, 5, rows) * 100),
            "symbol": pa.array([f"S{i % 7}" for i in range(rows)]),
            "empty": pa.nulls(rows, pa.float64()),
        }
    )
    assert sampled_encodings(sample) == {
        "seq": "DELTA_BINARY_PACKED",
        "total_val": "BYTE_STREAM_SPLIT",
        "cumulative": "DELTA_BINARY_PACKED",
        "volume": "PLAIN",
    }


def test_compaction_encodes_columns_by_the_days_first_rows(
    layout: Layout, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sample spans parts; every row is written, whatever the encodings."""
    _import_in_batches(layout, _day(20), 6)
    monkeypatch.setattr(compact_module, "ENCODING_SAMPLE_ROWS", 9)
    compact_day(layout, DAY)
    (merged,) = layout.parts("trades", DAY)
    meta = pq.ParquetFile(merged.path).metadata.row_group(0)
    encodings = {
        meta.column(i).path_in_schema: meta.column(i).encodings for i in range(meta.num_columns)
    }
    assert "DELTA_BINARY_PACKED" in encodings["total_vol"]  # grows: 100, 200, ...
    assert "RLE_DICTIONARY" in encodings["last_price"]  # one price
    trades = pq.read_table(merged.path, columns=["seq", "total_vol"])
    assert trades.column("total_vol").to_pylist() == [100 * (i + 1) for i in range(20)]
    assert trades.column("seq").to_pylist() == list(range(2, 41, 2))


def test_an_uncommitted_merge_is_invisible_and_removed(layout: Layout) -> None:
    """A merged file written by a compaction that died before its commit is never read."""
    _import_in_batches(layout, _day(3), 2)
    old = layout.parts("raw", DAY)
    merged = pq.read_table(old[0].path)
    write_parquet_atomic(merged, layout.part_path("raw", DAY, 1, 6))
    assert [p.name for p in layout.parts("raw", DAY)] == [p.name for p in old]
    assert _rows(layout, "raw") == [1, 2, 3, 4, 5, 6]
    compact_day(layout, DAY)
    assert _rows(layout, "raw") == [1, 2, 3, 4, 5, 6]
    assert _rows(layout, "trades") == [2, 4, 6]


def test_compaction_refuses_an_altered_part(layout: Layout) -> None:
    """A part whose bytes differ from its commit record is not merged (that would give the
    damage a fresh checksum)."""
    _import_in_batches(layout, _day(2), 2)
    part = layout.parts("trades", DAY)[0]
    data = bytearray(part.path.read_bytes())
    data[len(data) // 2] ^= 0x01
    part.path.write_bytes(bytes(data))
    with pytest.raises(IntegrityError, match=rf"{part.path} is not the file .* SHA-256 differs"):
        compact_day(layout, DAY)
    assert len(layout.parts("raw", DAY)) == 2
    # nothing was written: no merged file waits for the next writer
    assert sorted(p.name for p in (layout.root / "raw").rglob("part-*")) == [
        p.name for p in layout.parts("raw", DAY)
    ]


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


def test_a_partition_directory_of_no_date_is_ignored_with_a_warning(
    layout: Layout, caplog: pytest.LogCaptureFixture
) -> None:
    import_envelopes(layout, _day(1))
    (layout.root / "raw" / "date=2026-13-45").mkdir()
    with caplog.at_level("WARNING"):
        assert layout.disk_days() == [DAY]
    assert "date=2026-13-45: not a day" in caplog.text
