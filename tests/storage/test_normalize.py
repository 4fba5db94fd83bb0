"""The columnar normalizer against a per-row oracle: every field of every channel, every
number form, bad values hidden every way the typed reading could miss them (escaped keys,
booleans, keys it does not know, colons and `:null` inside text, blanks around colons),
duplicate keys and Content that is no object. DuckDB decodes; Python's json decides."""

from __future__ import annotations

import datetime as dt
import json
import math
import random
from typing import Any

import orjson
import polars as pl
import pytest

from vnrec.ssi.channels import CHANNELS, DATE_KEYS, IGNORED_KEYS, TIME_KEYS, WireField
from vnrec.storage.normalize import Normalizer

NUMERIC = frozenset({"price", "value", "volume", "count"})
INVALID = object()  # an oracle value: the row must be rejected
DAY = dt.date(2026, 11, 5)

# Numeric strings both Python's float() and DuckDB's cast read alike, and strings neither reads.
NUMBER_TEXTS = ["100", "71400", "-3.5", " 12 ", "NaN", "nan", "inf", "1e3", "+5", ".5", "1_000"]
BAD_NUMBER_TEXTS = ["abc", "1,000", "12abc", "0x10", "1__0"]
TEXTS = ["MWG", "HOSE", "a:b", "x:null", 'q"uote', "Chỉ số", "", "  "]


