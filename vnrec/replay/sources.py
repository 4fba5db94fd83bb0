"""Where event chunks come from: a day's Parquet parts (streamed batch by batch, only the
needed columns) or in-memory normalized tables (the live recorder's micro-batches)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from vnrec.replay.convert import (
    EVENT_TABLES,
    KNOWN_TYPES,
    Chunk,
    columns_needed,
    text_columns,
    to_events,
)
from vnrec.replay.filters import EventFilter
from vnrec.storage.layout import Layout

DEFAULT_BATCH_ROWS = 16_384  # bigger batches are no faster and cost memory
NO_FILTER = EventFilter()


def _chunks(
    table: str, batches: Iterator[pa.RecordBatch], event_filter: EventFilter, book_levels: int
) -> Iterator[Chunk]:
    for batch in batches:
        kept = event_filter.apply(batch) if table != "raw" else batch
        if kept.num_rows:
            yield to_events(table, kept, book_levels)


def _read_part(
    path: object, columns: list[str], batch_rows: int, text: list[str]
) -> Iterator[pa.RecordBatch]:
    with pq.ParquetFile(path, read_dictionary=text) as parquet:
        present = set(parquet.schema_arrow.names)
        wanted = [c for c in columns if c in present]
        yield from parquet.iter_batches(batch_size=batch_rows, columns=wanted)


def _has_unknown(path: object, batch_rows: int) -> bool:
    # A cheap first pass over the dictionary of one small column: the content column is
    # read only for parts that hold a DataType vnrec does not model.
    for batch in _read_part(path, ["data_type"], batch_rows, ["data_type"]):
        column = batch.column(0)
        if column.null_count or not pc.all(pc.is_in(column.dictionary, KNOWN_TYPES)).as_py():
            return True
    return False


def parquet_batches(
    layout: Layout, day: dt.date, table: str, book_levels: int, batch_rows: int
) -> Iterator[pa.RecordBatch]:
    """The Arrow batches of one table of a day, only the columns its events need (for `raw`:
    only the parts that hold an unknown DataType)."""
    columns = columns_needed(table, book_levels)
    text = text_columns(table)
    for part in layout.parts(table, day):
        if table == "raw" and not _has_unknown(part.path, batch_rows):
            continue
        yield from _read_part(part.path, columns, batch_rows, text)


def parquet_streams(
    layout: Layout,
    day: dt.date,
    event_filter: EventFilter = NO_FILTER,
    book_levels: int = 1,
    batch_rows: int = DEFAULT_BATCH_ROWS,
) -> list[tuple[str, Iterator[Chunk]]]:
    """One chunk stream per table of the day, in EVENT_TABLES order."""
    streams = []
    for table in EVENT_TABLES:
        if table == "raw" and event_filter.has_window:
            continue  # unknown messages have no event time: a window never keeps them
        batches = parquet_batches(layout, day, table, book_levels, batch_rows)
        streams.append((table, _chunks(table, batches, event_filter, book_levels)))
    return streams


def table_streams(
    tables: Mapping[str, pa.Table],
    event_filter: EventFilter = NO_FILTER,
    book_levels: int = 1,
    batch_rows: int = DEFAULT_BATCH_ROWS,
) -> list[tuple[str, Iterator[Chunk]]]:
    """One chunk stream per table present in `tables` (normalized tables plus `raw`)."""
    streams = []
    for table in EVENT_TABLES:
        data = tables.get(table)
        if data is None or (table == "raw" and event_filter.has_window):
            continue
        batches = iter(data.to_batches(max_chunksize=batch_rows))
        streams.append((table, _chunks(table, batches, event_filter, book_levels)))
    return streams
