"""Part files: a normalized batch becomes one Parquet file per table, written complete
(temporary name, fsync, rename) with its size and SHA-256, but not yet committed.

Writing a part does not make it visible: a `DayWriter` (vnrec.storage.day) commits the
parts of a batch, or of a whole import, in one record of the day's commit log.
"""

from __future__ import annotations

from concurrent.futures import Executor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from vnrec.errors import StorageError
from vnrec.ssi.channels import NORMALIZED_TABLES
from vnrec.storage.commits import PartFile
from vnrec.storage.files import atomic_file
from vnrec.storage.layout import Layout

if TYPE_CHECKING:  # the normalizer loads polars (~0.1 s), which reading commands never use
    from vnrec.storage.normalize import BatchTables

# Columns that grow along a file: delta encoding stores them in about a byte per row.
DELTA_COLUMNS = ("seq", "recv_ns", "event_ts")
# Cumulative values (VND): nearly every row a new double, so dictionaries fail; splitting
# their bytes lets zstd find the shared exponents (measured -25% on trades.total_val).
# What a write without a sample of its rows (import, the recorder) assumes.
SPLIT_COLUMNS = ("total_val", "buy_val", "sell_val", "total_value", "all_value")
ROW_GROUP_ROWS = 1_000_000
# zstd at level 1: as fast as LZ4 on raw Content here (0.81 against 0.74 s per million
# envelopes, measured) at half the size; compaction rewrites at level 3.
FAST_LEVEL = 1
FAST_PLAIN_COLUMNS = ("content",)  # large groups: fewer seeks, better compression once compacted
# Rows of a table looked at to choose each column's encoding (`sampled_encodings`).
ENCODING_SAMPLE_ROWS = 65_536
# A column whose sample is more distinct values than this share is not dictionary encoded:
# its dictionary would be nearly as long as the column, and stored besides.
MOSTLY_DISTINCT = 0.5
# zstd level of the columns not dictionary encoded. Dictionary indexes are already packed
# to their bit width, and zstd finds nothing more in them at any level; byte-split and delta
# streams still shrink. Measured on the 3M-message import bench day: level 3 24.97,
# 12 24.94, 19 24.86 normalized bytes/message, for 0, +0.16 and +2.7 s of compaction.
STREAM_LEVEL = 12
_DELTA = "DELTA_BINARY_PACKED"
_SPLIT = "BYTE_STREAM_SPLIT"


def sampled_encodings(sample: pa.Table) -> dict[str, str]:
    """The columns of `sample` (the first rows of a table) that store smaller without a
    dictionary, and their encoding: delta for the integers and times that never decrease,
    byte-stream split for the floats whose values are mostly distinct, plain for other
    mostly distinct integers (byte-stream split of integers is too recent for some
    Parquet readers). Every other column keeps its dictionary."""
    chosen = {name: _DELTA for name in DELTA_COLUMNS if name in sample.schema.names}
    for name, column in zip(sample.schema.names, sample.columns, strict=True):
        kind = column.type
        whole = pa.types.is_integer(kind) or pa.types.is_timestamp(kind)
        if name in chosen or not (whole or pa.types.is_floating(kind)):
            continue
        values = column.drop_null()
        if len(values) < 2 or pc.count_distinct(values).as_py() <= MOSTLY_DISTINCT * len(values):
            continue
        if whole:
            numbers = values.cast(pa.int64()).to_numpy()
            chosen[name] = _DELTA if bool(np.all(numbers[1:] >= numbers[:-1])) else "PLAIN"
        else:
            chosen[name] = _SPLIT
    return chosen


def parquet_options(
    schema: pa.Schema, *, fast: bool = False, sample: pa.Table | None = None
) -> dict[str, Any]:
    """zstd; dictionaries, except delta encoding for the monotonic columns and byte-stream
    split for the cumulative values (or, given a `sample` of the rows, what
    `sampled_encodings` finds); a CRC per page, so that a reader verifying them (replay
    does) notices a damaged page instead of decoding wrong numbers.

    `fast` (import): zstd's fastest level, and no dictionary for the Content text, which
    never repeats; compaction rewrites parts with the full options (a day imported as one
    block, whose parts are already one per table, keeps them as they are)."""
    if sample is not None:
        encodings = sampled_encodings(sample)
    else:
        encodings = {name: _DELTA for name in DELTA_COLUMNS if name in schema.names}
        encodings |= {name: _SPLIT for name in SPLIT_COLUMNS if name in schema.names}
    plain = {*encodings, *(FAST_PLAIN_COLUMNS if fast else ())}
    level: int | dict[str, int] = FAST_LEVEL
    if not fast:
        level = {name: STREAM_LEVEL if name in encodings else 3 for name in schema.names}
    return {
        "compression": "zstd",
        "compression_level": level,
        "use_dictionary": [name for name in schema.names if name not in plain],
        "column_encoding": {
            name: encoding for name, encoding in encodings.items() if encoding != "PLAIN"
        },
        # min/max of JSON text help no reader and cost a comparison of every byte
        "write_statistics": [name for name in schema.names if name not in FAST_PLAIN_COLUMNS],
        "write_page_checksum": True,
    }


def write_part(
    rows: pa.Table, path: Path, table: str, first_seq: int, last_seq: int, *, fast: bool = False
) -> PartFile:
    """Write `rows` to `path` (never visible half-written); what a commit record needs.

    Part names are unique per seq range and only the day's lock holder writes them, so a
    file already there is a committed part or damage: never replaced."""
    if path.exists():
        raise StorageError(f"{path} already exists; refusing to replace a stored part")
    with atomic_file(path) as sink:
        options = parquet_options(rows.schema, fast=fast)
        pq.write_table(rows, sink, row_group_size=ROW_GROUP_ROWS, **options)
    return PartFile(first_seq, last_seq, path, table, rows.num_rows, sink.size, sink.sha256)


def write_batch(
    layout: Layout, batch: BatchTables, *, fast: bool = False, raw_writer: Executor | None = None
) -> list[PartFile]:
    """One part per table that has rows, all named by the batch's seq range, `raw` last.

    With `raw_writer`, the raw part (the largest) is written on it while this thread writes
    the others: an import's writes then use two cores. It is waited for either way."""
    if "raw" not in batch.tables:
        raise StorageError(f"batch {batch.first_seq}-{batch.last_seq} has no raw rows")

    def write(table: str) -> PartFile:
        path = layout.part_path(table, batch.day, batch.first_seq, batch.last_seq)
        return write_part(
            batch.tables[table], path, table, batch.first_seq, batch.last_seq, fast=fast
        )

    raw = raw_writer.submit(write, "raw") if raw_writer is not None else None
    written = []
    try:
        for table in NORMALIZED_TABLES:
            rows = batch.tables.get(table)
            if rows is not None and rows.num_rows:
                written.append(write(table))
    except BaseException as exc:
        if raw is not None and (raw_failure := raw.exception()) is not None:
            exc.add_note(f"writing the raw part failed too: {raw_failure}")
        raise
    written.append(raw.result() if raw is not None else write("raw"))
    return written


def write_parquet_atomic(rows: pa.Table, path: Path) -> None:
    """A Parquet file outside the commit log (the connection log), written atomically."""
    with atomic_file(path) as sink:
        pq.write_table(rows, sink, **parquet_options(rows.schema))