def _first_wins(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    for key, value in pairs:
        obj.setdefault(key, value)
    return obj


def _number_value(rng: random.Random) -> Any:
    roll = rng.random()
    if roll < 0.55:
        return rng.choice([71400.0, 1.25, -3.5, 0.0, 100000.0, 1e5, 42])
    if roll < 0.75:
        return rng.choice(NUMBER_TEXTS)
    if roll < 0.85:
        return None
    if roll < 0.9:
        return ""
    return rng.choice([*BAD_NUMBER_TEXTS, True, False, {"a": 1}, [1]])


def _text_value(rng: random.Random) -> Any:
    roll = rng.random()
    if roll < 0.8:
        return rng.choice(TEXTS)
    if roll < 0.9:
        return None
    return rng.choice([7, True, {"odd": True}])


def _time_value(rng: random.Random, key: str) -> Any:
    if key in DATE_KEYS:
        return rng.choice(["05/11/2026"] * 6 + ["2026-11-05", "", None, "32/13/2026", "abc"])
    return rng.choice(["09:15:00"] * 6 + ["13:00:01", "", None, "25:99:00", "noon"])


def _encode(pairs: list[tuple[str, Any]], rng: random.Random) -> str:
    """A JSON object written by hand: blanks around colons, escaped keys, any key order."""
    parts = []
    for key, value in pairs:
        name = json.dumps(key)
        if rng.random() < 0.03:
            name = (
                '"'
                + "".join(f"\\u{ord(ch):04x}" if i == 0 else ch for i, ch in enumerate(key))
                + '"'
            )
        colon = rng.choice([":"] * 12 + [" :", ": ", " : "])
        parts.append(f"{name}{colon}{json.dumps(value, ensure_ascii=rng.random() < 0.5)}")
    return "{" + ",".join(parts) + "}"


def _content(data_type: str, rng: random.Random) -> str:
    if rng.random() < 0.04:
        return rng.choice(["[1, 2]", "12", '"text"', "null", "{oops", '{"Symbol": broken'])
    channels = [c for c in CHANNELS if data_type in c.data_types]
    wire_fields: list[WireField] = [f for c in channels for f in c.fields]
    pairs: list[tuple[str, Any]] = [(IGNORED_KEYS[rng.random() < 0.2], data_type)]
    for key in (*DATE_KEYS, rng.choice(TIME_KEYS)):
        if rng.random() < 0.95:
            pairs.append((key, _time_value(rng, key)))
    for wire_field in wire_fields:
        if rng.random() < 0.35:
            continue  # an absent key
        key = rng.choice(wire_field.keys) if rng.random() < 0.3 else wire_field.keys[0]
        numeric = wire_field.kind in NUMERIC
        pairs.append((key, _number_value(rng) if numeric else _text_value(rng)))
    if rng.random() < 0.1:
        pairs.append(("Undocumented", rng.choice(["x", 1.5, None, "a:null"])))
    if rng.random() < 0.05 and len(pairs) > 2:
        pairs.append(rng.choice(pairs[1:]))  # a key given twice: the first wins
    rng.shuffle(pairs)
    return _encode(pairs, rng)


def _as_number(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, bool | dict | list):
        return INVALID
    if isinstance(value, int | float):
        return float(value)
    if not value.strip():
        return None
    try:
        return float(value)
    except ValueError:
        return INVALID


def _as_text(value: Any) -> Any:
    if value is None or isinstance(value, str):
        return value
    return orjson.dumps(value).decode()


def _parse(text: Any, fmt: str) -> Any:
    if text is None or not isinstance(text, str) or not text.strip():
        return None
    for pattern in fmt.split("|"):
        try:
            return dt.datetime.strptime(text.strip(), pattern)
        except ValueError:
            continue
    return INVALID


def _oracle(data_type: str, content: str) -> tuple[str | None, dict[str, dict[str, Any]]]:
    """(reason the row is bad, or None; per table the expected field values)."""
    try:
        orjson.loads(content)
        obj = json.loads(content, object_pairs_hook=_first_wins)
    except (orjson.JSONDecodeError, ValueError):
        return "Content is not valid JSON", {}
    if not isinstance(obj, dict):
        return f"Content is a JSON {type(obj).__name__}, not an object", {}
    channels = [c for c in CHANNELS if data_type in c.data_types]
    for channel in channels:
        for wire_field in channel.fields:
            if wire_field.kind in NUMERIC:
                for key in wire_field.keys:
                    if _as_number(obj.get(key)) is INVALID:
                        return f"{key} is not a number", {}
    for key in dict.fromkeys(
        key
        for channel in channels
        for wire_field in channel.fields
        if wire_field.kind in ("volume", "count")
        for key in wire_field.keys
    ):
        number = _as_number(obj.get(key))
        if number is None or math.isnan(number):
            continue
        if abs(number) >= 2**63:
            return f"{key} is outside int64's range", {}
        if number != round(number):
            return f"{key} is not a whole number", {}
    if _parse(obj.get(DATE_KEYS[0]), "%d/%m/%Y|%Y-%m-%d") is INVALID:
        return "TradingDate is not a dd/MM/yyyy date", {}
    time_text = next((obj[k] for k in TIME_KEYS if obj.get(k) is not None), None)
    if channels and _parse(time_text, "%H:%M:%S") is INVALID:
        return "Time is not a HH:mm:ss time", {}
    tables: dict[str, dict[str, Any]] = {}
    for channel in channels:
        row: dict[str, Any] = {}
        for wire_field in channel.fields:
            convert = _as_number if wire_field.kind in NUMERIC else _as_text
            values = [convert(obj.get(key)) for key in wire_field.keys]
            value = next((v for v in values if v is not None), None)
            if wire_field.kind in ("volume", "count") and value is not None:
                value = None if math.isnan(value) else int(value)
            row[wire_field.column] = value
        tables[channel.table] = row
    return None, tables


def _same(expected: Any, got: Any) -> bool:
    if isinstance(expected, float) and isinstance(got, float) and math.isnan(expected):
        return math.isnan(got)
    return bool(expected == got)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_every_field_and_quirk_matches_the_per_row_oracle(seed: int) -> None:
    """3,000 generated envelopes of every channel decode to exactly the oracle's values and
    rejects: the typed reading, its certificate and the text reading agree with Python."""
    rng = random.Random(seed)
    data_types = [
        rng.choice(["X-TRADE", "X-QUOTE", "X", "R", "MI", "B", "F", "OL", "Trade", "ZZ"])
        for _ in range(3000)
    ]
    contents = [_content(d, rng) for d in data_types]
    with Normalizer() as normalizer:
        decoded = normalizer.decode(pl.Series(data_types), pl.Series(contents))
    rows = {
        table: {r["_row"]: r for r in frame.to_dicts()}
        for table, frame in decoded.channel_frames.items()
    }
    mismatches = []
    for index, (data_type, content) in enumerate(zip(data_types, contents, strict=True)):
        reason, tables = _oracle(data_type, content)
        got_reason = decoded.bad_rows.get(index)
        if reason is not None or got_reason is not None:
            if reason is None or got_reason is None or not got_reason.startswith(reason):
                mismatches.append((index, content, reason, got_reason))
            continue
        for table, expected in tables.items():
            got = rows[table][index]
            for column, value in expected.items():
                if not _same(value, got[column]):
                    mismatches.append((index, content, column, value, got[column]))
    assert mismatches == []
    assert len(decoded.bad_rows) > 100  # the generator does produce bad rows


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ('{"Symbol":"A","Last\\u0056ol":"abc"}', "LastVol is not a number: abc"),
        ('{"Symbol":"A","LastVol":true}', "LastVol is not a number: true"),
        ('{"Symbol":"A","Unknown":1,"LastVol":"abc"}', "LastVol is not a number: abc"),
        ('{"Symbol":"a:null","LastVol":"abc"}', "LastVol is not a number: abc"),
        ('{"Symbol" :"A","LastVol" : "abc"}', "LastVol is not a number: abc"),
        ('{"Symbol":"A","LastVol":{"x":1}}', 'LastVol is not a number: {"x":1}'),
        ('{"Symbol":"A","ISIN":"B","LastVol":"1,000"}', "LastVol is not a number: 1,000"),
        ('{"Symbol":"A","LastVol":5,"LastVol":"abc"}', None),  # the first value wins
        ('{"Symbol":"A","LastVol":"abc","LastVol":5}', "LastVol is not a number: abc"),
        # volumes a share count cannot be: once rounded (101) or dropped (null) in silence
        ('{"Symbol":"A","LastVol":100.7}', "LastVol is not a whole number: 100.7"),
        ('{"Symbol":"A","TotalVol":"1e30"}', "TotalVol is outside int64's range: 1e+30"),
        ('{"Symbol":"A","LastVol":"-inf"}', "LastVol is outside int64's range: -inf"),
        ('{"Symbol":"A","LastVol":"NaN","TotalVol":100.0}', None),
        # years Python cannot name: once an "internal error" at import
        (
            '{"Symbol":"A","TradingDate":"05/11/-2026"}',
            "TradingDate is not a dd/MM/yyyy date: 05/11/-2026",
        ),
        (
            '{"Symbol":"A","TradingDate":"05/11/20260"}',
            "TradingDate is not a dd/MM/yyyy date: 05/11/20260",
        ),
    ],
)
def test_a_bad_value_is_found_however_it_hides(content: str, reason: str | None) -> None:
    """Each way a bad value could slip past the typed reading is caught and named."""
    with Normalizer() as normalizer:
        decoded = normalizer.decode(pl.Series(["X-TRADE"]), pl.Series([content]))
    assert decoded.bad_rows.get(0) == reason


