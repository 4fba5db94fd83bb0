"""The questions the commands ask of the views, as plain rows (dicts in output key order).

Results come back through Arrow (DuckDB's Python conversion of time zones would need
pytz); integers stay ints and values floats, as docs/design.md fixes them.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from vnrec.errors import BadInputError, NoDataError
from vnrec.results import (
    BASIS_KEYS,
    CANDLE_INTERVALS,
    CANDLE_KEYS,
    FOREIGN_KEYS,
    INDEX_CANDLE_KEYS,
    INDEX_KEYS,
    STATS_KEYS,
    advance_ratio,
    basis_pct,
    market_flow,
    premium,
    with_basis_extras,
)

Row = dict[str, Any]

_INTERVAL_RE = re.compile(r"^(\d+)(s|m|h)$")
_INTERVAL_UNITS = {"s": "seconds", "m": "minutes", "h": "hours"}
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600}
MAX_INTERVAL_SECONDS = 8 * 3600


def fetch_rows(
    con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[object] = ()
) -> list[Row]:
    table: pa.Table = con.sql(sql, params=list(params)).to_arrow_table()
    names = table.column_names
    columns = [_values(column) for column in table.columns]
    return [dict(zip(names, values, strict=True)) for values in zip(*columns, strict=True)]


_UTC_ZONES = ("UTC", "Etc/UTC", "+00:00")
_UNIX_EPOCH_ORDINAL = dt.date(1970, 1, 1).toordinal()


def _values(column: pa.ChunkedArray) -> list[Any]:
    """A column as Python values, what `to_pylist` gives. UTC timestamps in microseconds
    and dates are built here: Arrow's conversion spends ~2.7 us on each time with a zone
    (a year of 1m basis rows is ~70,000)."""
    kind = column.type
    if pa.types.is_timestamp(kind) and kind.unit == "us" and kind.tz in _UTC_ZONES:
        # The zone object Arrow would attach; an aware datetime plus a timedelta keeps it
        # (in UTC, wall-clock arithmetic is exact).
        epoch = dt.datetime(1970, 1, 1, tzinfo=pa.array([0], kind).to_pylist()[0].tzinfo)
        micros = _as_integers(column, pa.int64())
        return [None if v is None else epoch + dt.timedelta(microseconds=v) for v in micros]
    if pa.types.is_date32(kind):
        days = _as_integers(column, pa.int32())
        return [None if d is None else dt.date.fromordinal(_UNIX_EPOCH_ORDINAL + d) for d in days]
    values: list[Any] = column.to_pylist()
    return values


def _as_integers(column: pa.ChunkedArray, kind: pa.DataType) -> list[int | None]:
    # A view of the same bytes, not a cast: a cast loads pyarrow.compute (~30 ms a command).
    return [v for chunk in column.chunks for v in chunk.view(kind).to_pylist()]


def _select(keys: Sequence[str]) -> str:
    return ", ".join(keys)


def _bytewise(rows: list[Row], key: str) -> list[Row]:
    # design.md sorts lists bytewise; SQL collations need not agree, Python's str order does.
    return sorted(rows, key=lambda row: row[key])


def session_stats(
    con: duckdb.DuckDBPyConnection, day: dt.date, symbol: str | None = None
) -> list[Row]:
    """Session stats of every symbol with a counted trade on `day` (or of one symbol)."""
    sql = f"SELECT {_select(STATS_KEYS)} FROM session_stats WHERE date = ?"
    params: list[object] = [day]
    if symbol is not None:
        sql += " AND symbol = ?"
        params.append(symbol)
    return _bytewise(fetch_rows(con, sql, params), "symbol")


def foreign_flow(con: duckdb.DuckDBPyConnection, day: dt.date, top: int | None = None) -> list[Row]:
    """The latest cumulative foreign flow per symbol, sorted by symbol; with `top`, the `top`
    symbols of largest absolute net value, largest first."""
    rows = fetch_rows(
        con, f"SELECT {_select(FOREIGN_KEYS)} FROM foreign_flow WHERE date = ?", [day]
    )
    rows = _bytewise(rows, "symbol")
    if top is None:
        return rows
    if top < 1:
        raise BadInputError(f"--top must be at least 1, got {top}")

    def weight(row: Row) -> float:
        net = row["net_value"]
        return -1.0 if net is None or math.isnan(net) else abs(float(net))

    return sorted(rows, key=weight, reverse=True)[:top]


def foreign_market(
    con: duckdb.DuckDBPyConnection, day: dt.date, top: int = 10, basket: str | None = None
) -> list[Row]:
    """The market's foreign flow of the day (every symbol, or the members of index `basket`
    that day, from `index_components`): one `market` row of totals, then the `top` net
    buyers and the `top` net sellers by net value, as rows of `group, rank, symbol,
    symbols` and the flow figures. Sums of values are exact (math.fsum)."""
    if top < 1:
        raise BadInputError(f"--top must be at least 1, got {top}")
    rows = foreign_flow(con, day)
    if basket is not None:
        members = {
            symbol
            for (symbol,) in con.execute(
                "SELECT symbol FROM index_components WHERE date = ? AND index_id = ?",
                [day, basket],
            ).fetchall()
        }
        if not members:
            raise NoDataError(
                f"--basket {basket}: no members of {basket} recorded for {day.isoformat()}"
                " (the recorder keeps them, from SSI's IndexComponents, for the days it records)"
            )
        rows = [row for row in rows if row["symbol"] in members]
    return market_flow(rows, top)


def index_latest(con: duckdb.DuckDBPyConnection, day: dt.date) -> list[Row]:
    """Per index id, the latest values of its last message with a value > 0."""
    rows = fetch_rows(
        con, f"SELECT {_select(INDEX_KEYS[:-1])} FROM index_latest WHERE date = ?", [day]
    )
    for row in rows:
        row["advance_ratio"] = advance_ratio(row["advances"], row["declines"])
    return _bytewise(rows, "index_id")


# The summary fields the SQL computes; the rest derive from them (vnrec.results).
SUMMED = BASIS_KEYS[: BASIS_KEYS.index("front") + 1]


def basis_contracts(con: duckdb.DuckDBPyConnection, day: dt.date) -> list[Row]:
    """One summary per VN30 futures contract traded on `day`, with the day's front flag."""
    rows = fetch_rows(
        con,
        """
        SELECT symbol,
               count(basis) AS points,
               arg_max(price, seq) FILTER (WHERE basis IS NOT NULL) AS last_price,
               arg_max(index_value, seq) FILTER (WHERE basis IS NOT NULL) AS last_index,
               arg_max(basis, seq) FILTER (WHERE basis IS NOT NULL) AS last_basis,
               min(basis) AS min_basis,
               max(basis) AS max_basis
        FROM basis WHERE date = ? GROUP BY symbol
        """,
        [day],
    )
    front = _front_contract(con, day, [row["symbol"] for row in rows])
    summaries = [
        with_basis_extras(
            {key: row["symbol"] == front if key == "front" else row[key] for key in SUMMED}
        )
        for row in rows
    ]
    return _bytewise(summaries, "symbol")


