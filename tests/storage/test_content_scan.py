"""The native Content reader against DuckDB's: the same values, bit for bit, for every row
it reads, and every row it cannot read exactly left for DuckDB."""

from __future__ import annotations

import json
import random
from decimal import Decimal

import numpy as np
import polars as pl
import pyarrow as pa
import pytest

from tests.storage.test_normalize import _content
from vnrec.storage import _scan as native
from vnrec.storage.content_scan import scan_contents
from vnrec.storage.normalize import Decoded, Normalizer

DATA_TYPES = ["X-TRADE", "X-QUOTE", "X", "R", "MI", "B", "F", "OL", "Trade", "ZZ"]


def _bits(frame: pl.DataFrame) -> dict[str, list[object]]:
    """Each column's values, floats as their IEEE bits (NaN payloads and -0.0 included)."""
    columns: dict[str, list[object]] = {}
    for name in frame.columns:
        column = frame[name]
        if column.dtype == pl.Float64:
            bits = column.to_numpy().view(np.uint64)
            nulls = column.is_null()
            columns[name] = [None if n else int(b) for b, n in zip(bits, nulls, strict=True)]
        else:
            columns[name] = column.to_list()
    return columns


def _assert_same(native: Decoded, reference: Decoded) -> None:
    assert native.bad_rows == reference.bad_rows
    assert native.trading_dates.to_list() == reference.trading_dates.to_list()
    assert sorted(native.channel_frames) == sorted(reference.channel_frames)
    for table, frame in reference.channel_frames.items():
        assert native.channel_frames[table].schema == frame.schema, table
        assert _bits(native.channel_frames[table]) == _bits(frame), table


def _decode_both(data_types: list[str], contents: list[str]) -> tuple[Decoded, Decoded]:
    with Normalizer(native=True) as native, Normalizer(native=False) as reference:
        return (
            native.decode(pl.Series(data_types), pl.Series(contents)),
            reference.decode(pl.Series(data_types), pl.Series(contents)),
        )


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_every_quirk_decodes_as_duckdb_decodes_it(seed: int) -> None:
    """The generated envelopes of every channel and quirk (escapes, blanks, duplicate and
    case-variant keys, numeric strings, bad values, invalid JSON) decode identically."""
    rng = random.Random(seed)
    data_types = [rng.choice(DATA_TYPES) for _ in range(3000)]
    contents = [_content(d, rng) for d in data_types]
    native, reference = _decode_both(data_types, contents)
    _assert_same(native, reference)
    assert len(reference.bad_rows) > 100


def _decimal_text(rng: random.Random) -> str:
    digits = rng.randint(1, 20)
    mantissa = "".join(rng.choice("0123456789") for _ in range(digits)).lstrip("0") or "0"
    point = rng.randint(0, len(mantissa))
    text = mantissa if point == 0 else f"{mantissa[:-point] or '0'}.{mantissa[-point:]}"
    if rng.random() < 0.2:
        # halfway between two doubles: where a reader that does not round correctly slips
        value = rng.uniform(1, 1e6)
        halfway = (Decimal(value) + Decimal(np.nextafter(value, 2e6))) / 2
        text = format(halfway, "f")
    return ("-" if rng.random() < 0.3 else "") + text


def _number(rng: random.Random) -> str:
    text = _decimal_text(rng)
    roll = rng.random()
    if roll < 0.6:
        return text
    if roll < 0.85:
        return json.dumps(text)  # a numeric string
    return rng.choice(['"NaN"', "-0", '"-0"', "0.0", "-0.0", "1e5", '"1e5"', "00", '" 5"'])


