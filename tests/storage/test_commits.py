"""The commit log: records are checksummed lines, transactions become visible at their
decision, versions only grow, and vnrec 0.1 days are adopted rather than guessed at."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from vnrec import testing as f
from vnrec.errors import NoDataError, StorageError
from vnrec.storage.commits import (
    OP_RECORD,
    DayLog,
    PartFile,
    commits_dir,
    encode_record,
    log_path,
    make_record,
    read_state,
    tx_path,
    write_tx,
)
from vnrec.storage.compact import compact_day
from vnrec.storage.day import open_day
from vnrec.storage.importer import Importer, import_envelopes
from vnrec.storage.layout import Layout, part_name
from vnrec.storage.recover import recover_root

DAY = dt.date(2026, 11, 5)


def _trades(n: int, start: int = 0) -> list[dict[str, object]]:
    return [f.trade("A", 10.0, 100.0, float(100 * (i + 1))) for i in range(start, start + n)]


def _part(table: str, first: int, last: int) -> PartFile:
    path = Path("/r") / table / f"date={DAY}" / part_name(first, last)
    return PartFile(first, last, path, table, last - first + 1, 10, "ab" * 32)


def test_records_apply_in_order_and_state_is_a_snapshot(tmp_path: Path) -> None:
    """Adds and removes of successive records give the day's parts; the version counts them."""
    log = DayLog(tmp_path, DAY)
    log.append(make_record(OP_RECORD, add=[_part("raw", 1, 5), _part("trades", 1, 5)]))
    log.append(make_record(OP_RECORD, add=[_part("raw", 6, 9)], source="segment-6", seq=(6, 9)))
    state = read_state(tmp_path, DAY)
    assert [p.name for p in state.table_parts("raw")] == [part_name(1, 5), part_name(6, 9)]
    assert state.last_seq == 9 and state.version == 2 and state.sources == {"segment-6": (6, 9)}
    assert state.table_parts("raw")[0].path == tmp_path / "raw" / f"date={DAY}" / part_name(1, 5)
    log.rewrite()
    again = read_state(tmp_path, DAY)
    assert again.parts == state.parts and again.sources == state.sources
    assert again.version == state.version


@pytest.mark.parametrize(
    ("records", "message"),
    [
        ([{"add": [_part("raw", 1, 2).to_json()]}] * 2, "adds raw/part-000000000001"),
        ([{"remove": [{"table": "raw", "file": "x.parquet"}]}], "removes raw/x.parquet"),
        ([{"add": [{"table": "raw"}]}], "malformed commit record"),
    ],
)
def test_impossible_records_are_errors(
    tmp_path: Path, records: list[dict[str, object]], message: str
) -> None:
    """A log that adds a file twice, removes one it never added or lacks fields is damage."""
    path = log_path(tmp_path, DAY)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"".join(encode_record(r) for r in records) + encode_record({"op": "x"}))
    with pytest.raises(StorageError, match=message):
        read_state(tmp_path, DAY)


def test_a_decided_transaction_is_visible_and_finished_by_the_next_writer(
    layout: Layout,
) -> None:
    """Killed after its decision file but before its tx_commit records: readers see the
    import already (the decision is the commit point); the next writer appends tx_commit so
    the log no longer depends on the decision file."""
    import_envelopes(layout, _trades(1))
    with Importer(layout, append=True) as importer:
        importer.import_lines((f.to_jsonl([e]) for e in _trades(2, start=1)), "mem")
        writer = importer._writers[DAY]
        writer.commit("import", importer._written[DAY], tx="import-decided")
        importer._written.clear()
        assert layout.last_seq(DAY) == 1
        write_tx(layout.root, "import-decided", {"tx": "import-decided", "files": []})
        assert layout.last_seq(DAY) == 3  # visible from the decision on
    with open_day(layout, DAY) as again:
        assert again.next_seq == 4
    assert read_state(layout.root, DAY, decided=()).last_seq == 3
    tx_path(layout.root, "import-decided").unlink()
    assert layout.last_seq(DAY) == 3


def test_versions_keep_growing_across_a_rewrite(layout: Layout) -> None:
    """Compaction rewrites the log as one checkpoint; its version is above every earlier one,
    so a reader can tell the log changed under it."""
    with Importer(layout, batch_lines=2) as importer:
        importer.import_lines((f.to_jsonl([e]) for e in _trades(6)), "mem")
        importer.commit()
    before = layout.state(DAY).version
    compact_day(layout, DAY)
    after = layout.state(DAY)
    assert after.version > before and after.last_seq == 6
    assert len(log_path(layout.root, DAY).read_bytes().splitlines()) == 1


def _legacy_day(layout: Layout, tmp_path: Path) -> None:
    """A day as vnrec 0.1 left it: parts and no commit log, plus what 0.1's readers hid (a
    part superseded by a merged file, a normalized part with no raw part, a temp file)."""
    with Importer(layout, batch_lines=2) as importer:
        importer.import_lines((f.to_jsonl([e]) for e in _trades(4)), "mem")
        importer.commit()
    raw = layout.parts("raw", DAY)
    merged = pq.read_table([p.path for p in raw[:2]])
    pq.write_table(merged, layout.part_path("raw", DAY, 1, 4))
    shutil.copy(layout.parts("trades", DAY)[0].path, layout.part_path("trades", DAY, 7, 8))
    (layout.day_dir("raw", DAY) / ".tmp-part-x.parquet.1").write_bytes(b"x")
    shutil.rmtree(commits_dir(layout.root))


def test_a_vnrec_0_1_day_is_refused_until_adopted(layout: Layout, tmp_path: Path) -> None:
    """Readers and writers refuse a day with parts but no log, naming `vnrec recover`;
    recover adopts what 0.1's readers saw and removes the rest."""
    _legacy_day(layout, tmp_path)
    with pytest.raises(StorageError, match=r"no commit log .* run `vnrec recover`"):
        layout.recorded_state(DAY)
    with pytest.raises(StorageError, match="run `vnrec recover`"):
        import_envelopes(layout, _trades(1, start=4), append=True)
    (report,) = recover_root(layout)
    assert report.adopted == 3
    names = {t: [p.name for p in layout.parts(t, DAY)] for t in ("raw", "trades")}
    assert names == {"raw": [part_name(1, 4)], "trades": [part_name(1, 2), part_name(3, 4)]}
    for table, committed in names.items():
        assert sorted(p.name for p in layout.day_dir(table, DAY).iterdir()) == committed
    assert layout.last_seq(DAY) == 4
    assert report.lines()[0] == "2026-11-05: adopted 3 part files written by vnrec 0.1"


def test_recover_on_an_empty_root_does_nothing(layout: Layout) -> None:
    """Nothing to recover: no day is created."""
    assert recover_root(layout) == []
    with pytest.raises(NoDataError):
        layout.recorded_state(DAY)
    assert not commits_dir(layout.root).exists()
