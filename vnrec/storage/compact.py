"""`vnrec compact`: merge a day's part files into one file per table, atomically.

`raw` is compacted first: a normalized part is only valid while a `raw` part covers its
seq range (see writer.recover_day), and the merged `raw` file covers every older part.
Each merged file is written next to the old parts, which it supersedes the moment it is
visible (`Layout.parts` hides them), then the old parts are deleted."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from vnrec.errors import NoDataError
from vnrec.ssi.channels import ALL_TABLES
from vnrec.storage.layout import Layout
from vnrec.storage.schema import SCHEMAS
from vnrec.storage.writer import (
    ROW_GROUP_ROWS,
    DayLock,
    atomic_file,
    fsync_dir,
    parquet_options,
    recover_day,
)

log = logging.getLogger(__name__)


@dataclass
class CompactReport:
    day: dt.date
    tables: dict[str, tuple[int, int]] = field(default_factory=dict)  # table -> (parts in, rows)

    @property
    def changed(self) -> bool:
        return any(parts > 1 for parts, _ in self.tables.values())


def compact_day(layout: Layout, day: dt.date) -> CompactReport:
    """Merge the day's parts per table into `part-<first>-<last>`; a no-op when already done."""
    with DayLock(layout, day):
        recover_day(layout, day)
        raw_parts = layout.parts("raw", day)
        if not raw_parts:
            raise NoDataError(f"no data recorded for {day} in {layout.root}")
        first, last = raw_parts[0].first_seq, raw_parts[-1].last_seq
        report = CompactReport(day)
        for table in ALL_TABLES:
            parts = layout.parts(table, day)
            if not parts:
                continue
            target = layout.part_path(table, day, first, last)
            if len(parts) == 1 and parts[0].path == target:
                report.tables[table] = (1, pq.ParquetFile(target).metadata.num_rows)
                continue
            rows = _merge(table, [p.path for p in parts], target)
            for part in parts:
                if part.path != target:
                    part.path.unlink()
            fsync_dir(target.parent)
            report.tables[table] = (len(parts), rows)
            log.info("compacted %s %s: %d parts, %d rows", table, day, len(parts), rows)
        return report


def _merge(table: str, sources: list[Path], target: Path) -> int:
    """Stream the sources, in seq order, into one file with large row groups; memory stays
    bounded by one row group whatever the size of the day."""
    schema = SCHEMAS[table]
    rows = 0
    pending: list[pa.RecordBatch] = []
    pending_rows = 0
    with (
        atomic_file(target) as sink,
        pq.ParquetWriter(sink, schema, **parquet_options(schema)) as out,
    ):
        for source in sources:
            for batch in pq.ParquetFile(source).iter_batches(batch_size=65_536):
                pending.append(batch.cast(schema))
                pending_rows += batch.num_rows
                if pending_rows >= ROW_GROUP_ROWS:
                    out.write_table(pa.Table.from_batches(pending, schema), ROW_GROUP_ROWS)
                    rows += pending_rows
                    pending, pending_rows = [], 0
        if pending:
            out.write_table(pa.Table.from_batches(pending, schema), ROW_GROUP_ROWS)
            rows += pending_rows
    return rows
