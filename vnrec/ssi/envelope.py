"""The SSI envelope `{"DataType": ..., "Content": ...}` and its quirks: key spellings,
Content as a JSON string or an object, an optional integer `recv_ns` in JSON Lines files."""

from __future__ import annotations

import datetime as dt
import io
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson
import polars as pl

from vnrec.ssi.channels import ENVELOPE_CONTENT_KEYS, ENVELOPE_TYPE_KEYS


@dataclass(frozen=True, slots=True)
class Envelope:
    data_type: str
    content: str  # the Content JSON text (an object form is serialized compactly)
    recv_ns: int | None = None


class EnvelopeError(ValueError):
    """An envelope that cannot be used; the message is the reason, for the rejects file."""


def _first(obj: Mapping[str, Any], keys: tuple[str, ...]) -> tuple[bool, Any]:
    for key in keys:
        if key in obj:
            return True, obj[key]
    return False, None


def envelope_from_mapping(obj: Any) -> Envelope:
    """Validate a decoded envelope; raises EnvelopeError naming what is wrong."""
    if type(obj) is dict:
        # The shape of nearly every message, checked without the spelling search below.
        data_type = obj.get("DataType")
        content = obj.get("Content")
        if type(data_type) is str and type(content) is str and len(obj) == 2 and data_type.strip():
            return Envelope(data_type, content)
    if not isinstance(obj, dict):
        raise EnvelopeError(f"not a JSON object but a JSON {type(obj).__name__}")
    found, data_type = _first(obj, ENVELOPE_TYPE_KEYS)
    if not found:
        raise EnvelopeError("missing DataType")
    if not isinstance(data_type, str) or not data_type.strip():
        raise EnvelopeError(f"DataType is not a non-empty string: {data_type!r}")
    found, content = _first(obj, ENVELOPE_CONTENT_KEYS)
    if not found:
        raise EnvelopeError("missing Content")
    if isinstance(content, dict):
        content = orjson.dumps(content).decode()
    elif not isinstance(content, str):
        raise EnvelopeError(
            f"Content is neither a JSON string nor an object (a JSON {type(content).__name__})"
        )
    recv_ns = obj.get("recv_ns")
    if recv_ns is not None and (not isinstance(recv_ns, int) or isinstance(recv_ns, bool)):
        raise EnvelopeError(f"recv_ns is not an integer: {recv_ns!r}")
    return Envelope(data_type, content, recv_ns)


def parse_envelope_line(line: bytes) -> Envelope:
    """One JSON Lines line to an Envelope; raises EnvelopeError with the reason."""
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise EnvelopeError(f"not valid JSON ({exc})") from None
    return envelope_from_mapping(obj)


_TRADING_DATE = re.compile(r'"TradingDate"\s*:\s*"(\d{2})/(\d{2})/(\d{4})"')


def trading_date_of(content: str) -> dt.date | None:
    """The `TradingDate` (dd/MM/yyyy) of a Content text without decoding it, for the
    recorder's per-message day; None when absent or not a real date."""
    match = _TRADING_DATE.search(content)
    if match is None:
        return None
    day, month, year = match.groups()
    try:
        return dt.date(int(year), int(month), int(day))
    except ValueError:
        return None


# A DataType or Content that is not a JSON string (an object Content, a number, null): such
# lines take the per-line path, which keeps object text exact and names what is wrong.
_NOT_A_STRING = re.compile(rb'"(?:[Dd]ata[Tt]ype|[Cc]ontent)"\s*:\s*[^"\s]')
_BATCH_SCHEMA = {
    **{key: pl.String for key in (*ENVELOPE_TYPE_KEYS, *ENVELOPE_CONTENT_KEYS)},
    "recv_ns": pl.Int64,
}


@dataclass(frozen=True)
class EnvelopeColumns:
    data_types: pl.Series
    contents: pl.Series
    recv_ns: pl.Series


def parse_envelope_batch(text: bytes, lines: int) -> EnvelopeColumns | None:
    """`lines` JSON Lines of envelopes as columns, decoded in one polars call; None when any
    line needs `parse_envelope_line` (invalid JSON, a missing or non-string DataType or
    Content, a non-integer recv_ns, a blank line) so that it can be named and rejected."""
    if _NOT_A_STRING.search(text):
        return None
    try:
        frame = pl.read_ndjson(io.BytesIO(text), schema=_BATCH_SCHEMA)
    except pl.exceptions.PolarsError:
        return None
    if frame.height != lines:
        return None
    columns = frame.select(
        pl.coalesce(ENVELOPE_TYPE_KEYS).alias("data_type"),
        pl.coalesce(ENVELOPE_CONTENT_KEYS).alias("content"),
        "recv_ns",
    )
    data_types = columns["data_type"]
    if data_types.null_count() or columns["content"].null_count():
        return None
    if data_types.str.strip_chars().eq("").any():
        return None
    return EnvelopeColumns(data_types, columns["content"], columns["recv_ns"])
