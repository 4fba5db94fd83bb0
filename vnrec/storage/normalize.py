"""The one columnar normalizer: a batch of SSI envelopes (data type + Content JSON text)
becomes typed Arrow tables, one per channel, without a Python object per field.

Content of the usual shape is read by the native reader (`content_scan`, `_scan.c`), which
reads a row only where it gives exactly what DuckDB gives. The other rows are decoded by
DuckDB's JSON reader (yyjson, in C++), the reference reading, straight into typed columns:
one `json_transform` per group of data types (an `X` snapshot, which feeds both `trades`
and `quotes`, is parsed once), numbers as DOUBLE, text as VARCHAR. That
reading is lenient where vnrec must not be: a value that is not a number becomes NULL, and
a NULL cannot tell an absent key from a bad value. So each row is checked without parsing
it again:

- a row is certain when every numeric key it declares decoded to a number, or when its
  colons are all accounted for: one per declared key that decoded to a value, plus those
  inside its text values (any other colon is a key that decoded to NULL: a JSON null, a
  bad value, or a key vnrec does not know);
- rows with a `\\u` escape (which can hide a key or a colon) or a `true`/`false` (DuckDB
  reads a boolean as 1 or 0) are never certain.

Rows that are not certain are read again with every value as text: a value is invalid when
it is neither blank nor castable to DOUBLE by the very cast the typed reading used, so both
readings agree on every value they both accept. Numbers are what DuckDB casts to DOUBLE:
JSON numbers, numeric strings (surrounding blanks and `_` digit separators included),
`"NaN"` and `"inf"`; a text field holding a non-string keeps its compact JSON text.
Duplicate keys: the first one wins. Key spellings that differ only by case (`Isin`/`ISIN`)
cannot share one DuckDB struct, so the rarer spelling is read in a second pass over the
rows that contain it. Nothing else in vnrec parses Content into columns.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeAlias

import numpy as np
import numpy.typing as npt
import orjson
import polars as pl
import pyarrow as pa

from vnrec.calendar import HCM_UTC_OFFSET
from vnrec.errors import StorageError
from vnrec.ssi.channels import (
    CHANNELS,
    DATE_KEYS,
    IGNORED_KEYS,
    TIME_KEYS,
    Channel,
    WireField,
)
from vnrec.storage.content_scan import Rows, scan_contents
from vnrec.storage.schema import SCHEMAS

if TYPE_CHECKING:
    import duckdb

# Rows per Arrow batch handed to DuckDB: its unit of parallel work.
_SCAN_ROWS = 16_384
_INT64_LIMIT = 2.0**63
_NUMERIC_KINDS = frozenset({"price", "value", "volume", "count"})
_TIME_FIELD = WireField("time", TIME_KEYS, "text")
_DATE_FIELD = WireField("trading_date", DATE_KEYS, "text")


@dataclass(frozen=True)
class _Group:
    """Data types decoded by one `json_transform`: their keys and the tables they feed.

    Key i of the group is column `k{i}` of its decoded frame; `layers` are the DuckDB
    structs (key indexes), each free of two spellings that differ only by case."""

    data_types: tuple[str, ...]
    channels: tuple[Channel, ...]
    keys: tuple[str, ...]
    numeric: tuple[bool, ...]
    layers: tuple[tuple[int, ...], ...]
    whole: tuple[str, ...]  # the keys of volumes and counts: whole numbers an int64 holds

    def column(self, key: str) -> str:
        return f"k{self.keys.index(key)}"

    def kinds(self) -> tuple[int, ...]:
        """Per key, the native reader's kind: 0 text, 1 number, 2 whole number."""
        return tuple(
            2 if key in self.whole else int(numeric)
            for key, numeric in zip(self.keys, self.numeric, strict=True)
        )


@functools.cache
def _groups() -> tuple[_Group, ...]:
    routes: dict[str, list[Channel]] = {}
    for channel in CHANNELS:
        for data_type in channel.data_types:
            routes.setdefault(data_type, []).append(channel)
    by_channels: dict[tuple[str, ...], list[str]] = {}
    for data_type, channels in routes.items():
        by_channels.setdefault(tuple(c.table for c in channels), []).append(data_type)
    tables = {c.table: c for c in CHANNELS}
    groups = [
        _group(tuple(data_types), tuple(tables[t] for t in names))
        for names, data_types in by_channels.items()
    ]
    # Unknown data types are read for their TradingDate only (they are kept in raw).
    groups.append(_group((), ()))
    return tuple(groups)


