"""`vnrec query`: any read-only SQL over the views, with DuckDB's errors turned into
`QueryError`.

Read-only by two locks: the connection may open files under the data root only (see
vnrec.analytics.connection), and only one SELECT (or EXPLAIN of one) is run, so `COPY`,
`ATTACH`, `EXPORT`, `CREATE`, `SET` and the rest are refused before DuckDB sees them. A
result is exported with `--format parquet --output FILE`, written by vnrec itself."""

from __future__ import annotations

import decimal
import re
from collections.abc import Iterator
from typing import Any

import duckdb
import pyarrow as pa

from vnrec.analytics.connection import VIEW_NAMES
from vnrec.errors import QueryError, StorageError, VnrecError, first_line
from vnrec.words import first_repeated

QUERY_BATCH_ROWS = 10_000  # rows rendered at a time: bounds memory whatever the result


def _interval_text(value: pa.MonthDayNano) -> str:
    """An interval as DuckDB prints it: `1 month 2 days 00:01:30`."""
    parts = [
        f"{count} {unit}{'' if abs(count) == 1 else 's'}"
        for count, unit in ((value.months, "month"), (value.days, "day"))
        if count
    ]
    micros = value.nanoseconds // 1000
    if micros or not parts:
        sign = "-" if micros < 0 else ""
        seconds, fraction = divmod(abs(micros), 1_000_000)
        clock = f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
        parts.append(sign + clock + (f".{fraction:06d}" if fraction else ""))
    return " ".join(parts)


def _plain(value: Any) -> Any:
    """A value the renderer can print and serialize (JSON has no decimals or durations)."""
    if isinstance(value, pa.MonthDayNano):
        return _interval_text(value)
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _query_error(exc: duckdb.Error) -> VnrecError:
    """DuckDB's message in one line; for a mistake in the SQL (a name, the syntax), with
    the views that can be queried. A file DuckDB cannot read is a StorageError."""
    line = first_line(exc) or type(exc).__name__
    if isinstance(exc, duckdb.IOException | duckdb.InvalidInputException):
        return StorageError(line)
    return QueryError(f"{line} (views: {', '.join(VIEW_NAMES)})")


_EXPLAIN_RE = re.compile(r"^\s*EXPLAIN\s+(?:ANALYZE\s+)?", re.IGNORECASE)


def check_read_only(con: duckdb.DuckDBPyConnection, sql: str) -> None:
    """Refuse anything but one SELECT (DESCRIBE, SUMMARIZE and SHOW are SELECTs), or an
    EXPLAIN of one: `EXPLAIN ANALYZE` runs its statement, so what it explains is checked."""
    try:
        statements = con.extract_statements(sql)
        if len(statements) == 1 and statements[0].type == duckdb.StatementType.EXPLAIN:
            statements = con.extract_statements(_EXPLAIN_RE.sub("", sql, count=1))
    except duckdb.Error as exc:
        raise _query_error(exc) from exc
    if len(statements) != 1:
        raise QueryError(f"vnrec query runs one statement, not {len(statements)}")
    kind = statements[0].type
    if kind != duckdb.StatementType.SELECT:
        name = str(kind).rsplit(".", 1)[-1]
        raise QueryError(
            f"vnrec query is read-only: {name} statements are refused (SELECT, WITH, DESCRIBE,"
            " SUMMARIZE, SHOW and EXPLAIN are allowed; export with --format parquet --output)"
        )


def query_table(con: duckdb.DuckDBPyConnection, sql: str) -> pa.Table:
    """The result of the read-only `sql` as an Arrow table (empty, with its columns, for a
    statement that returns no rows)."""
    check_read_only(con, sql)
    try:
        relation = con.sql(sql)
        if relation is None:
            return pa.table({})
        table: pa.Table = relation.to_arrow_table()
    except duckdb.Error as exc:
        raise _query_error(exc) from exc
    return table


def query_batches(
    con: duckdb.DuckDBPyConnection, sql: str, batch_rows: int = QUERY_BATCH_ROWS
) -> Iterator[pa.RecordBatch]:
    """The result of the read-only `sql`, batch by batch as DuckDB produces it, so that a
    result of any size streams through bounded memory. A failure before the first batch is
    a QueryError or StorageError (read_views runs such a read again after a concurrent
    commit); one after it is not run again, part of the result being written already.
    Columns must have names of their own: rows keep one value per name."""
    check_read_only(con, sql)
    try:
        relation = con.sql(sql)
        if relation is None:
            return
        reader = relation.to_arrow_reader(batch_rows)
    except duckdb.Error as exc:
        raise _query_error(exc) from exc
    except (pa.ArrowException, OSError) as exc:  # DuckDB's, computing the first rows
        raise QueryError(first_line(exc) or type(exc).__name__) from exc
    _refuse_repeated_names(reader.schema.names)
    started = False
    while True:
        try:
            batch = reader.read_next_batch()
        except StopIteration:
            return
        # DuckDB's error while it computes a batch reaches the reader as Arrow's (an
        # OSError): not a failure to write, whatever the output.
        except (duckdb.Error, pa.ArrowException, OSError) as exc:
            if started:
                line = first_line(exc) or type(exc).__name__
                raise StorageError(
                    f"the query failed after part of its result was written: {line}"
                ) from exc
            if isinstance(exc, duckdb.Error):
                raise _query_error(exc) from exc
            raise QueryError(first_line(exc) or type(exc).__name__) from exc
        started = True
        yield batch


def _refuse_repeated_names(names: list[str]) -> None:
    repeated = first_repeated(names)
    if repeated is not None:
        raise QueryError(
            f"the result has more than one column named {repeated!r}: a row would keep only"
            " one of their values; name them apart (`... AS another_name`)"
        )


def plain_columns(batch: pa.RecordBatch) -> list[list[Any]]:
    """A batch's columns as plain Python values (what the renderers print). Columns of
    numbers, text, booleans and times are Arrow's values as they are; only the others
    (decimals, intervals, bytes, nested values) are converted value by value."""
    return [
        column.to_pylist()
        if _plain_as_is(column.type)
        else [_plain(value) for value in column.to_pylist()]
        for column in batch.columns
    ]


def _plain_as_is(kind: pa.DataType) -> bool:
    return (
        pa.types.is_integer(kind)
        or pa.types.is_floating(kind)
        or pa.types.is_boolean(kind)
        or pa.types.is_null(kind)
        or pa.types.is_string(kind)
        or pa.types.is_large_string(kind)
        or (pa.types.is_temporal(kind) and not pa.types.is_interval(kind))
    )


def parquet_batch(batch: pa.RecordBatch) -> pa.RecordBatch:
    """A batch Parquet can store, with the values the other formats print: intervals as
    their text, whole decimals (a SUM's HUGEINT) as integers when they fit, other decimals
    as floats."""
    return pa.RecordBatch.from_arrays(
        [_storable(column) for column in batch.columns], names=batch.schema.names
    )


def _storable(column: pa.Array) -> pa.Array:
    kind = column.type
    if pa.types.is_interval(kind):
        return pa.array([None if v is None else _interval_text(v) for v in column.to_pylist()])
    if pa.types.is_decimal(kind):
        try:
            return column.cast(pa.int64() if kind.scale == 0 else pa.float64())
        except pa.ArrowInvalid:  # beyond int64: the nearest float, as JSON would print it
            return column.cast(pa.float64(), safe=False)
    return column


def query_rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[dict[str, Any]]:
    """The result of `sql` as rows of plain Python values."""
    return [
        {key: _plain(value) for key, value in row.items()}
        for row in query_table(con, sql).to_pylist()
    ]