def candles(
    con: duckdb.DuckDBPyConnection,
    day: dt.date,
    interval: str = "1m",
    symbol: str | None = None,
) -> list[Row]:
    """The day's candles of `interval` (SPEC.md 7.4), by symbol then start."""
    view = f"candles_{_candle_interval(interval)}"
    sql = f"SELECT {_select(CANDLE_KEYS)} FROM {view} WHERE date = ?"
    params: list[object] = [day]
    if symbol is not None:
        sql += " AND symbol = ?"
        params.append(symbol)
    return sorted(fetch_rows(con, sql, params), key=lambda r: (r["symbol"], r["start"]))


def index_candles(
    con: duckdb.DuckDBPyConnection,
    day: dt.date,
    interval: str = "1m",
    index_id: str | None = None,
) -> list[Row]:
    """The day's index candles of `interval`, by index id then start."""
    view = f"index_candles_{_candle_interval(interval)}"
    sql = f"SELECT {_select(INDEX_CANDLE_KEYS)} FROM {view} WHERE date = ?"
    params: list[object] = [day]
    if index_id is not None:
        sql += " AND index_id = ?"
        params.append(index_id)
    return sorted(fetch_rows(con, sql, params), key=lambda r: (r["index_id"], r["start"]))


def _candle_interval(interval: str) -> str:
    if interval not in CANDLE_INTERVALS:
        raise BadInputError(
            f"not a candle interval: {interval!r} (one of {', '.join(CANDLE_INTERVALS)})"
        )
    return interval


def parse_interval(text: str) -> str:
    """`30s`, `1m`, `5m`, `1h` as a DuckDB interval literal: more than zero, and at most a
    trading session (buckets longer than that would start on another day)."""
    match = _INTERVAL_RE.match(text.strip())
    if match is None or int(match.group(1)) == 0:
        raise BadInputError(f"not an interval (expected e.g. 30s, 1m, 15m, 1h): {text!r}")
    count, unit = int(match.group(1)), match.group(2)
    if count * _UNIT_SECONDS[unit] > MAX_INTERVAL_SECONDS:
        raise BadInputError(f"interval {text.strip()} is longer than 8h, a trading day's span")
    return f"{count} {_INTERVAL_UNITS[unit]}"


BASIS_RANGE_TABLE = "_basis_range"  # the range's basis rows, computed once per call
STORED_BASIS = "_basis_stored"  # the basis caches' rows, when a call is given them


# The front contract among the traded ones: the nearest last trading day on or after the
# day (from `vn30_contracts`, which the data root's calendar made), ties to the smaller
# symbol, as vnrec.calendar.front_contract decides it for the trackers.
_FRONT_ORDER = "ORDER BY c.last_trading_day, t.symbol"