def _group(data_types: tuple[str, ...], channels: tuple[Channel, ...]) -> _Group:
    kinds: dict[str, bool] = {}
    wire_fields = [f for c in channels for f in c.fields]
    wire_fields += [_DATE_FIELD, _TIME_FIELD] if channels else [_DATE_FIELD]
    for wire_field in wire_fields:
        for key in wire_field.keys:
            numeric = wire_field.kind in _NUMERIC_KINDS
            if kinds.setdefault(key, numeric) != numeric:
                raise StorageError(f"wire key {key} is both a number and text in {data_types}")
    if channels:
        for key in IGNORED_KEYS:
            kinds.setdefault(key, False)
    keys = tuple(kinds)
    layers: list[list[int]] = []
    for index, key in enumerate(keys):
        for layer in layers:
            if all(keys[i].lower() != key.lower() for i in layer):
                layer.append(index)
                break
        else:
            layers.append([index])
    whole = dict.fromkeys(
        key
        for channel in channels
        for wire_field in channel.fields
        if wire_field.kind in ("volume", "count")
        for key in wire_field.keys
    )
    return _Group(
        data_types,
        channels,
        keys,
        tuple(kinds[k] for k in keys),
        tuple(tuple(layer) for layer in layers),
        tuple(whole),
    )


Text: TypeAlias = "pa.Array | pa.ChunkedArray | pl.Series"  # a column of text


def as_arrow(column: Text) -> Any:
    """The column as Arrow (a polars Series is converted, Arrow is taken as it is)."""
    return column.to_arrow() if isinstance(column, pl.Series) else column


@dataclass
class Decoded:
    """Content decoded for a batch: per channel, the batch row numbers and typed fields."""

    rows: int
    # table -> frame of "_row", "_date" (TradingDate), "_time" and one column per field
    channel_frames: dict[str, pl.DataFrame]
    trading_dates: pl.Series  # per batch row: the Content's TradingDate, or null
    bad_rows: dict[int, str] = field(default_factory=dict)  # row -> reason


