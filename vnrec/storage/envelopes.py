"""Blocks of JSON Lines of SSI envelopes, decoded a block at a time.

The native reader (`_scan.c`) reads the lines of the shape nearly every line has:
`{"DataType": "<printable ASCII>", "Content": "<a JSON object's text>", "recv_ns": <int>}`,
Content without `\\u` escapes, recv_ns optional. DuckDB's JSON reader reads the lines it
leaves, with the same result where both can read a line. A line takes the block path when
its envelope has the usual shape: `DataType` a plain JSON string, `Content` a JSON string
(or object) that holds a JSON object, and `recv_ns`, if present, a JSON integer. Any other
line (another key spelling, a value of another type, invalid JSON or UTF-8) is named in
`irregular`, for the exact per-line reader (`vnrec.ssi.envelope.parse_envelope_line`) to
read or reject with its reason. An object Content is kept as DuckDB's compact JSON text.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from vnrec.errors import StorageError
from vnrec.storage import _scan

if TYPE_CHECKING:
    import duckdb

Offsets = npt.NDArray[np.int64]

_ENVELOPE = '{"DataType":"JSON","Content":"VARCHAR","recv_ns":"JSON"}'
_SCAN_ROWS = 16_384  # rows per Arrow batch: DuckDB's unit of parallel work


@dataclass(frozen=True)
class LineBlock:
    """Consecutive lines of one input: line i is `data[starts[i]:starts[i + 1]]`, each
    ending with its newline."""

    first_line: int  # the number of the block's first line in its input, from 1
    data: bytes | memoryview
    starts: Offsets  # len(lines) + 1 offsets into data

    @property
    def lines(self) -> int:
        return len(self.starts) - 1

    def line(self, index: int) -> bytes:
        return bytes(self.data[self.starts[index] : self.starts[index + 1]])

    @staticmethod
    def of(first_line: int, data: bytes) -> LineBlock:
        """A block of `data`, which ends with a newline."""
        ends = newline_ends(data)
        starts = np.zeros(len(ends) + 1, dtype=np.int64)
        starts[1:] = ends
        return LineBlock(first_line, data, starts)


def newline_ends(data: bytes | memoryview) -> Offsets:
    """The offset just past each newline of `data`."""
    ends = np.empty(len(data) // 64 + 16, dtype=np.int64)
    found = _scan.newlines(data, ends)
    if found > len(ends):  # lines shorter than 64 bytes on average: count, then read again
        ends = np.empty(found, dtype=np.int64)
        _scan.newlines(data, ends)
    return ends[:found]


@dataclass(frozen=True)
class EnvelopeBlock:
    """The regular lines of a block as Arrow columns (`index`: their line index in the
    block), the lines for the per-line reader, and the blank lines (which carry nothing)."""

    index: pa.Int64Array
    data_types: pa.StringArray
    contents: pa.ChunkedArray  # of large strings
    recv_ns: pa.Int64Array
    irregular: list[int]
    blank: list[int]


def decode_envelopes(con: duckdb.DuckDBPyConnection, block: LineBlock) -> EnvelopeBlock:
    lengths = np.diff(block.starts)
    blank = [int(i) for i in np.flatnonzero(lengths <= 2) if not block.line(int(i)).strip()]
    irregular = _invalid_utf8(block)
    keep = np.ones(block.lines, dtype=bool)
    keep[blank] = False
    keep[irregular] = False
    native = _read_native(block, np.flatnonzero(keep).astype(np.int64))
    if not len(native.uncertain):
        return EnvelopeBlock(
            native.index, native.data_types, native.contents, native.recv_ns, irregular, blank
        )
    read = _read_by_duckdb(con, block, native.uncertain)
    index = np.concatenate([native.index.to_numpy(), read.index.to_numpy()])
    order = pa.array(np.argsort(index, kind="stable"))
    contents = pa.chunked_array(
        [*native.contents.chunks, *(c.cast(pa.large_string()) for c in read.contents.chunks)],
        pa.large_string(),
    )
    return EnvelopeBlock(
        pa.array(index).take(order),
        pa.concat_arrays([native.data_types, read.data_types]).take(order),
        contents.take(order),
        pa.concat_arrays([native.recv_ns, read.recv_ns]).take(order),
        sorted(irregular + read.irregular),
        blank,
    )


@dataclass(frozen=True)
class _Native:
    index: pa.Int64Array
    data_types: pa.StringArray
    contents: pa.ChunkedArray
    recv_ns: pa.Int64Array
    uncertain: Offsets  # lines for DuckDB to read


def _read_native(block: LineBlock, rows: Offsets) -> _Native:
    """The lines of the usual shape, read by the native reader (`_scan.c`); the others are
    named in `uncertain`."""
    n = len(rows)
    certain = np.zeros(n, dtype=np.uint8)
    types = np.zeros(n * 16, dtype=np.uint8)
    contents = np.empty(int(np.sum(block.starts[rows + 1] - block.starts[rows])), dtype=np.uint8)
    offsets = np.empty(n + 1, dtype=np.int64)
    recv_ns = np.empty(n, dtype=np.int64)
    recv_valid = np.zeros(n, dtype=np.uint8)
    data = block.data
    _scan.envelopes(
        data, block.starts, rows, certain, types, contents, offsets, recv_ns, recv_valid
    )
    is_certain = certain.view(np.bool_)
    kept = np.flatnonzero(is_certain)
    data_types = pa.Array.from_buffers(
        pa.string_view(), n, [None, pa.py_buffer(types), pa.py_buffer(data)]
    ).cast(pa.string())
    text = pa.LargeStringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(contents))
    recv = pa.array(recv_ns, mask=~recv_valid.view(np.bool_))
    if len(kept) < n:
        take = pa.array(kept)
        data_types, text, recv = data_types.take(take), text.take(take), recv.take(take)
    return _Native(
        pa.array(rows[kept]),
        data_types,
        pa.chunked_array([text]),
        recv,
        rows[~is_certain],
    )


def _read_by_duckdb(
    con: duckdb.DuckDBPyConnection, block: LineBlock, rows: Offsets
) -> EnvelopeBlock:
    """The given lines read by DuckDB's JSON reader; those not of the usual shape are named
    in `irregular` (`blank` is empty)."""
    import duckdb

    irregular: list[int] = []
    lines = _lines_table(block, rows)
    decoded: pa.Table | None = None
    while decoded is None:
        con.register("lines", lines)
        try:
            decoded = con.sql(
                f"SELECT _row, UNNEST(json_transform(line, '{_ENVELOPE}')) FROM lines"
            ).to_arrow_table()
        except duckdb.InvalidInputException as exc:
            # Some line is not JSON: looked for only when DuckDB says so (rare by nature).
            bad = con.sql("SELECT _row FROM lines WHERE NOT json_valid(line)").to_arrow_table()
            found = [int(row) for row in bad.column(0).to_pylist()]
            if not found:
                raise StorageError(f"DuckDB cannot decode a block of envelopes: {exc}") from exc
            irregular += found
            lines = _lines_table(block, np.setdiff1d(rows, irregular))
        finally:
            con.unregister("lines")
    contents = decoded.column("Content")
    checks = pl.from_arrow(decoded.select(["_row", "DataType", "recv_ns"]))
    assert isinstance(checks, pl.DataFrame)
    checked = checks.with_columns(
        pl.Series(
            "content_is_object",
            pc.fill_null(pc.starts_with(contents, "{"), False).to_numpy(zero_copy_only=False),
        )
    ).select(
        "_row",
        pl.col("DataType").str.slice(1, pl.col("DataType").str.len_bytes() - 2).alias("dt"),
        pl.col("recv_ns").cast(pl.Int64, strict=False).alias("ns"),
        _is_regular(),
    )
    regular = checked["regular"].to_numpy()
    if not regular.all():
        irregular += checked["_row"].filter(~checked["regular"]).to_list()
        checked = checked.filter(pl.col("regular"))
        contents = contents.filter(pa.array(regular))
    return EnvelopeBlock(
        checked["_row"].to_arrow(),
        checked["dt"].to_arrow().cast(pa.string()),
        contents,
        checked["ns"].to_arrow(),
        sorted(irregular),
        [],
    )


def _is_regular() -> pl.Expr:
    data_type = pl.col("DataType")
    inner = data_type.str.slice(1, data_type.str.len_bytes() - 2)
    recv = pl.col("recv_ns")
    return (
        (
            data_type.str.starts_with('"')
            & data_type.str.ends_with('"')
            & (data_type.str.len_bytes() >= 2)
            & ~data_type.str.contains("\\", literal=True)
            & inner.str.strip_chars().ne("")
            & pl.col("content_is_object")
            & (recv.is_null() | recv.cast(pl.Int64, strict=False).is_not_null())
        )
        .fill_null(False)
        .alias("regular")
    )


def _lines_table(block: LineBlock, rows: Offsets) -> pa.Table:
    lines = pa.LargeStringArray.from_buffers(
        block.lines, pa.py_buffer(block.starts), pa.py_buffer(block.data)
    )
    table = pa.table({"_row": pa.array(np.arange(block.lines, dtype=np.int64)), "line": lines})
    if len(rows) < block.lines:
        table = table.take(pa.array(rows))
    return pa.Table.from_batches(table.to_batches(max_chunksize=_SCAN_ROWS), table.schema)


def _invalid_utf8(block: LineBlock) -> list[int]:
    """Lines that are not UTF-8 (DuckDB must never see them), found only when the block
    as a whole is not."""
    lines = pa.LargeStringArray.from_buffers(
        block.lines, pa.py_buffer(block.starts), pa.py_buffer(block.data)
    )
    try:
        lines.validate(full=True)
        return []
    except pa.ArrowInvalid:
        pass
    bad = []
    for index in range(block.lines):
        try:
            block.line(index).decode("utf-8")
        except UnicodeDecodeError:
            bad.append(index)
    return bad
