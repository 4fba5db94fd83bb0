"""Normalized Arrow batches to typed events: one column at a time to Python lists, then one
tuple per row, so no per-row Arrow scalar is ever built (the cost of leaving Arrow)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from vnrec.events import (
    BarEvent,
    BookLevels,
    Event,
    ForeignEvent,
    IndexEvent,
    OddLotEvent,
    QuoteEvent,
    StatusEvent,
    TradeEvent,
    UnknownEvent,
)
from vnrec.ssi.channels import BOOK_LEVELS, KNOWN_DATA_TYPES, MESSAGE_KINDS
from vnrec.storage.schema import SCHEMAS

SeqArray = npt.NDArray[np.int64]
NAN = math.nan


class Chunk(NamedTuple):
    """Events of one batch of one table, in seq order, with their seqs as an array."""

    seqs: SeqArray
    events: list[Event]


class TableSpec(NamedTuple):
    """How a table's columns become the fields of its event type after seq/recv_ns/event_ts.

    Each column comes with the value that replaces a null (None: keep None). `data_type`
    becomes the message kind (vnrec.ssi.channels.MESSAGE_KINDS)."""

    event_type: type[Any]
    columns: tuple[tuple[str, Any], ...]


SPECS: dict[str, TableSpec] = {
    "trades": TableSpec(
        TradeEvent,
        (
            ("data_type", None),
            ("symbol", None),
            ("last_price", NAN),
            ("last_vol", 0),
            ("total_vol", 0),
            ("total_val", NAN),
            ("trading_session", None),
            ("side", None),
            ("ceiling", NAN),
            ("floor", NAN),
        ),
    ),
    "quotes": TableSpec(
        QuoteEvent,
        (
            ("data_type", None),
            ("symbol", None),
            ("trading_session", None),
            ("bid_price1", NAN),
            ("bid_vol1", 0),
            ("ask_price1", NAN),
            ("ask_vol1", 0),
        ),
    ),
    "foreign": TableSpec(
        ForeignEvent,
        (
            ("symbol", None),
            ("buy_vol", None),
            ("sell_vol", None),
            ("buy_val", None),
            ("sell_val", None),
            ("total_room", None),
            ("current_room", None),
        ),
    ),
    "index": TableSpec(
        IndexEvent,
        (
            ("index_id", None),
            ("index_value", None),
            ("prior_index_value", None),
            ("change", None),
            ("ratio_change", None),
            ("advances", None),
            ("declines", None),
            ("no_changes", None),
            ("total_qtty", None),
            ("total_value", None),
            ("trading_session", None),
        ),
    ),
    "bars": TableSpec(
        BarEvent,
        (
            ("symbol", None),
            ("open", None),
            ("high", None),
            ("low", None),
            ("close", None),
            ("volume", None),
            ("value", None),
        ),
    ),
    "status": TableSpec(
        StatusEvent, (("symbol", None), ("trading_session", None), ("trading_status", None))
    ),
    "oddlot": TableSpec(
        OddLotEvent,
        (
            ("symbol", None),
            ("last_price", None),
            ("last_vol", None),
            ("total_vol", None),
            ("trading_session", None),
        ),
    ),
}

# Tables in the order their events come for one seq: an `X` message's trade part (trades)
# is delivered before its book part (quotes). `raw` supplies the unknown DataTypes.
EVENT_TABLES: tuple[str, ...] = (*SPECS, "raw")
RAW_COLUMNS = ("seq", "recv_ns", "data_type", "content")
# Columns whose values rarely repeat within a batch: read directly, not through a dictionary.
UNIQUE_COLUMNS = frozenset(
    {"seq", "recv_ns", "total_vol", "total_val", "total_qtty", "total_value", "content"}
)
KNOWN_TYPES = pa.array(sorted(KNOWN_DATA_TYPES), pa.string())


def _book_columns(levels: int) -> list[str]:
    return [
        f"{side}_{kind}{level}"
        for side in ("bid", "ask")
        for kind in ("price", "vol")
        for level in range(1, levels + 1)
    ]


def text_columns(table: str) -> list[str]:
    """The text columns of `table`, read from Parquet as dictionaries (see `_decoded`)."""
    schema = SCHEMAS[table]
    return [f.name for f in schema if pa.types.is_string(f.type) and f.name != "content"]


def columns_needed(table: str, book_levels: int = 1) -> list[str]:
    """The stored columns the event of `table` is built from."""
    if table == "raw":
        return list(RAW_COLUMNS)
    columns = ["seq", "recv_ns", "event_ts", *(name for name, _ in SPECS[table].columns)]
    if table == "quotes" and book_levels > 1:
        columns += _book_columns(min(book_levels, BOOK_LEVELS))
    return columns


def _values(batch: pa.RecordBatch, name: str, fill: Any, kinds: bool = False) -> list[Any]:
    import pyarrow.compute as pc  # not at import: a replay starts reading before it loads it

    index = batch.schema.get_field_index(name)
    if index < 0:  # a column this part predates: every value is missing
        return [fill] * batch.num_rows
    column = batch.column(index)
    if pa.types.is_timestamp(column.type):
        # Integers, not datetimes: building a datetime per row would dominate the replay.
        column = column.cast(pa.int64())
    if name not in UNIQUE_COLUMNS and not pa.types.is_dictionary(column.type):
        column = pc.dictionary_encode(column)
    if pa.types.is_dictionary(column.type):
        return _decoded(column, fill, MESSAGE_KINDS if kinds else None)
    if fill is not None and column.null_count:
        column = pc.fill_null(column, fill)
    values: list[Any] = column.to_pylist()
    return values


def _decoded(
    column: pa.DictionaryArray, fill: Any, mapping: dict[str, str] | None = None
) -> list[Any]:
    # Through the dictionary: each distinct value becomes one Python object that all rows
    # share, which halves the cost of text columns and saves an allocation and a
    # deallocation per row for the repetitive numbers (times, prices, per-message volumes).
    import pyarrow.compute as pc

    dictionary = column.dictionary
    if fill is not None and dictionary.null_count:
        dictionary = pc.fill_null(dictionary, fill)
    words = dictionary.to_pylist()
    if mapping is not None:
        words = [mapping.get(word) for word in words]
    distinct = np.array([*words, fill], dtype=object)
    indices = column.indices
    if indices.null_count:
        indices = pc.fill_null(indices, len(distinct) - 1)
    values: list[Any] = distinct[indices.to_numpy(zero_copy_only=False)].tolist()
    return values


def _levels(batch: pa.RecordBatch, levels: int) -> list[BookLevels]:
    depth = min(levels, BOOK_LEVELS)

    def side(prefix: str, fill: Any) -> Any:
        columns = [_values(batch, f"{prefix}{lvl}", fill) for lvl in range(1, depth + 1)]
        return zip(*columns, strict=True)

    make: Callable[[tuple[Any, ...]], BookLevels] = partial(tuple.__new__, BookLevels)
    return list(
        map(
            make,
            zip(
                side("bid_price", NAN),
                side("bid_vol", 0),
                side("ask_price", NAN),
                side("ask_vol", 0),
                strict=True,
            ),
        )
    )


def to_events(table: str, batch: pa.RecordBatch, book_levels: int = 1) -> Chunk:
    """The events of one batch of a normalized table (or the unknown rows of `raw`)."""
    if table == "raw":
        return _unknown_events(batch)
    spec = SPECS[table]
    lists: list[Sequence[Any]] = [
        _values(batch, "seq", None),
        _values(batch, "recv_ns", None),
        _values(batch, "event_ts", None),
    ]
    lists += [_values(batch, name, fill, name == "data_type") for name, fill in spec.columns]
    if spec.event_type is QuoteEvent:
        levels = _levels(batch, book_levels) if book_levels > 1 else None
        lists.append(levels if levels is not None else [None] * batch.num_rows)
    make = partial(tuple.__new__, spec.event_type)
    events: list[Event] = list(map(make, zip(*lists, strict=True)))
    return Chunk(_seqs(batch), events)


def _seqs(batch: pa.RecordBatch) -> SeqArray:
    seqs: SeqArray = np.asarray(batch.column("seq").to_numpy(zero_copy_only=False), np.int64)
    return seqs


def unknown_mask(batch: pa.RecordBatch) -> pa.Array:
    """Rows of `raw` whose DataType vnrec does not model (a null DataType included)."""
    import pyarrow.compute as pc

    known = pc.is_in(batch.column("data_type"), value_set=KNOWN_TYPES)
    return pc.invert(pc.fill_null(known, False))


def _unknown_events(batch: pa.RecordBatch) -> Chunk:
    rows = batch.filter(unknown_mask(batch))
    n = rows.num_rows
    lists = [
        _values(rows, "seq", None),
        _values(rows, "recv_ns", None),
        [None] * n,
        _values(rows, "data_type", None),
        _values(rows, "content", None),
    ]
    make = partial(tuple.__new__, UnknownEvent)
    events: list[Event] = list(map(make, zip(*lists, strict=True)))
    return Chunk(_seqs(rows), events)