class Normalizer:
    """Decodes batches of Content text with one DuckDB connection of `threads` threads.
    Not thread-safe: one per thread that decodes. Close it (or use `with`).

    `native=False` has DuckDB read every row: the reference reading, which the tests
    compare the native reader with."""

    def __init__(self, threads: int = 1, *, native: bool = True) -> None:
        import duckdb

        self._duckdb = duckdb
        self._con = duckdb.connect(config={"threads": threads})
        # Its progress bar would be drawn on standard output (vnrec.analytics.connection).
        self._con.execute("SET enable_progress_bar = false")
        self._native = native

    def close(self) -> None:
        self._con.close()

    def __enter__(self) -> Normalizer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def connection(self) -> duckdb.DuckDBPyConnection:
        return self._con

    def decode(self, data_types: Text, contents: Text) -> Decoded:
        """Decode the Content of each row by its DataType's channels.

        Rows of unknown DataTypes are decoded only for their TradingDate (they are kept in
        `raw`). Rows whose Content is not a JSON object, or holds a value that is not what
        its field is, are listed in `bad_rows` with the reason."""
        batch = pa.table(
            {
                "_row": pa.array(np.arange(len(contents), dtype=np.int64)),
                "dt": as_arrow(data_types),
                "c": as_arrow(contents),
            }
        )
        not_json: dict[int, str] = {}
        while True:
            try:
                return self._decode(batch, not_json)
            except self._duckdb.InvalidInputException as exc:
                # Some Content is not JSON: rare, so it is looked for only when DuckDB says so.
                found = self._invalid_json(batch, not_json)
                if not found:
                    raise StorageError(f"DuckDB cannot decode a batch of Content: {exc}") from exc
                not_json.update(found)

    def _decode(self, batch: pa.Table, not_json: dict[int, str]) -> Decoded:
        bad_rows = dict(not_json)
        group_of = _group_of(pl.Series("dt", batch.column("dt"), dtype=pl.String))
        group_of[list(not_json)] = -1
        channel_frames: dict[str, list[pl.DataFrame]] = {}
        # each row is in one group at most: its date is set by that group's reading
        dates = pl.repeat(None, batch.num_rows, dtype=pl.Date, eager=True).alias("_date")
        for index, group in enumerate(_groups()):
            rows = np.flatnonzero(group_of == index)
            if not len(rows):
                continue
            decoded = self._decode_group(group, rows, batch, bad_rows)
            dates = dates.scatter(decoded["_row"], decoded["_date"])
            for channel in group.channels:
                channel_frames.setdefault(channel.table, []).append(
                    decoded.select("_row", "_date", "_time", *_field_exprs(group, channel))
                )
        frames: dict[str, pl.DataFrame] = {}
        bad = np.array(sorted(bad_rows), dtype=np.int64)
        for table, parts in channel_frames.items():
            joined = pl.concat(parts).sort("_row") if len(parts) > 1 else parts[0]
            if len(bad):
                joined = joined.filter(pl.Series(~np.isin(joined["_row"].to_numpy(), bad)))
            frames[table] = joined
        return Decoded(batch.num_rows, frames, dates, bad_rows)

    def _invalid_json(self, batch: pa.Table, known: dict[int, str]) -> dict[int, str]:
        """Rows DuckDB cannot parse as JSON (and not yet known), with orjson's reason."""
        with _registered(self._con, "probe", _without(batch, known)):
            invalid = self._con.sql(
                "SELECT _row FROM probe WHERE NOT coalesce(json_valid(c), false)"
            ).to_arrow_table()
        contents = batch.column("c")
        return {row: _content_error(contents[row].as_py()) for row in invalid.column(0).to_pylist()}

    # -- one group ------------------------------------------------------------------------

    def _decode_group(
        self, group: _Group, rows: Rows, batch: pa.Table, bad_rows: dict[int, str]
    ) -> pl.DataFrame:
        """The group's rows as `_row, k0..kN` typed, then parsed dates and times: read by
        the native reader where it is certain, by DuckDB where it is not."""
        if self._native:
            typed, uncertain = scan_contents(batch.column("c"), rows, group.keys, group.kinds())
        else:
            typed, uncertain = None, rows
        if len(uncertain):
            read = self._read_by_duckdb(group, uncertain, batch, bad_rows)
            _check_whole_numbers(group, read, bad_rows)  # the native reader reads only those
            typed = read if typed is None else pl.concat([typed, read]).sort("_row")
        assert typed is not None
        return _with_time(group, typed, bad_rows)

    def _read_by_duckdb(
        self, group: _Group, rows: Rows, batch: pa.Table, bad_rows: dict[int, str]
    ) -> pl.DataFrame:
        """The given rows (ascending) as `_row, k0..kN`, read by DuckDB's JSON reader."""
        source = _rows_of(batch, pl.Series(rows))
        with _registered(self._con, "group_rows", source):
            typed = self._transform(group, group.layers[0], "group_rows", "TRUE")
        for layer in group.layers[1:]:
            typed = self._second_spellings(group, layer, batch, typed)
        typed = typed.select("_row", *(f"k{i}" for i in range(len(group.keys))))
        marks = row_marks(source.column("c"))[np.searchsorted(rows, typed["_row"].to_numpy())]
        certain = _certain(group, typed, marks)
        doubtful = typed.filter(~certain)
        if doubtful.height:
            typed = typed.filter(certain)
            with _registered(self._con, "doubt", _rows_of(batch, doubtful["_row"])):
                texts = self._as_text(group)
            _check_objects(group, texts, batch, bad_rows)
            typed = pl.concat([typed, _numbers_of(group, texts, bad_rows)]).sort("_row")
        return typed

    def _second_spellings(
        self, group: _Group, layer: Sequence[int], batch: pa.Table, typed: pl.DataFrame
    ) -> pl.DataFrame:
        """Adds the keys of `layer`, read where the spelling they share a name with decoded
        to nothing and the row holds one of them."""
        firsts = [
            f"k{i}"
            for i in group.layers[0]
            if any(group.keys[i].lower() == group.keys[j].lower() for j in layer)
        ]
        rows = typed.filter(pl.any_horizontal(pl.col(c).is_null() for c in firsts))["_row"]
        if len(rows):
            spelled = " OR ".join(
                f"contains(c, {_sql_text(_quoted(group.keys[i]))})" for i in layer
            )
            with _registered(self._con, "unspelled", _rows_of(batch, rows)):
                extra = self._transform(group, layer, "unspelled", spelled)
            if extra.height:
                return typed.join(extra, on="_row", how="left", maintain_order="left")
        return typed.with_columns(
            pl.lit(None, pl.Float64 if group.numeric[i] else pl.String).alias(f"k{i}")
            for i in layer
        )

    def _as_text(self, group: _Group) -> pl.DataFrame:
        """The rows of `doubt` with every key as its text and, for numeric keys, `n{i}`:
        that text cast to DOUBLE by the cast the typed reading uses."""
        parts = []
        for layer in group.layers:
            columns = []
            for i in layer:
                columns.append(f's."{group.keys[i]}" AS k{i}')
                if group.numeric[i]:
                    columns.append(f'TRY_CAST(s."{group.keys[i]}" AS DOUBLE) AS n{i}')
            struct = _struct(group, layer, as_text=True)
            sql = (
                f"SELECT _row, {', '.join(columns)} FROM"
                f" (SELECT _row, json_transform(c, '{struct}') AS s FROM doubt)"
            )
            part = pl.from_arrow(self._con.sql(sql).to_arrow_table())
            assert isinstance(part, pl.DataFrame)
            parts.append(part)
        texts = parts[0]
        for part in parts[1:]:
            texts = texts.join(part, on="_row", how="left", maintain_order="left")
        return texts

    def _transform(
        self, group: _Group, layer: Sequence[int], source: str, where: str
    ) -> pl.DataFrame:
        struct = _struct(group, layer, as_text=False)
        sql = f"SELECT _row, UNNEST(json_transform(c, '{struct}')) FROM {source} WHERE {where}"
        table = self._con.sql(sql).to_arrow_table()
        table = table.rename_columns(["_row", *(f"k{i}" for i in layer)])
        decoded = pl.from_arrow(table)
        assert isinstance(decoded, pl.DataFrame)
        return decoded


