"""The one rendering path: rows (dicts with the same keys) or a JSON document, to stdout or
a file, as a table, JSON, CSV or Parquet. Logs never go through here."""

from __future__ import annotations

import csv
import datetime as dt
import enum
import io
import math
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import orjson

from vnrec.calendar import HCM_TZ
from vnrec.errors import BadInputError, VnrecError

if TYPE_CHECKING:  # the renderers load no data library until asked to write Parquet
    import pyarrow as pa


class OutputFormat(enum.StrEnum):
    table = "table"
    json = "json"
    csv = "csv"
    parquet = "parquet"


def default_format(stream: TextIO | None = None) -> OutputFormat:
    """`table` on a terminal, JSON when piped, as SPEC.md section 5 asks."""
    target = sys.stdout if stream is None else stream
    return OutputFormat.table if target.isatty() else OutputFormat.json


def _json_default(value: Any) -> Any:
    if isinstance(value, float):  # a subclass (numpy's float64), which orjson leaves to us
        return None if math.isnan(value) else float(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


def _clean(value: Any) -> Any:
    # A NaN that reaches output means "unknown": null in JSON (orjson writes NaN as null by
    # itself), an empty cell in CSV.
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def to_json(document: Any, *, indent: bool = True) -> bytes:
    """JSON of `document` (indented, or on one line for JSON Lines); NaN and infinities
    are null."""
    option = orjson.OPT_INDENT_2 if indent else 0
    try:
        return orjson.dumps(document, default=_json_default, option=option)
    except TypeError as exc:  # a tracker's result() holding a set, a function, ...
        raise BadInputError(f"a result JSON cannot hold: {exc}") from None


def json_items(rows: list[dict[str, Any]]) -> str:
    """Rows as the items of an indented JSON array without its brackets: what `to_json`
    of the rows holds between `[\n` and `\n]`, so that arrays can be written in parts."""
    return to_json(rows).decode()[2:-2]


def format_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        if value.is_integer() and abs(value) < 1e15:
            return f"{int(value):,}"
        return f"{value:,.4f}".rstrip("0").rstrip(".")
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        # Terminal tables are read by people trading in Ho Chi Minh City: local time.
        return value.astimezone(HCM_TZ).strftime("%Y-%m-%d %H:%M:%S")
    if hasattr(value, "isoformat"):
        return str(value.isoformat())
    return str(value)


def render_table(rows: Sequence[Mapping[str, Any]], title: str | None = None) -> str:
    """A plain aligned text table (numbers right-aligned), stable for tests and pipes."""
    out = io.StringIO()
    if title:
        out.write(f"{title}\n")
    if not rows:
        out.write("(no rows)\n")
        return out.getvalue()
    headers = list(rows[0].keys())
    cells = [[format_cell(row.get(h)) for h in headers] for row in rows]
    numeric = [
        all(isinstance(row.get(h), int | float) or row.get(h) is None for row in rows)
        for h in headers
    ]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]

    def line(values: Sequence[str]) -> str:
        parts = [
            v.rjust(widths[i]) if numeric[i] else v.ljust(widths[i]) for i, v in enumerate(values)
        ]
        return "  ".join(parts).rstrip()

    out.write(line(headers) + "\n")
    out.write("  ".join("-" * w for w in widths) + "\n")
    for row_cells in cells:
        out.write(line(row_cells) + "\n")
    return out.getvalue()


def render_csv(rows: Sequence[Mapping[str, Any]]) -> str:
    if not rows:
        return ""
    names = list(rows[0].keys())
    return csv_lines(names, [[row.get(name) for row in rows] for name in names], header=True)


