"""Blocks of envelope lines: DuckDB's reading of each line, with the per-line reader for the
lines it does not take, gives exactly what the per-line reader alone gives; blocks are cut
at whole lines with every line counted."""

from __future__ import annotations

import io
import random

import duckdb
import orjson
import pytest

from vnrec.ssi.envelope import EnvelopeError, parse_envelope_line
from vnrec.storage import importer
from vnrec.storage.envelopes import LineBlock
from vnrec.storage.importer import read_envelopes

CONTENT = '{"RType":"X-TRADE","Symbol":"MWG","LastPrice":71500.0}'
ODD_LINES = [
    b'{"datatype":"Quote","Content":"{}"}',
    b'{"DataType":"R","Content":{"a": 1, "b": [1, 2.50]}}',
    b'{"DataType":"R","Content":"{}","recv_ns":17}',
    b'{"DataType":"R","Content":"{}","recv_ns":-5}',
    b'{"DataType":"R","Content":"{}","recv_ns":1.5}',
    b'{"DataType":"R","Content":"{}","recv_ns":"1"}',
    b'{"DataType":"R","Content":"{}","recv_ns":true}',
    b'{"DataType":"R","Content":"{}","recv_ns":null}',
    b'{"DataType":"R","Content":"{}","recv_ns":123456789012345678901234}',
    b'{"DataType":7,"Content":"{}"}',
    b'{"DataType":" ","Content":"{}"}',
    b'{"DataType":"\\u0058","Content":"{}"}',
    b'{"DataType":"X","Content":null}',
    b'{"DataType":"X","Content":12}',
    b'{"DataType":"X","Content":"[1, 2]"}',
    b'{"DataType":"X","Content":" {}"}',
    b'{"DataType":"X"}',
    b'{"Content":"{}"}',
    b'{"DataType":"X","DataType":"Y","Content":"{}"}',
    b'{"DataType":"X","Content":"{}","Extra":[1]}',
    b'{ "DataType" : "X" , "Content" : "{}" }',
    b"[1]",
    b"5",
    b"{oops",
    b'{"DataType":"X","Content":"{}"',
    b"\xff\xfe not utf-8",
    b"   ",
    b"",
]


def _lines(seed: int, count: int) -> list[bytes]:
    rng = random.Random(seed)
    lines = []
    for i in range(count):
        if rng.random() < 0.3:
            lines.append(rng.choice(ODD_LINES))
        else:
            content = CONTENT.replace("71500.0", str(70000 + i))
            lines.append(orjson.dumps({"DataType": "X-TRADE", "Content": content}))
    return lines


def _expected(line: bytes) -> tuple[str, str, int | None] | str | None:
    """What the per-line reader makes of a line: an envelope, a reason, or None (blank)."""
    if not line.strip():
        return None
    try:
        envelope = parse_envelope_line(line)
    except EnvelopeError as exc:
        return str(exc)
    return envelope.data_type, envelope.content, envelope.recv_ns


@pytest.mark.parametrize("seed", [1, 2])
def test_block_reading_equals_the_per_line_reader(seed: int) -> None:
    """Every line: the same envelope (an object Content as equal JSON), the same reason, or
    blank; CRLF line ends read the same."""
    lines = _lines(seed, 600)
    data = b"".join(line + (b"\r\n" if i % 7 == 0 else b"\n") for i, line in enumerate(lines))
    block = LineBlock.of(11, data)
    con = duckdb.connect()
    read = read_envelopes(con, block, "src")
    assert read.counted == sum(1 for line in lines if line.strip())
    got: dict[int, object] = {r.line - 11: r.reason for r in read.rejects}
    assert read.lines is not None
    for position, index in enumerate(read.lines.index.tolist()):
        got[index] = (
            read.lines.data_types[position].as_py(),
            read.lines.contents[position].as_py(),
            read.lines.recv_ns[position].as_py(),
        )
    for index, line in enumerate(lines):
        expected = _expected(line)
        if expected is None:
            assert index not in got
        elif isinstance(expected, str):
            assert got[index] == expected, line
        else:
            data_type, content, recv_ns = got[index]  # type: ignore[misc]
            assert (data_type, recv_ns) == (expected[0], expected[2]), line
            assert orjson.loads(content) == orjson.loads(expected[1]), line
            if b'"Content":"' in line:
                assert content == expected[1]  # a string Content exactly as it came


def _blocks(data: bytes, batch_lines: int) -> list[LineBlock]:
    counted: list[int] = []
    blocks = list(
        importer._read_blocks(io.BytesIO(data), batch_lines, lambda _, n: counted.append(n))
    )
    assert sum(counted) == data.count(b"\n") + (0 if data.endswith(b"\n") or not data else 1)
    return blocks


@pytest.mark.parametrize("batch_lines", [1, 3, 1000])
def test_blocks_are_whole_lines_numbered_from_one(
    batch_lines: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Blocks of at most batch_lines whole lines, whatever the read size; a byte order mark
    is skipped; a last line without a newline gets one."""
    monkeypatch.setattr(importer, "READ_BYTES", 7)
    lines = [b'{"n":%d}' % i for i in range(20)]
    data = importer._BOM + b"\n".join(lines)
    blocks = _blocks(data, batch_lines)
    assert [b.first_line for b in blocks] == list(range(1, 21, batch_lines))
    assert all(b.lines <= batch_lines for b in blocks)
    read = [b.line(i).rstrip(b"\n") for b in blocks for i in range(b.lines)]
    assert read == lines


def test_a_block_is_cut_at_its_byte_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    """Past BLOCK_BYTES a block ends at its last whole line; a line longer than the bound
    is one block of its own."""
    monkeypatch.setattr(importer, "READ_BYTES", 64)
    monkeypatch.setattr(importer, "BLOCK_BYTES", 100)
    lines = [b"x" * 30, b"y" * 30, b"z" * 250, b"w" * 10]
    blocks = _blocks(b"\n".join(lines) + b"\n", 1000)
    assert [[b.line(i).rstrip() for i in range(b.lines)] for b in blocks] == [
        lines[:2],
        lines[2:3],
        lines[3:],
    ]
    assert [b.first_line for b in blocks] == [1, 3, 4]