def _group_of(data_types: pl.Series) -> npt.NDArray[np.int32]:
    """Per row, the index in `_groups()` of the group of its data type (unknown data types,
    null included, are the last group's)."""
    groups = _groups()
    known = {d: index for index, group in enumerate(groups) for d in group.data_types}
    unknown = next(index for index, group in enumerate(groups) if not group.data_types)
    return (
        data_types.replace_strict(known, default=unknown, return_dtype=pl.Int32)
        .fill_null(unknown)
        .to_numpy()
        .copy()
    )


def _content_error(content: str) -> str:
    try:
        obj = orjson.loads(content)
    except orjson.JSONDecodeError as exc:
        return f"Content is not valid JSON ({exc})"
    return f"Content is not valid JSON (a JSON {type(obj).__name__} that DuckDB refuses)"


@functools.cache
def _struct_cached(keys: tuple[str, ...], kinds: tuple[bool, ...], as_text: bool) -> str:
    types = ("VARCHAR" if as_text or not numeric else "DOUBLE" for numeric in kinds)
    return orjson.dumps(dict(zip(keys, types, strict=True))).decode()


def _struct(group: _Group, layer: Sequence[int], *, as_text: bool) -> str:
    keys = tuple(group.keys[i] for i in layer)
    kinds = tuple(group.numeric[i] for i in layer)
    return _struct_cached(keys, kinds, as_text)


def _quoted(key: str) -> str:
    return f'"{key}"'