def csv_lines(names: Sequence[str], columns: Sequence[Sequence[Any]], *, header: bool) -> str:
    """CSV of columns of equal length, with a header line of `names` if asked."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    if header:
        writer.writerow(names)
    writer.writerows(zip(*map(_csv_cells, columns), strict=True))
    return out.getvalue()


def _csv_cells(values: Sequence[Any]) -> list[Any]:
    # CSV has neither null nor NaN: both are an empty cell (inside a list, a NaN is None).
    return [
        ""
        if value is None or (isinstance(value, float) and math.isnan(value))
        else _clean(value)
        if isinstance(value, list | dict)
        else value
        for value in values
    ]


def emit(
    rows: Sequence[Mapping[str, Any]],
    fmt: OutputFormat,
    *,
    output: Path | None = None,
    title: str | None = None,
    stdout: TextIO | None = None,
) -> None:
    """Write rows in the chosen format to `output` or stdout."""
    stream = sys.stdout if stdout is None else stdout
    if fmt is OutputFormat.parquet:
        if output is None:
            raise ValueError("--format parquet needs --output FILE")
        import pyarrow as pa
        import pyarrow.parquet as pq

        from vnrec.storage.files import atomic_file

        table = pa.Table.from_pylist([dict(r) for r in rows])
        with atomic_file(output) as sink:
            pq.write_table(table, sink)
        return
    if fmt is OutputFormat.json:
        text = to_json([dict(r) for r in rows]).decode() + "\n"
    elif fmt is OutputFormat.csv:
        text = render_csv(rows)
    else:
        text = render_table(rows, title)
    if output is not None:
        from vnrec.storage.files import atomic_file

        # The old file stays whole until the new one is: a full disk leaves it as it was.
        with atomic_file(output) as sink:
            sink.write(text.encode())
    else:
        write_stdout(text, stream)


MAX_TABLE_ROWS = 100_000  # a terminal table of more is read by no one


def emit_batches(
    batches: Iterable[pa.RecordBatch],
    fmt: OutputFormat,
    *,
    columns_of: Callable[[pa.RecordBatch], list[list[Any]]],
    parquet_of: Callable[[pa.RecordBatch], pa.RecordBatch],
    output: Path | None = None,
) -> None:
    """`emit` for a result of any size: JSON, CSV and Parquet are written batch by batch
    (the same bytes as `emit` gives for the rows); a table needs every row for its widths
    and is refused beyond MAX_TABLE_ROWS. `columns_of` gives a batch's columns as plain
    Python values."""
    if fmt is OutputFormat.parquet or output is not None:
        from vnrec.storage.files import atomic_file

        if output is None:
            raise ValueError("--format parquet needs --output FILE")
        with atomic_file(output) as sink:
            _write_batches(batches, fmt, columns_of, parquet_of, sink)
        return
    _write_batches(batches, fmt, columns_of, parquet_of, None)


def _write_batches(
    batches: Iterable[pa.RecordBatch],
    fmt: OutputFormat,
    columns_of: Callable[[pa.RecordBatch], list[list[Any]]],
    parquet_of: Callable[[pa.RecordBatch], pa.RecordBatch],
    sink: Any,
) -> None:
    def out(text: str) -> None:
        if sink is None:
            write_stdout(text)
        else:
            sink.write(text.encode())

    if fmt is OutputFormat.parquet:
        import pyarrow as pa
        import pyarrow.parquet as pq

        writer = None
        try:
            for batch in batches:
                ready = parquet_of(batch)
                if writer is None:
                    writer = pq.ParquetWriter(sink, ready.schema)
                writer.write_batch(ready.cast(writer.schema))
            if writer is None:
                writer = pq.ParquetWriter(sink, pa.schema([]))
        finally:
            if writer is not None:
                writer.close()
        return
    rows: list[dict[str, Any]] = []
    written = 0
    for batch in batches:
        if not batch.num_rows:
            continue
        names, columns = batch.schema.names, columns_of(batch)
        if fmt is OutputFormat.csv:
            out(csv_lines(names, columns, header=not written))
            written += batch.num_rows
            continue
        batch_rows = [
            dict(zip(names, values, strict=True)) for values in zip(*columns, strict=True)
        ]
        if fmt is OutputFormat.json:
            out(("[\n" if not written else ",\n") + json_items(batch_rows))
            written += batch.num_rows
            continue
        rows += batch_rows
        if len(rows) > MAX_TABLE_ROWS:
            raise BadInputError(
                f"the result has more than {MAX_TABLE_ROWS:,} rows, too many for a table:"
                " use -f csv or json, or -f parquet -o FILE"
            )
    if fmt is OutputFormat.json:
        out("\n]\n" if written else "[]\n")
    elif fmt is OutputFormat.table:
        out(render_table(rows))


def write_stdout(text: str, stream: TextIO | None = None) -> None:
    """`text` on standard output, flushed; a failing write (a full disk) says where it
    failed. A closed pipe (`| head`) is left to the caller of the command."""
    target = sys.stdout if stream is None else stream
    try:
        target.write(text)
        target.flush()
    except BrokenPipeError:
        raise
    except OSError as exc:
        raise VnrecError(f"cannot write to standard output: {exc.strerror or exc}") from exc