def _front_contract(con: duckdb.DuckDBPyConnection, day: dt.date, symbols: list[str]) -> str:
    rows = fetch_rows(
        con,
        "SELECT t.symbol FROM (SELECT unnest(?::VARCHAR[]) AS symbol) t"
        f" JOIN vn30_contracts c USING (symbol) WHERE c.last_trading_day >= ? {_FRONT_ORDER}"
        " LIMIT 1",
        [symbols, day],
    )
    return str(rows[0]["symbol"]) if rows else ""


def _front_by_day(con: duckdb.DuckDBPyConnection) -> pa.Table:
    table: pa.Table = con.sql(
        f"""
        SELECT t.date, t.symbol
        FROM (SELECT DISTINCT date, symbol FROM {BASIS_RANGE_TABLE}) t
        JOIN vn30_contracts c USING (symbol)
        WHERE c.last_trading_day >= t.date
        QUALIFY row_number() OVER (PARTITION BY t.date {_FRONT_ORDER}) = 1
        """
    ).to_arrow_table()
    return table


def basis_rows(con: duckdb.DuckDBPyConnection, day: dt.date) -> pa.Table:
    """One day's rows of the `basis` view in seq order: what the basis cache stores."""
    table: pa.Table = con.sql(
        "SELECT * FROM basis WHERE date = ? ORDER BY seq", params=[day]
    ).to_arrow_table()
    return table


def _sql_text(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def basis_series(
    con: duckdb.DuckDBPyConnection,
    start: dt.date,
    end: dt.date,
    *,
    interval: str = "1m",
    contract: str = "front",
    cached: Mapping[dt.date, Path] | None = None,
    stored_rows: pa.Table | None = None,
) -> list[Row]:
    """Per interval and day, the last VN30 futures trade with a basis: its price, the VN30
    value it was measured against, the basis, in percent of that value, and whether it is a
    premium or a discount. `contract` is `front` (each day's front
    contract among those traded) or one symbol. The days of `cached` are read from those
    basis cache files (vnrec.storage.basis_cache) instead of computed from their parts.
    With `stored_rows` (the caches' rows of every day, already read), nothing else is
    read: the connection then needs no view but `vn30_contracts`
    (vnrec.analytics.connection.bare_connection)."""
    if end < start:
        raise BadInputError(f"--to {end} is before --from {start}")
    bucket = parse_interval(interval)
    stored = sorted((day, path) for day, path in (cached or {}).items() if start <= day <= end)
    symbol_filter = "" if contract == "front" else " AND symbol = ?"
    computed = "SELECT * FROM basis WHERE date BETWEEN ? AND ?"
    params: list[object] = [start, end]
    # Rows already in memory are scanned twice where they are (a view); a query over the
    # parts is run once into a temporary table.
    kind = "TABLE"
    if stored_rows is not None:
        con.register(STORED_BASIS, stored_rows)
        # A view takes no parameters: the dates and the symbol as literals.
        computed = (
            f"SELECT * FROM {STORED_BASIS}"
            f" WHERE date BETWEEN DATE '{start.isoformat()}' AND DATE '{end.isoformat()}'"
            + ("" if contract == "front" else f" AND symbol = {_sql_text(contract)}")
        )
        params = []
        kind = "VIEW"
    elif stored:
        computed += " AND date NOT IN (" + ", ".join(f"DATE '{d}'" for d, _ in stored) + ")"
        files = ", ".join(_sql_text(str(path)) for _, path in stored)
        computed = (
            f"SELECT * FROM read_parquet([{files}]) WHERE true{symbol_filter}"
            f" UNION ALL BY NAME {computed}"
        )
        params = ([] if contract == "front" else [contract]) + params
    if contract != "front" and stored_rows is None:
        computed += symbol_filter
        params.append(contract)
    con.execute(f"CREATE OR REPLACE TEMP {kind} {BASIS_RANGE_TABLE} AS {computed}", params)
    fronts = None
    try:
        chosen = ""
        if contract == "front":
            fronts = _front_by_day(con)
            con.register("_front_contracts", fronts)
            chosen = "SEMI JOIN _front_contracts USING (date, symbol)"
        rows = fetch_rows(
            con,
            f"""
            SELECT date, symbol, time_bucket(INTERVAL '{bucket}', event_ts) AS interval_start,
                   arg_max(price, seq) AS price, arg_max(index_value, seq) AS index_value,
                   arg_max(basis, seq) AS basis
            FROM {BASIS_RANGE_TABLE} {chosen}
            WHERE basis IS NOT NULL AND event_ts IS NOT NULL
            GROUP BY date, symbol, interval_start
            ORDER BY date, symbol, interval_start
            """,
        )
        for row in rows:
            row["basis_pct"] = basis_pct(row["basis"], row["index_value"])
            row["premium"] = premium(row["basis"])
        return rows
    finally:
        if fronts is not None:
            con.unregister("_front_contracts")
        con.execute(f"DROP {kind} IF EXISTS {BASIS_RANGE_TABLE}")
        if stored_rows is not None:
            con.unregister(STORED_BASIS)