def _sql_text(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


class _registered:
    """An Arrow table visible to DuckDB under `name` for a `with` block, in batches of
    `_SCAN_ROWS` (DuckDB's unit of parallel work)."""

    def __init__(self, con: duckdb.DuckDBPyConnection, name: str, table: pa.Table) -> None:
        self._con = con
        self._name = name
        self._table = pa.Table.from_batches(
            table.to_batches(max_chunksize=_SCAN_ROWS), table.schema
        )

    def __enter__(self) -> None:
        self._con.register(self._name, self._table)

    def __exit__(self, *exc: object) -> None:
        self._con.unregister(self._name)


def _without(batch: pa.Table, rows: Mapping[int, str]) -> pa.Table:
    if not rows:
        return batch
    keep = np.ones(batch.num_rows, dtype=bool)
    keep[list(rows)] = False
    return batch.filter(pa.array(keep))


def _rows_of(batch: pa.Table, rows: pl.Series) -> pa.Table:
    """The `_row, c` of the given batch rows, ascending (`_row` is the batch's row number).

    Taken chunk by chunk: pyarrow's `take` on a chunked column first concatenates every
    chunk, copying the whole batch's text (1.1 s for 50,000 rows of a million, measured)."""
    wanted = np.sort(rows.to_numpy())
    chunks: list[pa.Table] = []
    offset = 0
    for chunk in batch.select(["_row", "c"]).to_batches():
        end = offset + chunk.num_rows
        lo, hi = np.searchsorted(wanted, [offset, end])
        if hi > lo:
            chunks.append(pa.Table.from_batches([chunk.take(pa.array(wanted[lo:hi] - offset))]))
        offset = end
    if not chunks:
        return batch.select(["_row", "c"]).slice(0, 0)
    return pa.concat_tables(chunks)


def row_marks(text: Text) -> pl.DataFrame:
    """Per Content: its colons and `:null`s, and whether it holds what can hide a bad value
    (the certificate of a typed reading, see the module docstring)."""
    contents = pl.Series(as_arrow(text), dtype=pl.String)
    with_null = contents.str.contains(":null", literal=True)
    nulls = pl.Series(np.zeros(len(contents), dtype=np.int64))
    if with_null.any():
        rows = with_null.arg_true()
        counts = contents.gather(rows).str.count_matches(":null")
        nulls = nulls.scatter(rows, counts.cast(pl.Int64))
    return pl.DataFrame(
        {
            # a regex of one literal searches with memchr, the literal search does not
            "colons": contents.str.count_matches(":"),
            "nulls": nulls,
            "odd": contents.str.contains(r"true|false|\\u"),
        }
    )


def _certain(group: _Group, typed: pl.DataFrame, marks: pl.DataFrame) -> pl.Series:
    """Rows whose typed reading is known to be complete (see the module docstring): every
    colon of the row is a declared key that decoded to a value, one inside a text value, or
    the colon of a `:null` (not counting those inside text values). `marks` are the
    `row_marks` of typed's rows, in its order."""
    if typed.height == 0:
        return pl.Series(dtype=pl.Boolean)
    keys = typed.columns[1:]
    numeric = [f"k{i}" for i, is_num in enumerate(group.numeric) if is_num]
    text = [f"k{i}" for i, is_num in enumerate(group.numeric) if not is_num]
    mark = marks.select("colons", "nulls", "odd")

    def count(pattern: str) -> pl.Expr:
        # only in the text columns that hold the pattern at all (Time: ":", rarely others)
        if not text:
            return pl.lit(0)
        holding = typed.select(pl.col(text).str.contains(pattern, literal=True).any())
        found = [c for c in text if holding[c][0]]
        counts = [pl.col(c).str.count_matches(pattern).fill_null(0) for c in found]
        return pl.sum_horizontal(counts) if counts else pl.lit(0)

    anything = pl.any_horizontal([pl.col(c).is_not_null() for c in keys])
    certain = ~pl.col("odd") & anything
    if numeric:
        decoded = pl.sum_horizontal([pl.col(c).is_not_null().cast(pl.Int32) for c in keys])
        all_numbers = pl.all_horizontal([pl.col(c).is_not_null() for c in numeric])
        accounted = pl.col("colons") - pl.col("nulls") + count(":null") == decoded + count(":")
        certain = certain & (all_numbers | accounted)
    return typed.hstack(mark).select(certain).to_series()


def _check_objects(
    group: _Group, texts: pl.DataFrame, batch: pa.Table, bad_rows: dict[int, str]
) -> None:
    """Rows where no key decoded may not be JSON objects at all: ask orjson which."""
    keys = [f"k{i}" for i in range(len(group.keys))]
    empty = texts.filter(pl.all_horizontal([pl.col(k).is_null() for k in keys]))["_row"]
    contents = batch.column("c")
    for row in empty.to_list():
        try:
            obj = orjson.loads(contents[row].as_py())
        except orjson.JSONDecodeError as exc:
            bad_rows.setdefault(row, f"Content is not valid JSON ({exc})")
            continue
        if not isinstance(obj, dict):
            bad_rows.setdefault(row, f"Content is a JSON {type(obj).__name__}, not an object")


def _numbers_of(group: _Group, texts: pl.DataFrame, bad_rows: dict[int, str]) -> pl.DataFrame:
    """The typed frame of rows read as text: numbers cast, bad values named."""
    reasons: list[Reason] = []
    columns: list[pl.Expr] = [pl.col("_row")]
    for i, key in enumerate(group.keys):
        if group.numeric[i]:
            text = pl.col(f"k{i}")
            bad = text.is_not_null() & text.str.strip_chars().ne("") & pl.col(f"n{i}").is_null()
            reasons.append((bad, pl.format(f"{key} is not a number: {{}}", text)))
            columns.append(pl.col(f"n{i}").alias(f"k{i}"))
        else:
            columns.append(pl.col(f"k{i}"))
    _collect(texts, reasons, bad_rows)
    return texts.select(columns)


Reason: TypeAlias = tuple[pl.Expr, pl.Expr]  # (when a row is bad, the message saying why)


def _collect(frame: pl.DataFrame, reasons: Sequence[Reason], bad_rows: dict[int, str]) -> None:
    """Names the bad rows of `frame` in `bad_rows` by their first reason. Messages are
    formatted for the bad rows only (formatting every row's would cost as much as reading)."""
    if not reasons or frame.height == 0:
        return
    bad = frame.filter(pl.any_horizontal(when for when, _ in reasons).fill_null(False))
    if bad.height == 0:
        return
    messages = [pl.when(when).then(message) for when, message in reasons]
    found = bad.select("_row", pl.coalesce(messages).alias("reason")).drop_nulls("reason")
    for row, reason in found.iter_rows():
        bad_rows.setdefault(row, reason)


def _check_whole_numbers(group: _Group, typed: pl.DataFrame, bad_rows: dict[int, str]) -> None:
    """A volume or count must be a whole number an int64 holds: `100.7` or `1e30` names the
    row as bad rather than be rounded or dropped (`"NaN"` is unknown, as SSI sends it)."""
    reasons: list[Reason] = []
    for key in group.whole:
        value = pl.col(group.column(key))
        outside = value.is_not_nan() & (value.abs() >= _INT64_LIMIT)  # infinities included
        fraction = value.is_finite() & (value != value.round(0))
        reasons.append((outside, pl.format(f"{key} is outside int64's range: {{}}", value)))
        reasons.append((fraction, pl.format(f"{key} is not a whole number: {{}}", value)))
    _collect(typed, reasons, bad_rows)


def _with_time(group: _Group, typed: pl.DataFrame, bad_rows: dict[int, str]) -> pl.DataFrame:
    """Adds `_date` and `_time`; a TradingDate or Time that is given but not a date or a
    time names the row as bad (blank or missing is unknown, not bad)."""
    date_text = pl.col(group.column(DATE_KEYS[0]))
    time_keys = [group.column(k) for k in TIME_KEYS if k in group.keys]
    time_text = pl.coalesce(time_keys) if time_keys else pl.lit(None, pl.String)
    parsed = typed.with_columns(
        _parse_date_expr(date_text).alias("_date"), _parse_time_expr(time_text).alias("_time")
    )
    reasons: list[Reason] = [
        (
            _given(date_text) & pl.col("_date").is_null(),
            pl.format("TradingDate is not a dd/MM/yyyy date: {}", date_text),
        )
    ]
    if time_keys:
        reasons.append(
            (
                _given(time_text) & pl.col("_time").is_null(),
                pl.format("Time is not a HH:mm:ss time: {}", time_text),
            )
        )
    _collect(parsed, reasons, bad_rows)
    return parsed


def _given(text: pl.Expr) -> pl.Expr:
    return text.is_not_null() & text.str.strip_chars().ne("")


def _parse_date_expr(text: pl.Expr) -> pl.Expr:
    """`dd/MM/yyyy` as SSI sends it (ISO `yyyy-MM-dd` is accepted too); null otherwise."""
    stripped = text.str.strip_chars()
    date = pl.coalesce(
        stripped.str.strptime(pl.Date, "%d/%m/%Y", strict=False),
        stripped.str.strptime(pl.Date, "%Y-%m-%d", strict=False),
    )
    # %Y reads any year ("-2026", "20260"); a day must be one Python (and a path) can name
    return pl.when(date.dt.year().is_between(1, 9999)).then(date)


def _parse_time_expr(text: pl.Expr) -> pl.Expr:
    return text.str.strip_chars().str.strptime(pl.Time, "%H:%M:%S", strict=False)


def _field_exprs(group: _Group, channel: Channel) -> Iterator[pl.Expr]:
    """Each field of the channel: its spellings coalesced in order, in its column type."""
    for wire_field in channel.fields:
        columns = [pl.col(group.column(k)) for k in wire_field.keys]
        value = pl.coalesce(columns) if len(columns) > 1 else columns[0]
        if wire_field.kind in ("volume", "count"):
            whole = pl.when(value.is_finite() & (value.abs() < _INT64_LIMIT)).then(value.round(0))
            value = whole.cast(pl.Int64)
        yield value.alias(wire_field.column)


def _event_ts_expr() -> pl.Expr:
    """TradingDate (else the row's trading day) + Time read as UTC+7, as UTC microseconds."""
    day = pl.coalesce(pl.col("_date"), pl.col("_day"))
    local = day.dt.combine(pl.col("_time"), time_unit="us")
    offset = pl.duration(seconds=int(HCM_UTC_OFFSET.total_seconds()))
    return (local - offset).dt.replace_time_zone("UTC").alias("event_ts")


@dataclass(frozen=True)
class BatchTables:
    """One day's share of a batch: the Arrow table of each table that has rows."""

    day: dt.date
    first_seq: int
    last_seq: int
    tables: dict[str, pa.Table]


def build_tables(
    decoded: Decoded,
    *,
    seq: pl.Series,
    recv_ns: pl.Series | pa.Array | pa.ChunkedArray,
    day: pl.Series,
    data_types: Text,
    contents: Text,
    keep: pl.Series,
) -> list[BatchTables]:
    """Typed tables per day for the rows where `keep` is true, `seq`/`day` per batch row.

    `raw` gets every kept row; a kept row in `decoded.bad_rows` (possible on the live path,
    where a malformed frame already has its seq) appears in `raw` only. The raw columns
    stay in Arrow: the Content text is never copied here."""
    recv = pl.Series(recv_ns) if not isinstance(recv_ns, pl.Series) else recv_ns
    meta = pl.DataFrame(
        {
            "_row": pl.int_range(decoded.rows, eager=True, dtype=pl.Int64),
            "_keep": keep,
            "_day": day.cast(pl.Date),
            "seq": seq.cast(pl.Int64),
            "recv_ns": recv.cast(pl.Int64),
        }
    )
    raw = pa.table(
        {
            "seq": meta["seq"].to_arrow(),
            "recv_ns": meta["recv_ns"].to_arrow(),
            "data_type": as_arrow(data_types),
            "content": as_arrow(contents),
        }
    )
    kept = keep.to_numpy()
    all_kept = bool(kept.all())
    if not all_kept:
        raw = raw.filter(pa.array(kept))
    row_days = meta["_day"] if all_kept else meta["_day"].filter(keep)
    days = row_days.unique().sort().to_list()
    with_type = meta.with_columns(pl.Series("data_type", as_arrow(data_types), dtype=pl.String))
    channel_tables = {
        channel.table: _channel_table(channel, frame, with_type)
        for channel in CHANNELS
        if (frame := decoded.channel_frames.get(channel.table)) is not None and frame.height
    }
    out: list[BatchTables] = []
    for day_value in days:
        assert isinstance(day_value, dt.date)
        if len(days) == 1:
            tables = {"raw": raw}
        else:
            tables = {"raw": raw.filter((row_days == day_value).to_arrow())}
        for table, frame in channel_tables.items():
            rows = frame if len(days) == 1 else frame.filter(pl.col("_day") == day_value)
            if rows.height:
                tables[table] = rows.drop("_day").to_arrow()
        tables = {name: rows.cast(SCHEMAS[name]) for name, rows in tables.items()}
        seqs = np.asarray(tables["raw"].column("seq").to_numpy())
        out.append(BatchTables(day_value, int(seqs.min()), int(seqs.max()), tables))
    return out


def _channel_table(channel: Channel, frame: pl.DataFrame, meta: pl.DataFrame) -> pl.DataFrame:
    rows = frame["_row"].to_numpy()
    joined = pl.concat([meta[rows], frame.drop("_row")], how="horizontal")
    columns = [pl.col(f.column) for f in channel.fields]
    return joined.filter(pl.col("_keep")).select(
        "_day", "seq", "recv_ns", _event_ts_expr(), "data_type", *columns
    )
