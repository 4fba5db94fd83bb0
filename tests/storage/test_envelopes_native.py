"""The native envelope reader against DuckDB's: every line it reads decodes as DuckDB
decodes it, and every other line is left to DuckDB (and then to the per-line reader)."""

from __future__ import annotations

import json
import random

import duckdb
import numpy as np
import pytest

from vnrec.storage.envelopes import (
    EnvelopeBlock,
    LineBlock,
    _read_by_duckdb,
    _read_native,
    decode_envelopes,
)

CONTENTS = [
    {"RType": "X-TRADE", "Symbol": "AAA", "LastPrice": 22950.0, "Side": None},
    {"Symbol": 'q"uote', "Note": "back\\slash/slash\ttab\nline"},
    {"Symbol": "Chỉ số", "LastVol": "NaN"},
    {},
]


def _content(rng: random.Random) -> str:
    text = json.dumps(rng.choice(CONTENTS), ensure_ascii=rng.random() < 0.3)
    roll = rng.random()
    if roll < 0.05:
        return "[1, 2]"  # not an object
    if roll < 0.08:
        return " " + text  # an object after a blank
    if roll < 0.3:
        # blanks an envelope escapes: \t, \n, \r, and \b \f inside a text value
        return text.replace(", ", rng.choice([",\t", ",\n", ",\r\n"])).replace("AAA", "A\bA\f")
    return text


def _line(rng: random.Random) -> bytes:
    roll = rng.random()
    if roll < 0.03:
        return rng.choice([b"", b"  ", b"{oops", b"\xff\xfe", b"[]", b"null"])
    data_type = rng.choice(["X-QUOTE"] * 8 + ["X", " X", "", "Chỉ", "A\\u0042", "a b"])
    pairs: list[tuple[str, str]] = []
    key = rng.choice(["DataType"] * 10 + ["datatype"])
    value = json.dumps(data_type) if "\\" not in data_type else f'"{data_type}"'
    pairs.append((key, value if rng.random() < 0.95 else "7"))
    content = _content(rng)
    if rng.random() < 0.1:
        pairs.append(("Content", content))  # an object Content
    else:
        pairs.append(("Content", json.dumps(content, ensure_ascii=rng.random() < 0.5)))
    if rng.random() < 0.7:
        recv = rng.choice(
            ["1730790000123456789"] * 6
            + ["0", "9223372036854775807", "9223372036854775808", "-5", "1.5", '"12"', "null"]
            + ["0123", "1e9", "99999999999999999999"]
        )
        pairs.append(("recv_ns", recv))
    if rng.random() < 0.05:
        pairs.append(("Extra", "1"))
    if rng.random() < 0.03:
        pairs.append(pairs[0])  # a key twice
    rng.shuffle(pairs)
    colon = rng.choice([":"] * 6 + [" : "])
    body = "{" + ", ".join(f'"{k}"{colon}{v}' for k, v in pairs) + "}"
    if rng.random() < 0.03:
        body = body.replace("Symbol", "Sym\x01bol")  # a raw control character: not JSON
    return (body + rng.choice(["", "", " ", "\r"])).encode()


def _block(lines: list[bytes]) -> LineBlock:
    return LineBlock.of(1, b"".join(line + b"\n" for line in lines))


def _rows(block: EnvelopeBlock) -> list[tuple[object, ...]]:
    return list(
        zip(
            block.index.to_pylist(),
            block.data_types.to_pylist(),
            block.contents.to_pylist(),
            block.recv_ns.to_pylist(),
            strict=True,
        )
    )


def _both_readers(block: LineBlock) -> tuple[EnvelopeBlock, EnvelopeBlock, list[int]]:
    """The block as `decode_envelopes` reads it, as DuckDB alone reads the same lines (all
    but the blank ones and those that are not UTF-8), and the lines that are not UTF-8."""
    not_utf8 = [i for i in range(block.lines) if not _is_utf8(block.line(i))]
    with duckdb.connect() as con:
        got = decode_envelopes(con, block)
        text = np.setdiff1d(np.arange(block.lines), got.blank + not_utf8)
        return got, _read_by_duckdb(con, block, text), not_utf8


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_every_envelope_shape_decodes_as_duckdb_decodes_it(seed: int) -> None:
    rng = random.Random(seed)
    block = _block([_line(rng) for _ in range(3000)])
    got, reference, not_utf8 = _both_readers(block)
    assert _rows(got) == _rows(reference)
    assert all(not block.line(i).strip() for i in got.blank)
    assert got.irregular == sorted(reference.irregular + not_utf8)
    text = np.setdiff1d(np.arange(block.lines), got.blank + not_utf8)
    native = _read_native(block, text.astype(np.int64))
    assert len(native.index) > 700 and len(native.uncertain) > 700  # both readers had work
    assert len(got.irregular) > 300


def _is_utf8(line: bytes) -> bool:
    try:
        line.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def test_the_usual_line_is_read_without_duckdb() -> None:
    """Escapes of every kind but \\u, a missing recv_ns and a CRLF ending read natively."""
    content = json.dumps({"Symbol": 'a"b\\c/d\te\nf', "LastPrice": 1.5})
    lines = [
        json.dumps({"DataType": "X-TRADE", "Content": content, "recv_ns": 12}).encode(),
        json.dumps({"Content": content, "DataType": "R"}).encode() + b"\r",
    ]
    block = _block(lines)
    with duckdb.connect() as con:
        con.close()  # a closed connection: any use of DuckDB would fail
        got = decode_envelopes(con, block)
    assert _rows(got) == [(0, "X-TRADE", content, 12), (1, "R", content, None)]


def test_newlines_of_short_and_long_lines() -> None:
    """Line starts are found whatever the average line length (the first guess of their
    count is then too small)."""
    data = b"\n" * 1000 + b"x" * 5000 + b"\n"
    block = LineBlock.of(1, data)
    assert block.lines == 1001
    assert block.starts[-1] == len(data) and block.starts[-2] == 1000


@pytest.mark.parametrize("seed", [1, 2])
def test_mutated_envelopes_decode_as_duckdb_decodes_them(seed: int) -> None:
    """Envelopes broken at random places (ASCII only: UTF-8 is checked before either
    reader sees a line) read the same by both readers, or are left to the per-line one."""
    rng = random.Random(seed)
    lines = []
    for _ in range(3000):
        line = bytearray(_line(rng))
        for _ in range(rng.randint(1, 3)):
            at = rng.randrange(len(line) + 1)
            piece = rng.choice(b'{}[]":,.-0123456789 \t\\nulbfrt/')
            if rng.random() < 0.5 and at < len(line):
                line[at] = piece
            else:
                line.insert(at, piece)
        lines.append(bytes(line).replace(b"\n", b" "))
    got, reference, not_utf8 = _both_readers(_block(lines))
    assert _rows(got) == _rows(reference)
    assert got.irregular == sorted(reference.irregular + not_utf8)
