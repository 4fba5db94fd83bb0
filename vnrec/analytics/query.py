"""`vnrec query`: any SQL over the views, with DuckDB's errors turned into `QueryError`."""

from __future__ import annotations

import decimal
from typing import Any

import duckdb
import pyarrow as pa

from vnrec.analytics.connection import VIEW_NAMES
from vnrec.errors import QueryError


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


def query_table(con: duckdb.DuckDBPyConnection, sql: str) -> pa.Table:
    """The result of `sql` as an Arrow table (empty, with its columns, for a statement that
    returns no rows)."""
    try:
        relation = con.sql(sql)
        if relation is None:
            return pa.table({})
        table: pa.Table = relation.to_arrow_table()
    except duckdb.Error as exc:
        raise QueryError(f"{exc}\nviews: {', '.join(VIEW_NAMES)}") from exc
    return table


def query_rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[dict[str, Any]]:
    """The result of `sql` as rows of plain Python values."""
    return [
        {key: _plain(value) for key, value in row.items()}
        for row in query_table(con, sql).to_pylist()
    ]