def test_second_spellings_are_read_where_the_first_is_missing() -> None:
    """Spellings that differ only by case (Isin/ISIN, IndexId/IndexID) are both read; the
    first one wins where both are given."""
    contents = [
        '{"Symbol":"A","ISIN":"VN1","MarketID":"HNX"}',
        '{"Symbol":"B","Isin":"VN2","ISIN":"other"}',
        '{"Symbol":"C"}',
    ]
    with Normalizer() as normalizer:
        decoded = normalizer.decode(pl.Series(["X-TRADE"] * 3), pl.Series(contents))
        index = normalizer.decode(
            pl.Series(["MI"]), pl.Series(['{"IndexID":"VN30","Nochanges":3,"IndexValue":1}'])
        )
    trades = decoded.channel_frames["trades"]
    assert trades["isin"].to_list() == ["VN1", "VN2", None]
    assert trades["market_id"].to_list() == ["HNX", None, None]
    row = index.channel_frames["index"].row(0, named=True)
    assert (row["index_id"], row["no_changes"], row["index_value"]) == ("VN30", 3, 1.0)


def test_the_day_comes_from_trading_date_and_unknown_types_keep_it() -> None:
    """TradingDate (dd/MM/yyyy or ISO) is each row's day; unknown types are read for it."""
    contents = [
        '{"TradingDate":"05/11/2026","Symbol":"A"}',
        '{"TradingDate":"2026-11-06"}',
        '{"Note":"no date"}',
    ]
    with Normalizer() as normalizer:
        decoded = normalizer.decode(pl.Series(["F", "ZZ", "ZZ"]), pl.Series(contents))
    assert decoded.trading_dates.to_list() == [DAY, dt.date(2026, 11, 6), None]
    assert decoded.bad_rows == {}
