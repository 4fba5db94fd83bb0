"""`vnrec compact`: merge a day's parts into one file per table, in one commit.

The merged files are written next to the old parts (invisible until committed); one commit
record then adds them and removes every old part, so readers see either the old parts or
the merged files, never both and never neither. The old files are deleted after the commit
(a crash in between leaves them to the next writer's recovery) and the log is rewritten as
one checkpoint record, so a compacted day's log is short."""

from __future__ import annotations

import datetime as dt
import itertools
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from vnrec.errors import IntegrityError, NoDataError, StorageError
from vnrec.ssi.channels import ALL_TABLES
from vnrec.storage.commits import OP_COMPACT, PartFile
from vnrec.storage.day import open_day
from vnrec.storage.files import atomic_file, fsync_dir
from vnrec.storage.layout import Layout
from vnrec.storage.schema import SCHEMAS
from vnrec.storage.verified import check_parts, forget_all_but
from vnrec.storage.writer import ENCODING_SAMPLE_ROWS, ROW_GROUP_ROWS, parquet_options

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
    with open_day(layout, day) as writer:
        state = writer.state
        raw_parts = state.table_parts("raw")
        if not raw_parts:
            raise NoDataError(f"no data recorded for {day} in {layout.root}")
        first, last = raw_parts[0].first_seq, raw_parts[-1].last_seq
        # Every part, hashed now, before anything is written: merging a damaged part would
        # give the damage a fresh checksum, and a day already in one file per table would
        # store stats computed from it.
        check_parts(layout.root, day, state.all_parts(), rehash=True)
        report = CompactReport(day)
        merged: list[PartFile] = []
        replaced: list[PartFile] = []
        for table in ALL_TABLES:
            parts = state.table_parts(table)
            if not parts:
                continue
            target = layout.part_path(table, day, first, last)
            if len(parts) == 1 and parts[0].path == target:
                report.tables[table] = (1, parts[0].rows)
                continue
            try:
                merged.append(_merge(table, parts, target, first, last))
            except BaseException:
                for part in merged:  # nothing committed: the merged files are no one's
                    part.path.unlink(missing_ok=True)
                raise
            replaced += parts
            report.tables[table] = (len(parts), merged[-1].rows)
            log.info("compacted %s %s: %d parts, %d rows", table, day, len(parts), merged[-1].rows)
        if merged:
            writer.commit(OP_COMPACT, merged, remove=replaced)
            for part in replaced:
                part.path.unlink()
            for directory in sorted({part.path.parent for part in replaced}):
                fsync_dir(directory)
            writer.checkpoint()
            forget_all_but(layout.root, day, writer.state.all_parts())
        return report


def _merge(table: str, sources: list[PartFile], target: Path, first: int, last: int) -> PartFile:
    """Stream the sources, in seq order, into one file with large row groups; memory stays
    bounded by one row group whatever the size of the day. Each column's encoding is chosen
    from the day's first rows (vnrec.storage.writer.sampled_encodings)."""
    schema = SCHEMAS[table]
    rows = 0
    pending: list[pa.RecordBatch] = []
    pending_rows = 0
    if target.exists():
        raise StorageError(f"{target} already exists; refusing to replace a stored part")
    sample, batches = _peeked(_rows_of(sources, schema), ENCODING_SAMPLE_ROWS)
    with (
        atomic_file(target) as sink,
        pq.ParquetWriter(sink, schema, **parquet_options(schema, sample=sample)) as out,
    ):
        for batch in batches:
            pending.append(batch)
            pending_rows += batch.num_rows
            # Whole groups only; the rest starts the next one: a stray small group
            # would store every column's dictionary once more.
            while pending_rows >= ROW_GROUP_ROWS:
                held = pa.Table.from_batches(pending, schema)
                out.write_table(held.slice(0, ROW_GROUP_ROWS), ROW_GROUP_ROWS)
                rows += ROW_GROUP_ROWS
                pending = held.slice(ROW_GROUP_ROWS).to_batches()
                pending_rows -= ROW_GROUP_ROWS
        if pending:
            out.write_table(pa.Table.from_batches(pending, schema), ROW_GROUP_ROWS)
            rows += pending_rows
    return PartFile(first, last, target, table, rows, sink.size, sink.sha256)


def _rows_of(sources: list[PartFile], schema: pa.Schema) -> Iterator[pa.RecordBatch]:
    """The rows of the parts in order, as `schema`; a part holding another number of rows
    than its commit record says is an error."""
    for source in sources:
        expected = source.rows
        for batch in _batches(source):
            expected -= batch.num_rows
            yield batch.cast(schema)
        if expected:
            raise StorageError(
                f"{source.path} holds {source.rows - expected:,} rows, its commit record"
                f" says {source.rows:,}; not compacting a damaged day"
            )


def _peeked(
    batches: Iterator[pa.RecordBatch], rows: int
) -> tuple[pa.Table | None, Iterator[pa.RecordBatch]]:
    """The first `rows` rows (None when there are none) and every batch, those included."""
    taken: list[pa.RecordBatch] = []
    count = 0
    for batch in batches:
        taken.append(batch)
        count += batch.num_rows
        if count >= rows:
            break
    sample = pa.Table.from_batches(taken).slice(0, rows) if count else None
    return sample, itertools.chain(taken, batches)


def _batches(part: PartFile) -> Iterator[pa.RecordBatch]:
    """The part's rows (`compact_day` has checked it is the file its record names)."""
    try:
        with pq.ParquetFile(part.path, page_checksum_verification=True) as parquet:
            yield from parquet.iter_batches(batch_size=65_536)
    except FileNotFoundError:
        raise IntegrityError(f"committed part {part.path} is missing") from None
    except (OSError, pa.ArrowException) as exc:
        raise StorageError(f"cannot read {part.path}: {exc}") from exc
