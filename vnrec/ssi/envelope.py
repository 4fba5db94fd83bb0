"""The SSI envelope `{"DataType": ..., "Content": ...}` and its quirks: key spellings,
Content as a JSON string or an object, an optional integer `recv_ns` in JSON Lines files."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

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
    if recv_ns is not None and not -(2**63) <= recv_ns < 2**63:
        raise EnvelopeError(f"recv_ns is out of range: {recv_ns}")
    return Envelope(data_type, content, recv_ns)


def parse_envelope_line(line: bytes) -> Envelope:
    """One JSON Lines line to an Envelope; raises EnvelopeError with the reason.

    A key given twice in one object keeps its first value, as DuckDB's reader (which reads
    nearly every line of an import) does; orjson, which keeps the last, only validates."""
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        try:
            line.decode()
        except UnicodeDecodeError as bad:
            raise EnvelopeError(
                f"not UTF-8 (byte 0x{line[bad.start]:02X} at offset {bad.start})"
            ) from None
        raise EnvelopeError(f"not valid JSON ({exc})") from None
    if isinstance(obj, dict):
        obj = json.loads(line, object_pairs_hook=_first_value_wins)
    return envelope_from_mapping(obj)


def _first_value_wins(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    for key, value in pairs:
        obj.setdefault(key, value)
    return obj


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