@pytest.mark.parametrize("seed", [1, 2])
def test_numbers_read_to_the_same_double(seed: int) -> None:
    """Decimals of 1 to 20 digits, halfway cases, numeric strings, NaN and signed zeros read
    to the very bits DuckDB reads."""
    rng = random.Random(seed)
    keys = ["LastPrice", "LastVol", "TotalVal", "Ceiling", "AvgPrice"]
    contents = [
        "{"
        + ",".join(
            ['"Symbol":"AAA"', '"TradingDate":"05/11/2026"', '"Time":"09:15:00"']
            + [f'"{key}":{_number(rng)}' for key in keys]
        )
        + "}"
        for _ in range(4000)
    ]
    native, reference = _decode_both(["X-TRADE"] * len(contents), contents)
    _assert_same(native, reference)


def _scan(
    contents: list[str], keys: list[str], numeric: list[int]
) -> tuple[pl.DataFrame, list[int]]:
    frame, left = scan_contents(
        pa.array(contents), np.arange(len(contents), dtype=np.int64), keys, numeric
    )
    return frame, left.tolist()


def test_the_usual_shape_is_read_natively() -> None:
    """What SSI sends every day is read without DuckDB: numbers, numeric strings, NaN,
    nulls, blanks between tokens, unknown keys of any simple value."""
    contents = [
        '{"Symbol":"AAA","LastPrice":22950.0,"LastVol":"100","Side":null}',
        ' { "Symbol" : "BBB" , "LastPrice" : "NaN", "Note": "x", "Count": 3, "N": null }\n',
        '{"Symbol":"Chỉ số","LastPrice":31458.000000000004,"LastVol":5}',
    ]
    frame, left = _scan(
        contents, ["Symbol", "LastPrice", "LastVol", "Side"], [False, True, True, False]
    )
    assert left == []
    assert frame["_row"].to_list() == [0, 1, 2]
    assert frame["k0"].to_list() == ["AAA", "BBB", "Chỉ số"]
    assert frame["k1"].to_numpy().view(np.uint64).tolist() == [
        np.float64(22950.0).view(np.uint64),
        np.float64("nan").view(np.uint64),
        np.float64(31458.000000000004).view(np.uint64),
    ]
    assert frame["k2"].to_list() == [100.0, None, 5.0]
    assert frame["k3"].to_list() == [None, None, None]


@pytest.mark.parametrize(
    "content",
    [
        '{"Symbol":"A\\"B","LastPrice":1}',  # an escape in a value
        '{"Sym\\u0062ol":"A","LastPrice":1}',  # an escape in a key
        '{"Symbol":"A","LastPrice":1,"LastPrice":2}',  # a known key twice
        '{"Symbol":"A","LastPrice":1e3}',  # an exponent
        '{"Symbol":"A","LastPrice":-0}',  # DuckDB reads -0 as 0, "-0" as -0.0
        '{"Symbol":"A","LastPrice":" 12 "}',  # a numeric string DuckDB trims
        '{"Symbol":"A","LastPrice":true}',
        '{"Symbol":7,"LastPrice":1}',  # a number for a text key
        '{"Symbol":"A","Extra":{"x":1}}',  # a nested value
        '{"Symbol":"A","LastPrice":1} x',  # text after the object
        '{"Symbol":"A","LastPrice":1',  # no end
        '{"Symbol":"A\x01","LastPrice":1}',  # a control character
        '{"Other":1}',  # no known key with a value
        "[1, 2]",
        '{"Symbol":"A","LastPrice":01}',  # a leading zero
        '{"Symbol":"A","LastPrice":1.}',
    ],
)
def test_what_is_not_read_exactly_is_left_for_duckdb(content: str) -> None:
    frame, left = _scan([content], ["Symbol", "LastPrice"], [False, True])
    assert (frame.height, left) == (0, [0])


