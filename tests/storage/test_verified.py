"""Readers check each committed part against its record's SHA-256 before using it: a bit
flipped in a page DuckDB would decode, or a sound part of another day put in its place, is
an error naming the file. What was checked is remembered, so a sound day is hashed once."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import orjson
import pytest

from vnrec import testing as f
from vnrec.analytics.connection import read_views
from vnrec.errors import IntegrityError
from vnrec.replay import replay
from vnrec.storage import verified
from vnrec.storage.compact import compact_day
from vnrec.storage.importer import Importer
from vnrec.storage.layout import Layout
from vnrec.storage.verified import check_parts, verified_path

DAY = dt.date(2026, 11, 5)
OTHER = dt.date(2026, 11, 6)


def _import(layout: Layout, wire_date: str, volume: float) -> None:
    envelopes = [
        f.quote("A", [(9_990.0, 100.0)], [(10_000.0, 100.0)], time="09:30:00", date=wire_date),
        f.trade("A", 10_000.0, volume, volume, time="09:30:01", date=wire_date),
    ]
    with Importer(layout) as importer:
        importer.import_lines((f.to_jsonl([e]) for e in envelopes), "mem")
        importer.commit()


@pytest.fixture
def two_days(layout: Layout) -> Layout:
    """Two days with parts of the same names and sizes but different trades."""
    _import(layout, "05/11/2026", 100.0)
    _import(layout, "06/11/2026", 200.0)
    return layout


def _hashes(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    hashed: list[Path] = []
    real = verified.file_sha256

    def counting(path: Path) -> str:
        hashed.append(path)
        return real(path)

    monkeypatch.setattr(verified, "file_sha256", counting)
    return hashed


def test_what_a_writer_committed_is_read_without_hashing(
    two_days: Layout, monkeypatch: pytest.MonkeyPatch
) -> None:
    hashed = _hashes(monkeypatch)
    check_parts(two_days.root, DAY, two_days.state(DAY).all_parts())
    assert hashed == []  # the import remembered the digests it wrote


def test_a_flipped_bit_is_named_by_every_reader(two_days: Layout) -> None:
    part = two_days.state(DAY).table_parts("trades")[0]
    data = bytearray(part.path.read_bytes())
    data[len(data) // 2] ^= 0x04
    part.path.write_bytes(bytes(data))
    named = rf"committed part {part.path} is not the file its commit record names"
    with pytest.raises(IntegrityError, match=named):
        read_views(two_days.root, lambda con: con.sql("SELECT count(*) FROM trades").fetchall())
    with pytest.raises(IntegrityError, match=named):
        replay(DAY, data=two_days.root)


def test_a_sound_part_of_another_day_in_its_place_is_refused(two_days: Layout) -> None:
    mine = two_days.state(DAY).table_parts("trades")[0]
    other = two_days.state(OTHER).table_parts("trades")[0]
    assert mine.name == other.name and mine.bytes == other.bytes  # the same to a size check
    shutil.copyfile(other.path, mine.path)
    with pytest.raises(IntegrityError, match=rf"{mine.path} is not the file"):
        replay(DAY, data=two_days.root)
    with pytest.raises(IntegrityError, match=rf"{mine.path} is not the file"):
        read_views(two_days.root, lambda con: con.sql("SELECT count(*) FROM trades").fetchall())


def test_a_copied_root_is_hashed_once_then_remembered(
    two_days: Layout, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """New inodes: nothing matches what was remembered, so every part is hashed, once."""
    copy = Layout(tmp_path / "copy")
    shutil.copytree(two_days.root, copy.root)
    hashed = _hashes(monkeypatch)
    parts = copy.state(DAY).all_parts()
    check_parts(copy.root, DAY, parts)
    assert sorted(hashed) == sorted(p.path for p in parts)
    check_parts(copy.root, DAY, parts)
    assert len(hashed) == len(parts)
    verified_path(copy.root, DAY).write_bytes(b"{not json")  # damaged: rebuilt, not trusted
    check_parts(copy.root, DAY, parts)
    assert len(hashed) == 2 * len(parts)


def test_commits_append_lines_and_compaction_keeps_its_parts_only(layout: Layout) -> None:
    """A recorder commits thousands of times a day: each commit appends its parts' lines
    (never rewrites the record); compaction leaves the record with the merged parts."""
    envelopes = [
        f.trade("A", 10_000.0, 100.0, 100.0 * (i + 1), time="09:30:01", date="05/11/2026")
        for i in range(6)
    ]
    with Importer(layout, batch_lines=2) as importer:
        importer.import_lines((f.to_jsonl([e]) for e in envelopes), "mem")
        importer.commit()
    parts = layout.state(DAY).all_parts()
    record = verified_path(layout.root, DAY)
    assert len(record.read_bytes().splitlines()) == len(parts) > 3
    compact_day(layout, DAY)
    merged = layout.state(DAY).all_parts()
    lines = record.read_bytes().splitlines()
    assert sorted(orjson.loads(line)[0] for line in lines) == sorted(
        f"{p.table}/{p.name}" for p in merged
    )
