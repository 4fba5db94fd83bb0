"""What a data root holds, per committed day and table: row counts and sizes from the
commit log, event_ts ranges from Parquet footers, reading only the `symbol` column to
count symbols."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from vnrec.errors import StorageError
from vnrec.ssi.channels import ALL_TABLES
from vnrec.storage.commits import PartFile, logged_days
from vnrec.storage.layout import Layout
from vnrec.storage.verified import check_parts


@dataclass(frozen=True)
class TableDay:
    date: dt.date
    table: str
    parts: int
    rows: int
    symbols: int | None  # None for tables without a symbol column
    first_event_ts: dt.datetime | None
    last_event_ts: dt.datetime | None
    first_seq: int
    last_seq: int
    bytes: int


def _column_range(metadata: pq.FileMetaData, name: str) -> tuple[object, object]:
    index = metadata.schema.to_arrow_schema().get_field_index(name)
    low: object = None
    high: object = None
    if index < 0:
        return None, None
    for group in range(metadata.num_row_groups):
        stats = metadata.row_group(group).column(index).statistics
        if stats is None or not stats.has_min_max:
            continue
        low = stats.min if low is None or stats.min < low else low
        high = stats.max if high is None or stats.max > high else high
    return low, high


def describe(table: str, day: dt.date, parts: list[PartFile]) -> TableDay:
    rows = 0
    size = 0
    first_seq: int | None = None
    last_seq: int | None = None
    first_ts: dt.datetime | None = None
    last_ts: dt.datetime | None = None
    symbol_sets: list[pa.Array] = []
    has_symbol = False
    for part in parts:
        rows += part.rows
        size += part.bytes
        try:
            parquet = pq.ParquetFile(part.path)
            # The rows' own seq range: a normalized part holds only some seqs of its batch.
            low, high = _column_range(parquet.metadata, "seq")
            if isinstance(low, int) and (first_seq is None or low < first_seq):
                first_seq = low
            if isinstance(high, int) and (last_seq is None or high > last_seq):
                last_seq = high
            low, high = _column_range(parquet.metadata, "event_ts")
            if isinstance(low, dt.datetime) and (first_ts is None or low < first_ts):
                first_ts = low
            if isinstance(high, dt.datetime) and (last_ts is None or high > last_ts):
                last_ts = high
            if "symbol" in parquet.schema_arrow.names:
                has_symbol = True
                symbol_sets.append(pc.unique(parquet.read(columns=["symbol"]).column("symbol")))
        except (OSError, pa.ArrowException) as exc:
            raise StorageError(f"unreadable part file {part.path}: {exc}") from exc
    symbols = None
    if has_symbol:
        combined = pa.chunked_array(symbol_sets, pa.string())
        symbols = len(pc.unique(combined).drop_null())
    return TableDay(
        day,
        table,
        len(parts),
        rows,
        symbols,
        first_ts,
        last_ts,
        first_seq or 0,
        last_seq or 0,
        size,
    )


def inventory(layout: Layout, days: list[dt.date] | None = None) -> list[TableDay]:
    """One entry per (day, table) with committed data, days ascending, tables in layout
    order."""
    wanted = days if days is not None else logged_days(layout.root)
    out = []
    for day in wanted:
        state = layout.state(day)
        for table in ALL_TABLES:
            parts = state.table_parts(table)
            if parts:
                check_parts(layout.root, day, parts)
                out.append(describe(table, day, parts))
    return out


def legacy_days(layout: Layout, days: list[dt.date] | None = None) -> list[dt.date]:
    """Days with part files but no commit log: written by vnrec 0.1, invisible until
    `vnrec recover` adopts them."""
    wanted = layout.disk_days() if days is None else days
    logged = set(logged_days(layout.root))
    return [day for day in wanted if day not in logged and layout.disk_parts(day)]