def test_chunks_offsets_nulls_and_row_subsets() -> None:
    """Rows are numbered across the chunks of a chunked column, sliced arrays read from
    their offset, and null Contents are left for DuckDB to reject."""
    first = pa.array(['{"Symbol":"A"}', '{"Symbol":"B"}', None])
    second = pa.array(['{"Symbol":"X"}', '{"Symbol":"C"}', '{"Symbol":"D"}'])
    contents = pa.chunked_array([first, second.slice(1)])
    frame, left = scan_contents(contents, np.array([0, 2, 3, 4]), ["Symbol"], [False])
    assert frame["_row"].to_list() == [0, 3, 4]
    assert frame["k0"].to_list() == ["A", "C", "D"]
    assert left.tolist() == [2]
    large = pa.array(['{"Symbol":"X"}', '{"Symbol":"Y"}'], pa.large_string()).slice(1)
    frame, left = scan_contents(large, np.array([0]), ["Symbol"], [False])
    assert (frame["k0"].to_list(), left.tolist()) == (["Y"], [])
    view = pa.array(['{"Symbol":"a string longer than twelve bytes"}'], pa.string_view())
    frame, left = scan_contents(view, np.array([0]), ["Symbol"], [False])
    assert frame["k0"].to_list() == ["a string longer than twelve bytes"]


def _mutated(text: str, rng: random.Random) -> str:
    """`text` with a few JSON-significant characters replaced, inserted or deleted."""
    chars = list(text)
    for _ in range(rng.randint(1, 3)):
        at = rng.randrange(len(chars) + 1)
        piece = rng.choice(list('{}[]":,.-+0123456789eE \t\\nul/'))
        roll = rng.random()
        if roll < 0.4 and at < len(chars):
            chars[at] = piece
        elif roll < 0.8:
            chars.insert(at, piece)
        elif at < len(chars):
            del chars[at]
    return "".join(chars)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_mutated_contents_decode_as_duckdb_decodes_them(seed: int) -> None:
    """Contents broken at random places: whatever the native reader accepts, it reads as
    DuckDB reads it; the rest is DuckDB's to read or reject."""
    rng = random.Random(seed)
    data_types = [rng.choice(DATA_TYPES) for _ in range(3000)]
    contents = [_mutated(_content(d, rng), rng) for d in data_types]
    native, reference = _decode_both(data_types, contents)
    _assert_same(native, reference)


def test_row_numbers_past_the_offsets_are_refused_whatever_their_size() -> None:
    """The largest int64 row number once overflowed the bounds check and read the bytes
    before the offsets."""
    offsets = np.array([0, 7], dtype=np.int64)[1:]  # one offset: no row at all
    rows = np.array([2**63 - 1], dtype=np.int64)
    with pytest.raises(IndexError, match="outside the 1 offsets"):
        native.scan(
            b'{"a":1}{"a":2}', offsets, 8, rows, (b"a",), b"\x01", np.zeros(1, np.uint8),
            np.zeros(1), np.zeros(1, np.uint8), np.zeros(0, np.uint8),
        )  # fmt: skip
    line = b'{"DataType":"X","Content":"{}"}\n'
    starts = np.array([0, len(line)], dtype=np.int64)[1:]
    with pytest.raises(IndexError, match="outside the 1 starts"):
        native.envelopes(
            line, starts, rows, np.zeros(1, np.uint8), np.zeros(16, np.uint8),
            np.zeros(64, np.uint8), np.zeros(2, np.int64), np.zeros(1, np.int64),
            np.zeros(1, np.uint8),
        )  # fmt: skip


def test_volumes_that_are_no_whole_int64_are_left_for_duckdb() -> None:
    """A whole-number key reads whole numbers and NaN; 100.7 or 2**64 is DuckDB's to read
    (and vnrec's to reject)."""
    contents = [
        '{"LastVol":100.7}',
        '{"LastVol":100.0}',
        '{"LastVol":"NaN"}',
        '{"LastVol":"18446744073709551616"}',
        '{"LastVol":9223372036854774784}',
    ]
    frame, left = _scan(contents, ["LastVol"], [2])
    assert left == [0, 3]
    assert frame["_row"].to_list() == [1, 2, 4]
    assert frame["k0"].to_list()[0] == 100.0 and frame["k0"].to_list()[2] == 2.0**63 - 1024
