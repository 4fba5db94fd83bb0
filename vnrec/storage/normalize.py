"""The one columnar normalizer: a batch of SSI envelopes (data type + Content JSON text)
becomes typed Arrow tables, one per channel, without a Python object per field.

Every Content of a channel is decoded in one polars `json_decode` call into a struct of
strings (numbers, numeric strings and "NaN" all arrive as text), then cast column by column.
Rows polars cannot decode as a whole batch (invalid JSON, a non-object, a nested value where
a scalar is expected) are found and handled one by one: invalid ones are reported, nested
values are flattened to their JSON text. Nothing else in vnrec parses Content into columns.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Sequence
from dataclasses import dataclass, field

import orjson
import polars as pl
import pyarrow as pa

from vnrec.calendar import HCM_UTC_OFFSET
from vnrec.ssi.channels import CHANNELS, DATE_KEYS, TIME_KEYS, Channel, FieldKind, WireField
from vnrec.storage.schema import SCHEMAS

_POLARS_TYPE: dict[FieldKind, type[pl.DataType]] = {
    "text": pl.String,
    "price": pl.Float64,
    "value": pl.Float64,
    "volume": pl.Int64,
    "count": pl.Int64,
}
_TIME_FIELDS = (
    WireField("trading_date", DATE_KEYS, "text"),
    WireField("time", TIME_KEYS, "text"),
)


@dataclass
class Decoded:
    """Content decoded for a batch: per channel, the batch row numbers and their fields."""

    rows: int
    channel_frames: dict[str, pl.DataFrame]  # table -> frame with "_row" + wire columns
    trading_dates: pl.Series  # per batch row: the Content's TradingDate, or null
    bad_rows: dict[int, str] = field(default_factory=dict)  # row -> reason


def _wire_keys(fields: Sequence[WireField]) -> list[str]:
    keys: list[str] = []
    for wire_field in fields:
        for key in wire_field.keys:
            if key not in keys:
                keys.append(key)
    return keys


def _flatten(content: str) -> str | None:
    """Content as a flat JSON object of scalars, or None when it is not a JSON object."""
    try:
        obj = orjson.loads(content)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(obj, dict):
        return None
    flat = {
        k: v if v is None or isinstance(v, str | int | float) else orjson.dumps(v).decode()
        for k, v in obj.items()
    }
    return orjson.dumps(flat).decode()


def _content_error(content: str) -> str | None:
    try:
        obj = orjson.loads(content)
    except orjson.JSONDecodeError as exc:
        return f"Content is not valid JSON ({exc})"
    if not isinstance(obj, dict):
        return f"Content is a JSON {type(obj).__name__}, not an object"
    return None


def _decode_strings(contents: pl.Series, keys: list[str]) -> pl.DataFrame:
    """Each Content as a row of strings, one column per key (null when absent).

    polars' NDJSON reader is the fastest decoder here; it is line-based, so line breaks
    (legal in JSON only as whitespace) become spaces, and a blank Content, which the
    reader would skip, is left to `json_decode` so that rows stay aligned."""
    schema = {key: pl.String for key in keys}
    if len(contents) and not contents.str.strip_chars().eq("").any():
        if contents.str.contains("[\r\n]").any():
            contents = contents.str.replace_all("[\r\n]", " ")
        text = contents.str.join("\n").item().encode()
        frame = pl.read_ndjson(io.BytesIO(text), schema=schema)
        if frame.height == len(contents):
            return frame
    return contents.str.json_decode(dtype=pl.Struct(schema)).struct.unnest()


def _decode_channel(
    contents: pl.Series, keys: list[str], bad_rows: dict[int, str], row_numbers: list[int]
) -> pl.DataFrame:
    try:
        return _decode_strings(contents, keys)
    except pl.exceptions.PolarsError:
        pass  # a bad or unusual row somewhere in the batch: handle rows one by one below
    cleaned: list[str | None] = []
    for row, content in zip(row_numbers, contents.to_list(), strict=True):
        error = _content_error(content)
        if error is not None:
            bad_rows[row] = error
            cleaned.append(None)
        else:
            cleaned.append(_flatten(content))
    return _decode_strings(pl.Series(cleaned, dtype=pl.String), keys)


def decode(data_types: pl.Series, contents: pl.Series) -> Decoded:
    """Decode the Content of each row by the channel of its DataType.

    Rows of unknown DataTypes are decoded only for their TradingDate (they are kept in
    `raw`). Rows whose Content is not a JSON object, or holds a value that is not what its
    field is (see `_invalid_reason`), are listed in `bad_rows` with the reason."""
    rows = len(contents)
    frame = pl.DataFrame(
        {"_row": pl.int_range(rows, eager=True, dtype=pl.Int64), "dt": data_types, "c": contents}
    )
    bad_rows: dict[int, str] = {}
    channel_frames: dict[str, pl.DataFrame] = {}
    date_parts: list[pl.DataFrame] = []
    routed = pl.Series(values=[False] * rows, dtype=pl.Boolean)
    for channel in CHANNELS:
        mask = frame["dt"].is_in(list(channel.data_types))
        selected = frame.filter(mask)
        routed = routed | mask
        if selected.height == 0:
            continue
        keys = _wire_keys(channel.fields + _TIME_FIELDS)
        decoded = _decode_channel(selected["c"], keys, bad_rows, selected["_row"].to_list())
        decoded = decoded.with_columns(selected["_row"])
        channel_frames[channel.table] = decoded
        _collect_invalid(decoded, channel.fields + _TIME_FIELDS, bad_rows)
        date_parts.append(decoded.select("_row", pl.col("TradingDate").alias("d")))
    unknown = frame.filter(~routed)
    if unknown.height:
        decoded = _decode_channel(
            unknown["c"], list(DATE_KEYS), bad_rows, unknown["_row"].to_list()
        )
        decoded = decoded.with_columns(unknown["_row"])
        _collect_invalid(decoded, _TIME_FIELDS[:1], bad_rows)
        date_parts.append(decoded.select("_row", pl.col("TradingDate").alias("d")))
    dates = (
        pl.concat(date_parts).unique("_row", keep="first")
        if date_parts
        else pl.DataFrame(schema={"_row": pl.Int64, "d": pl.String})
    )
    per_row = frame.select("_row").join(dates, on="_row", how="left", maintain_order="left")
    trading_dates = _parse_trading_date(per_row["d"])
    if bad_rows:
        bad = pl.Series(sorted(bad_rows), dtype=pl.Int64)
        channel_frames = {
            table: f.filter(~pl.col("_row").is_in(bad)) for table, f in channel_frames.items()
        }
    return Decoded(rows, channel_frames, trading_dates, bad_rows)


def _invalid_reason(wire_field: WireField) -> pl.Expr | None:
    """Why a row's value of this field is unusable, or null: a number that is neither a JSON
    number, a numeric string nor "NaN"; a TradingDate that is not dd/MM/yyyy; a Time that is
    not HH:mm:ss. A missing, null or blank value is not invalid (it is unknown)."""
    keys = wire_field.keys
    text = pl.coalesce([pl.col(k) for k in keys]) if len(keys) > 1 else pl.col(keys[0])
    stripped = text.str.strip_chars()
    given = stripped.ne("")
    if wire_field.kind != "text":
        bad = given & stripped.cast(pl.Float64, strict=False).is_null()
        what = "a number"
    elif wire_field.column == "trading_date":
        bad = given & _parse_date_expr(text).is_null()
        what = "a dd/MM/yyyy date"
    elif wire_field.column == "time":
        bad = given & stripped.str.strptime(pl.Time, "%H:%M:%S", strict=False).is_null()
        what = "a HH:mm:ss time"
    else:
        return None
    return pl.when(bad).then(pl.format(f"{keys[0]} is not {what}: {{}}", text))


def _collect_invalid(
    frame: pl.DataFrame, fields: Sequence[WireField], bad_rows: dict[int, str]
) -> None:
    reasons = [r for r in (_invalid_reason(f) for f in fields) if r is not None]
    found = frame.select("_row", pl.coalesce(reasons).alias("reason")).drop_nulls("reason")
    for row, reason in found.iter_rows():
        bad_rows.setdefault(row, reason)


def _parse_date_expr(text: pl.Expr) -> pl.Expr:
    """`dd/MM/yyyy` as SSI sends it (ISO `yyyy-MM-dd` is accepted too); null otherwise."""
    stripped = text.str.strip_chars()
    return pl.coalesce(
        stripped.str.strptime(pl.Date, "%d/%m/%Y", strict=False),
        stripped.str.strptime(pl.Date, "%Y-%m-%d", strict=False),
    )


def _parse_trading_date(text: pl.Series) -> pl.Series:
    return pl.DataFrame({"t": text}).select(_parse_date_expr(pl.col("t"))).to_series()


def _field_expr(wire_field: WireField) -> pl.Expr:
    text = (
        pl.coalesce([pl.col(k) for k in wire_field.keys])
        if len(wire_field.keys) > 1
        else (pl.col(wire_field.keys[0]))
    )
    kind = wire_field.kind
    if kind == "text":
        return text.alias(wire_field.column)
    as_float = text.str.strip_chars().cast(pl.Float64, strict=False)
    if kind in ("price", "value"):
        return as_float.alias(wire_field.column)
    return (
        (pl.when(as_float.is_finite()).then(as_float.round(0)).otherwise(None))
        .cast(pl.Int64)
        .alias(wire_field.column)
    )


def _event_ts_expr() -> pl.Expr:
    """TradingDate (else the row's trading day) + Time read as UTC+7, as UTC microseconds."""
    day = pl.coalesce(_parse_date_expr(pl.col("TradingDate")), pl.col("_day"))
    time_of_day = (
        pl.coalesce([pl.col(k) for k in TIME_KEYS])
        .str.strip_chars()
        .str.strptime(pl.Time, "%H:%M:%S", strict=False)
    )
    local = day.dt.combine(time_of_day, time_unit="us")
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
    recv_ns: pl.Series,
    day: pl.Series,
    data_types: pl.Series,
    contents: pl.Series,
    keep: pl.Series,
) -> list[BatchTables]:
    """Typed tables per day for the rows where `keep` is true, `seq`/`day` per batch row.

    `raw` gets every kept row; a kept row in `decoded.bad_rows` (possible on the live path,
    where a malformed frame already has its seq) appears in `raw` only."""
    base = pl.DataFrame(
        {
            "_row": pl.int_range(decoded.rows, eager=True, dtype=pl.Int64),
            "seq": seq.cast(pl.Int64),
            "recv_ns": recv_ns.cast(pl.Int64),
            "_day": day.cast(pl.Date),
            "data_type": data_types,
            "content": contents,
            "_keep": keep,
        }
    ).filter(pl.col("_keep"))
    per_table: dict[str, pl.DataFrame] = {
        "raw": base.select("_day", "seq", "recv_ns", "data_type", "content")
    }
    for channel in CHANNELS:
        frame = decoded.channel_frames.get(channel.table)
        if frame is None or frame.height == 0:
            continue
        per_table[channel.table] = _channel_table(channel, frame, base)
    out: list[BatchTables] = []
    for (day_value,), raw in per_table["raw"].partition_by("_day", as_dict=True).items():
        assert isinstance(day_value, dt.date)
        tables: dict[str, pa.Table] = {}
        for table, frame in per_table.items():
            rows = frame.filter(pl.col("_day") == day_value).drop("_day")
            if rows.height:
                tables[table] = rows.to_arrow().cast(SCHEMAS[table])
        out.append(
            BatchTables(day_value, int(raw["seq"].min()), int(raw["seq"].max()), tables)  # type: ignore[arg-type]
        )
    return sorted(out, key=lambda b: b.day)


def _channel_table(channel: Channel, frame: pl.DataFrame, base: pl.DataFrame) -> pl.DataFrame:
    joined = base.select("_row", "_day", "seq", "recv_ns", "data_type").join(
        frame, on="_row", how="inner", maintain_order="left"
    )
    columns = [_field_expr(f) for f in channel.fields]
    return joined.select("_day", "seq", "recv_ns", _event_ts_expr(), "data_type", *columns).sort(
        "seq"
    )
