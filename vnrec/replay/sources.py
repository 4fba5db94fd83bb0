"""Where event chunks come from: a day's committed Parquet parts (streamed batch by batch,
only the needed columns) or in-memory normalized tables (the live recorder's micro-batches).

A replay follows the snapshot of the commit log it started with. Should a compaction
replace the parts under it, a part it has not opened yet is gone: it then reads the commit
log again and goes on from the first seq it has not emitted, in the merged file. A part
missing while the log did not change is damage, and an error."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import pyarrow as pa
import pyarrow.parquet as pq

from vnrec.errors import IntegrityError, StorageError
from vnrec.replay.convert import (
    EVENT_TABLES,
    Chunk,
    columns_needed,
    text_columns,
    to_events,
    unknown_mask,
)
from vnrec.replay.filters import EventFilter
from vnrec.ssi.channels import KNOWN_DATA_TYPES
from vnrec.storage.commits import DayState, PartFile
from vnrec.storage.layout import Layout
from vnrec.storage.schema import SCHEMAS
from vnrec.storage.verified import PartChecks

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
    with pq.ParquetFile(
        path, read_dictionary=text, page_checksum_verification=True, buffer_size=1 << 20
    ) as parquet:
        present = set(parquet.schema_arrow.names)
        wanted = [c for c in columns if c in present]
        # One thread per part: the replay reads ahead on a thread of its own while the
        # trackers run, and Arrow's pool decoding a batch's columns at once only competed
        # with them for the two cores (same time, ~35 MB more peak memory).
        yield from parquet.iter_batches(batch_size=batch_rows, columns=wanted, use_threads=False)


def _has_unknown(path: object, batch_rows: int) -> bool:
    # A cheap first pass over the dictionary of one small column: the content column is
    # read only for parts that hold a DataType vnrec does not model. (Python over the few
    # words rather than pyarrow.compute: a replay reads this before it loads that.)
    for batch in _read_part(path, ["data_type"], batch_rows, ["data_type"]):
        column = batch.column(0)
        if column.null_count or not KNOWN_DATA_TYPES.issuperset(column.dictionary.to_pylist()):
            return True
    return False


def _part_batches(
    checks: PartChecks,
    part: PartFile,
    table: str,
    columns: list[str],
    text: list[str],
    batch_rows: int,
) -> Iterator[pa.RecordBatch]:
    try:
        # Page checksums are verified as pages are read, but a sound part of another day
        # put in this one's place passes them: the part must be the file its record names.
        checks.check([part])
        if table == "raw" and not _has_unknown(part.path, batch_rows):
            return
        yield from _read_part(part.path, columns, batch_rows, text)
    except FileNotFoundError:
        raise
    except (OSError, pa.ArrowException) as exc:
        raise StorageError(f"cannot read {part.path}: {exc}") from exc


def parquet_batches(
    layout: Layout,
    state: DayState,
    table: str,
    book_levels: int,
    batch_rows: int,
    columns: list[str] | None = None,
    from_seq: int = 0,
) -> Iterator[pa.RecordBatch]:
    """The Arrow batches of one table of a day from `from_seq` on, `columns` (default: the
    columns its events need; for `raw`: only the parts that hold an unknown DataType), in
    seq order, each row once. Text columns are read as dictionaries."""
    for item in _marked_batches(layout, state, table, book_levels, batch_rows, columns, from_seq):
        if not isinstance(item, int):
            yield item


def _marked_batches(
    layout: Layout,
    state: DayState,
    table: str,
    book_levels: int,
    batch_rows: int,
    columns: list[str] | None = None,
    from_seq: int = 0,
) -> Iterator[pa.RecordBatch | int]:
    """`parquet_batches`, with each part's last seq after its rows: a mark for
    `vnrec.replay.windows.seq_windows` (a part of `raw` skipped yields only its mark)."""
    if columns is None:
        columns = columns_needed(table, book_levels)
    text = text_columns(table)
    next_seq = from_seq
    checks = PartChecks(layout.root, state.day)
    while True:
        for part in [p for p in state.table_parts(table) if p.last_seq >= next_seq]:
            try:
                batches = _part_batches(checks, part, table, columns, text, batch_rows)
                for batch in batches:
                    if part.first_seq < next_seq:  # a merged file over rows already emitted
                        import pyarrow.compute as pc

                        yield batch.filter(pc.greater_equal(batch.column("seq"), next_seq))
                    else:
                        yield batch
            except FileNotFoundError:
                newer = layout.state(state.day)
                if newer.version == state.version:
                    raise IntegrityError(f"committed part {part.path} is missing") from None
                state = newer
                break
            next_seq = part.last_seq + 1
            yield part.last_seq
        else:
            return


def parquet_streams(
    layout: Layout,
    state: DayState,
    event_filter: EventFilter = NO_FILTER,
    book_levels: int = 1,
    batch_rows: int = DEFAULT_BATCH_ROWS,
) -> list[tuple[str, Iterator[Chunk]]]:
    """One chunk stream per table of the day, in EVENT_TABLES order."""
    streams = []
    for table in EVENT_TABLES:
        batches = parquet_batches(layout, state, table, book_levels, batch_rows)
        streams.append((table, _chunks(table, batches, event_filter, book_levels)))
    return streams


def _unknown_rows(batches: Iterator[pa.RecordBatch | int]) -> Iterator[pa.RecordBatch | int]:
    for batch in batches:
        yield batch if isinstance(batch, int) else batch.filter(unknown_mask(batch))


def _filtered(
    batches: Iterator[pa.RecordBatch | int], event_filter: EventFilter
) -> Iterator[pa.RecordBatch | int]:
    for batch in batches:
        yield batch if isinstance(batch, int) else event_filter.apply(batch)


def window_streams(
    layout: Layout,
    state: DayState,
    columns: Mapping[str, list[str]],
    event_filter: EventFilter = NO_FILTER,
    batch_rows: int = DEFAULT_BATCH_ROWS,
    from_seq: int = 0,
) -> list[tuple[str, Iterator[pa.RecordBatch | int]]]:
    """Per table of `columns` (in EVENT_TABLES order), its batches with those columns from
    `from_seq` on, the symbol filter applied, and for `raw` only the rows of DataTypes vnrec
    does not model, with each part's mark: the input of `vnrec.replay.windows.seq_windows`."""
    streams = []
    for table in EVENT_TABLES:
        if table not in columns:
            continue
        wanted = list(columns[table])
        if table == "raw" and "data_type" not in wanted:
            wanted.append("data_type")
        if event_filter.symbols is not None and "symbol" in SCHEMAS[table].names:
            wanted = list(dict.fromkeys([*wanted, "symbol"]))  # what the filter reads
        batches = _marked_batches(layout, state, table, 1, batch_rows, wanted, from_seq)
        if table == "raw":
            streams.append((table, _unknown_rows(batches)))
        else:
            streams.append((table, _filtered(batches, event_filter)))
    return streams


def unknown_only(tables: Mapping[str, pa.Table]) -> dict[str, pa.Table]:
    """A recorder micro-batch as a window: `raw` keeps only the rows of DataTypes vnrec does
    not model (the others are events of their normalized tables)."""
    window = dict(tables)
    raw = window.get("raw")
    if raw is not None:
        window["raw"] = raw.filter(unknown_mask(raw))
    return window


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
        if data is None:
            continue
        batches = iter(data.to_batches(max_chunksize=batch_rows))
        streams.append((table, _chunks(table, batches, event_filter, book_levels)))
    return streams
