"""Journal segments into committed parts: the normalizer and part writer of `vnrec import`,
one commit record per segment (its source), then the segment is deleted.

A segment is deleted only once its records are committed: a crash between the commit and
the deletion leaves a segment whose seq range the commit log attributes to it, and it is
then deleted without converting it again. Records whose seq the day already holds from any
other source are never skipped silently: that is an error, and the segment is kept.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl
import pyarrow as pa

from vnrec.errors import StorageError
from vnrec.storage.commits import OP_RECORD, PartFile
from vnrec.storage.files import fsync_dir
from vnrec.storage.journal import JournalRecord, repair_segment, scan_segment
from vnrec.storage.normalize import Normalizer, build_tables

if TYPE_CHECKING:
    from vnrec.storage.day import DayWriter

log = logging.getLogger(__name__)

TablesSink = Callable[[Mapping[str, pa.Table]], None]
# Records decoded at once: bounds the converter's memory whatever the message rate.
CONVERT_BATCH = 50_000


@dataclass
class ConversionStats:
    segments: int = 0
    rows: int = 0
    skipped: int = 0  # records already committed (a crash after the commit, before delete)
    bad_content: int = 0  # kept in raw only: Content was not a JSON object
    torn: list[str] = field(default_factory=list)


def convert_segment(
    writer: DayWriter,
    segment: Path,
    stats: ConversionStats,
    on_tables: TablesSink | None = None,
    normalizer: Normalizer | None = None,
) -> None:
    """Convert one closed segment of the writer's day, commit it, and delete it (with a
    normalizer of one thread for this segment when none is given)."""
    if normalizer is None:
        with Normalizer(threads=1) as own:
            convert_segment(writer, segment, stats, on_tables, own)
        return
    torn = repair_segment(segment)
    if torn is not None:
        message = (
            f"{segment}: torn tail cut after {torn.records_kept} records,"
            f" {torn.bytes_dropped} bytes kept aside in {torn.kept_aside}"
        )
        log.warning("%s", message)
        stats.torn.append(message)
    records = scan_segment(segment).records
    if records:
        first, last = records[0].seq, records[-1].seq
        committed = writer.state.sources.get(segment.name)
        if committed == (first, last):
            stats.skipped += len(records)
        elif first != writer.next_seq:
            raise StorageError(
                f"journal segment {segment} holds seq {first}-{last}, but {writer.day} has"
                f" committed seq 1-{writer.next_seq - 1}; the segment is kept, nothing was"
                " written (run `vnrec verify --date` on the day)"
            )
        else:
            parts: list[PartFile] = []
            for start in range(0, len(records), CONVERT_BATCH):
                chunk = records[start : start + CONVERT_BATCH]
                parts += _convert_batch(writer, chunk, stats, on_tables, normalizer)
            writer.commit(OP_RECORD, parts, source=segment.name)
            stats.rows += len(records)
    segment.unlink()
    fsync_dir(segment.parent)
    stats.segments += 1


def _convert_batch(
    writer: DayWriter,
    records: list[JournalRecord],
    stats: ConversionStats,
    on_tables: TablesSink | None,
    normalizer: Normalizer,
) -> list[PartFile]:
    day = writer.day
    data_types = pl.Series([r.data_type for r in records], dtype=pl.String)
    contents = pl.Series([r.content for r in records], dtype=pl.String)
    decoded = normalizer.decode(data_types, contents)
    stats.bad_content += len(decoded.bad_rows)
    for row, reason in sorted(decoded.bad_rows.items()):
        log.warning("seq %d of %s kept in raw only: %s", records[row].seq, day, reason)
    batches = build_tables(
        decoded,
        seq=pl.Series([r.seq for r in records], dtype=pl.Int64),
        recv_ns=pl.Series([r.recv_ns for r in records], dtype=pl.Int64),
        day=pl.Series([day] * len(records), dtype=pl.Date),
        data_types=data_types,
        contents=contents,
        keep=pl.Series([True] * len(records), dtype=pl.Boolean),
    )
    parts: list[PartFile] = []
    for batch in batches:
        parts += writer.write(batch)
        if on_tables is not None:
            on_tables(batch.tables)
    return parts


def day_of_segment(directory: Path) -> dt.date:
    return dt.date.fromisoformat(directory.name.removeprefix("date="))
