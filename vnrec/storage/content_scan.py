"""Content objects of the usual shape read by the native reader (`_scan.c`) into typed
columns; the rows it is not certain of are handed back for DuckDB to read.

The native reader accepts only what it reads exactly as DuckDB's `json_transform` does
(see `_scan.c` for the rules), so a row reads the same whichever of the two reads it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import numpy.typing as npt
import polars as pl
import pyarrow as pa

from vnrec.storage import _scan

Rows = npt.NDArray[np.int64]

# Rows read per native call: bounds the per-key output arrays (~0.5 KB a row at most).
_CHUNK_ROWS = 65_536
_VIEW_LIMIT = 2**31 - 1  # bytes a string view's int32 offset reaches


def scan_contents(
    contents: pa.Array | pa.ChunkedArray,
    rows: Rows,
    keys: Sequence[str],
    kinds: Sequence[int],
) -> tuple[pl.DataFrame, Rows]:
    """Reads the Content of the given rows (ascending row numbers of `contents`). A key's
    kind is 0 for text, 1 for a number, 2 for a whole number an int64 holds (a row holding
    any other number there is left for DuckDB).

    Returns the frame `_row, k0..kN` (key i as `k{i}`: Float64 when numeric, else String) of
    the rows read with certainty, and the rows left for DuckDB, both ascending."""
    names = tuple(key.encode() for key in keys)
    numeric = [kind != 0 for kind in kinds]
    kind_bytes = np.array(kinds, dtype=np.uint8).tobytes()
    frames: list[pl.DataFrame] = []
    uncertain: list[Rows] = []
    for first, chunk in _chunks(contents):
        lo, hi = np.searchsorted(rows, [first, first + len(chunk)])
        for at in range(int(lo), int(hi), _CHUNK_ROWS):
            wanted = rows[at : min(at + _CHUNK_ROWS, int(hi))]
            frame, left = _scan_chunk(chunk, wanted - first, names, kind_bytes, numeric)
            frames.append(frame.with_columns(pl.col("_row") + first))
            uncertain.append(left + first)
    frame = pl.concat(frames) if frames else _empty(numeric)
    left = np.concatenate(uncertain) if uncertain else np.zeros(0, dtype=np.int64)
    return frame, left


def _chunks(contents: pa.Array | pa.ChunkedArray) -> Iterator[tuple[int, pa.Array]]:
    """Each chunk as string or large string, with the row number of its first row."""
    chunks = contents.chunks if isinstance(contents, pa.ChunkedArray) else [contents]
    first = 0
    for chunk in chunks:
        plain = pa.types.is_string(chunk.type) or pa.types.is_large_string(chunk.type)
        yield first, chunk if plain else chunk.cast(pa.large_string())
        first += len(chunk)


def _scan_chunk(
    chunk: pa.Array, rows: Rows, names: tuple[bytes, ...], kinds: bytes, numeric: Sequence[bool]
) -> tuple[pl.DataFrame, Rows]:
    if chunk.null_count:
        present = chunk.is_valid().to_numpy(zero_copy_only=False)[rows]
        nulls = rows[~present]
        rows = rows[present]
    else:
        nulls = np.zeros(0, dtype=np.int64)
    _, offset_buffer, data_buffer = chunk.buffers()
    if data_buffer is None or data_buffer.size > _VIEW_LIMIT:
        # no text at all, or more than string views can point into: DuckDB's to read
        return _empty(numeric), np.sort(np.concatenate([rows, nulls]))
    width = 4 if pa.types.is_string(chunk.type) else 8
    offsets = np.frombuffer(offset_buffer, dtype=np.int32 if width == 4 else np.int64)
    offsets = offsets[chunk.offset : chunk.offset + len(chunk) + 1]
    rows = np.ascontiguousarray(rows, dtype=np.int64)
    n, keys = len(rows), len(names)
    numeric_keys = int(sum(numeric))
    certain = np.zeros(n, dtype=np.uint8)
    numbers = np.empty(n * numeric_keys, dtype=np.float64)
    valid = np.zeros(n * keys, dtype=np.uint8)
    views = np.zeros((keys - numeric_keys) * n * 16, dtype=np.uint8)
    _scan.scan(data_buffer, offsets, width, rows, names, kinds, certain, numbers, valid, views)
    is_certain = certain.view(np.bool_)
    columns: dict[str, pa.Array] = {"_row": pa.array(rows)}
    number_slot = text_slot = 0
    for key in range(keys):
        # the validity of uncertain rows does not matter: they are filtered out below
        validity = pa.py_buffer(np.packbits(valid[key * n : (key + 1) * n], bitorder="little"))
        if numeric[key]:
            values = numbers[number_slot * n : (number_slot + 1) * n]
            buffers = [validity, pa.py_buffer(values)]
            columns[f"k{key}"] = pa.Array.from_buffers(pa.float64(), n, buffers)
            number_slot += 1
        else:
            text_views = views[text_slot * n * 16 : (text_slot + 1) * n * 16]
            buffers = [validity, pa.py_buffer(text_views), data_buffer]
            columns[f"k{key}"] = pa.Array.from_buffers(pa.string_view(), n, buffers)
            text_slot += 1
    frame = pl.from_arrow(pa.table(columns))
    assert isinstance(frame, pl.DataFrame)
    left = np.sort(np.concatenate([rows[~is_certain], nulls]))
    return frame.filter(pl.Series(is_certain)), left


def _empty(numeric: Sequence[bool]) -> pl.DataFrame:
    return pl.DataFrame(
        schema={"_row": pl.Int64}
        | {f"k{i}": pl.Float64 if n else pl.String for i, n in enumerate(numeric)}
    )
