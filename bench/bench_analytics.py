"""Benchmark of the DuckDB analytics over a generated history.

Trading days are generated directly as Parquet parts (storage schemas, the real layout, one
compacted part per table and day), deterministically with numpy: per day 2M quotes, 1M
stock trades, VN30 index ticks and trades of two VN30 futures, seq interleaved at random.
`raw` rows carry an empty-object `content` (`{}`): the timed queries never read it, and
several GB of JSON text per day would only measure the disk.

Timed on 2 DuckDB threads, median of a few runs: one-day `stats`, 20-day `basis` at 1m
(from the basis rows stored at compaction, as the command, and computed),
a full-history `GROUP BY symbol`, and the bytes of the part files a one-day query touches.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from vnrec.analytics import connect
from vnrec.analytics.cached import basis_over_days
from vnrec.analytics.connection import open_connection
from vnrec.analytics.precompute import derive_day_results
from vnrec.analytics.reports import basis_series, session_stats
from vnrec.analytics.sources import layout_files
from vnrec.calendar import DEFAULT_CALENDAR, HCM_UTC_OFFSET, listed_futures
from vnrec.storage.commits import OP_IMPORT
from vnrec.storage.day import open_day
from vnrec.storage.layout import Layout
from vnrec.storage.normalize import BatchTables
from vnrec.storage.schema import SCHEMAS

THREADS = 2
FIRST_DAY = dt.date(2026, 1, 5)
STOCKS = 1_500
SEED = 20260105


@dataclass(frozen=True)
class Sizes:
    days: int
    quotes: int
    trades: int
    index_ticks: int
    futures_trades: int
    runs: int


QUICK = Sizes(days=2, quotes=20_000, trades=10_000, index_ticks=500, futures_trades=800, runs=3)
FULL = Sizes(
    days=20, quotes=2_000_000, trades=1_000_000, index_ticks=20_000, futures_trades=40_000, runs=5
)

KIND_QUOTE, KIND_TRADE, KIND_INDEX, KIND_FUTURE = 0, 1, 2, 3
SESSION_START_S = 9 * 3600  # 09:00 local
SESSION_END_S = 14 * 3600 + 45 * 60  # 14:45 local


def _table(table: str, rows: int, columns: dict[str, Any]) -> pa.Table:
    """A table with the storage schema; columns not given are all null."""
    schema = SCHEMAS[table]
    arrays = []
    for field in schema:
        values = columns.get(field.name)
        if values is None:
            arrays.append(pa.nulls(rows, field.type))
        elif isinstance(values, pa.Array | pa.ChunkedArray):
            arrays.append(values.cast(field.type))
        else:
            arrays.append(pa.array(values, type=field.type))
    return pa.Table.from_arrays(arrays, schema=schema)


def _per_group_cumsum(
    groups: np.ndarray[Any, Any], values: np.ndarray[Any, Any]
) -> np.ndarray[Any, Any]:
    """Cumulative sum of `values` within each group, in the given (seq) order."""
    order = np.argsort(groups, kind="stable")
    sorted_values = values[order]
    sorted_groups = groups[order]
    totals = np.cumsum(sorted_values)
    starts = np.flatnonzero(np.r_[True, sorted_groups[1:] != sorted_groups[:-1]])
    offsets = np.repeat(totals[starts] - sorted_values[starts], np.diff(np.r_[starts, len(order)]))
    result = np.empty_like(values)
    result[order] = totals - offsets
    return result


def _sessions(local_seconds: np.ndarray[Any, Any]) -> pa.Array:
    session = np.where(
        local_seconds < SESSION_START_S + 15 * 60,
        "ATO",
        np.where(local_seconds >= SESSION_END_S - 15 * 60, "ATC", "LO"),
    )
    return pa.array(session, pa.string())


def generate_day(layout: Layout, day: dt.date, sizes: Sizes, rng: np.random.Generator) -> None:
    kinds = np.concatenate(
        [
            np.full(sizes.quotes, KIND_QUOTE, np.int8),
            np.full(sizes.trades, KIND_TRADE, np.int8),
            np.full(sizes.index_ticks, KIND_INDEX, np.int8),
            np.full(sizes.futures_trades, KIND_FUTURE, np.int8),
        ]
    )
    rng.shuffle(kinds)
    rows = len(kinds)
    seq = np.arange(1, rows + 1, dtype=np.int64)
    local_s = SESSION_START_S + (seq - 1) * (SESSION_END_S - SESSION_START_S) // rows
    midnight_utc = dt.datetime.combine(day, dt.time(), dt.UTC) - HCM_UTC_OFFSET
    event_us = (int(midnight_utc.timestamp()) + local_s) * 1_000_000
    event_ts = pa.array(event_us, pa.int64()).cast(pa.timestamp("us", tz="UTC"))
    recv_ns = event_us * 1000 + rng.integers(0, 1_000_000, rows)

    stock_names = np.array([f"S{i:04d}" for i in range(STOCKS)])
    base_price = (rng.integers(100, 1000, STOCKS) * 100).astype(np.float64)
    futures = [c.symbol for c in listed_futures(day, calendar=DEFAULT_CALENDAR)[:2]]

    def pick(kind: int) -> np.ndarray[Any, Any]:
        return np.flatnonzero(kinds == kind)

    # Quotes: 3-level HOSE books around each stock's base price.
    q = pick(KIND_QUOTE)
    q_sym = rng.integers(0, STOCKS, len(q))
    q_bid = base_price[q_sym] + 100.0 * rng.integers(-5, 5, len(q))
    quote_cols: dict[str, Any] = {
        "seq": seq[q],
        "recv_ns": recv_ns[q],
        "event_ts": event_ts.take(q),
        "data_type": pa.array(np.full(len(q), "X-QUOTE")),
        "symbol": pa.array(stock_names[q_sym]),
        "exchange": pa.array(np.full(len(q), "HOSE")),
        "trading_session": _sessions(local_s[q]),
    }
    for level in range(1, 11):
        active = level <= 3
        quote_cols[f"bid_price{level}"] = (
            q_bid - 100.0 * (level - 1) if active else np.zeros(len(q))
        )
        quote_cols[f"ask_price{level}"] = q_bid + 100.0 * level if active else np.zeros(len(q))
        quote_cols[f"bid_vol{level}"] = (
            rng.integers(1, 500, len(q)) * 100 if active else np.zeros(len(q), np.int64)
        )
        quote_cols[f"ask_vol{level}"] = (
            rng.integers(1, 500, len(q)) * 100 if active else np.zeros(len(q), np.int64)
        )

    # Trades of stocks and futures share the trades table.
    t = np.sort(np.concatenate([pick(KIND_TRADE), pick(KIND_FUTURE)]))
    is_future = kinds[t] == KIND_FUTURE
    t_sym_index = np.where(
        is_future, STOCKS + rng.integers(0, len(futures), len(t)), rng.integers(0, STOCKS, len(t))
    )
    names = np.concatenate([stock_names, np.array(futures)])
    vn30_path = 1250.0 + np.cumsum(rng.normal(0, 0.05, rows))
    t_price = np.where(
        is_future,
        np.round(vn30_path[t] + rng.normal(2.0, 1.0, len(t)), 1),
        base_price[np.minimum(t_sym_index, STOCKS - 1)] + 100.0 * rng.integers(-5, 6, len(t)),
    )
    t_vol = np.where(is_future, rng.integers(1, 50, len(t)), rng.integers(1, 100, len(t)) * 100)
    t_total = _per_group_cumsum(t_sym_index, t_vol)
    trade_cols: dict[str, Any] = {
        "seq": seq[t],
        "recv_ns": recv_ns[t],
        "event_ts": event_ts.take(t),
        "data_type": pa.array(np.full(len(t), "X-TRADE")),
        "symbol": pa.array(names[t_sym_index]),
        "exchange": pa.array(np.where(is_future, "DERIVATIVES", "HOSE")),
        "trading_session": _sessions(local_s[t]),
        "trading_status": pa.array(np.full(len(t), "N")),
        "side": pa.array(np.where(rng.random(len(t)) < 0.5, "BU", "SD")),
        "last_price": t_price,
        "last_vol": t_vol,
        "total_vol": t_total,
        "total_val": _per_group_cumsum(t_sym_index, t_price * t_vol),
    }

    i = pick(KIND_INDEX)
    index_cols: dict[str, Any] = {
        "seq": seq[i],
        "recv_ns": recv_ns[i],
        "event_ts": event_ts.take(i),
        "data_type": pa.array(np.full(len(i), "MI")),
        "index_id": pa.array(np.full(len(i), "VN30")),
        "trading_session": _sessions(local_s[i]),
        "index_value": np.round(vn30_path[i], 2),
        "prior_index_value": np.full(len(i), 1250.0),
    }
    raw_types = np.array(["X-QUOTE", "X-TRADE", "MI", "X-TRADE"])[kinds]
    raw_cols: dict[str, Any] = {
        "seq": seq,
        "recv_ns": recv_ns,
        "data_type": pa.array(raw_types),
        "content": pa.array(np.full(rows, "{}")),
    }
    tables = {
        table: _table(table, count, columns)
        for table, count, columns in (
            ("quotes", len(q), quote_cols),
            ("trades", len(t), trade_cols),
            ("index", len(i), index_cols),
            ("raw", rows, raw_cols),
        )
    }
    with open_day(layout, day) as writer:
        writer.commit(OP_IMPORT, writer.write(BatchTables(day, 1, rows, tables)))


def generate(root: Path, sizes: Sizes) -> list[dt.date]:
    layout = Layout(root)
    rng = np.random.default_rng(SEED)
    days: list[dt.date] = []
    day = FIRST_DAY
    while len(days) < sizes.days:
        if DEFAULT_CALENDAR.is_trading_day(day):
            generate_day(layout, day, sizes, rng)
            days.append(day)
        day += dt.timedelta(days=1)
    return days


def _median_seconds(action: Callable[[], object], runs: int) -> float:
    timings = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        timings.append(time.perf_counter() - start)
    return statistics.median(timings)


def _day_bytes(layout: Layout, day: dt.date, tables: tuple[str, ...]) -> int:
    return sum(part.path.stat().st_size for t in tables for part in layout.parts(t, day))


def _bytes_read(con: duckdb.DuckDBPyConnection, sql: str, profile: Path) -> int:
    """The bytes DuckDB's profiler says a query read from storage."""
    con.execute("SET enable_profiling = 'json'")
    con.execute(f"SET profiling_output = '{profile}'")
    try:
        con.sql(sql).to_arrow_table()
    finally:
        con.execute("SET enable_profiling = 'no_output'")
    return int(json.loads(profile.read_text())["io"]["total_bytes_read"])


def run(quick: bool) -> list[dict[str, Any]]:
    sizes = QUICK if quick else FULL
    root = Path(tempfile.mkdtemp(prefix="vnrec-bench-analytics-"))
    try:
        start = time.perf_counter()
        days = generate(root, sizes)
        generated_s = time.perf_counter() - start
        events = sizes.quotes + sizes.trades + sizes.index_ticks + sizes.futures_trades
        layout = Layout(root)
        start = time.perf_counter()
        for day in days:  # what compaction stores for each day
            derive_day_results(layout, day, threads=THREADS)
        derived_s = time.perf_counter() - start
        stored_basis_s = _median_seconds(
            lambda: basis_over_days(root, days, interval="1m", threads=THREADS), sizes.runs
        )
        basis_command_s = _median_seconds(lambda: _basis_command(root, days), sizes.runs)
        scale = f"{len(days)} days x {events:,} events, {THREADS} threads"
        con = connect(root, threads=THREADS)
        try:
            day = days[-1]
            stats_s = _median_seconds(lambda: session_stats(con, day), sizes.runs)
            basis_s = _median_seconds(
                lambda: basis_series(con, days[0], days[-1], interval="1m"), sizes.runs
            )
            # Profiling is a setting the commands' sandboxed connections lock.
            unlocked = open_connection(layout_files(Layout(root)), threads=THREADS)
            try:
                read = _bytes_read(
                    unlocked,
                    f"SELECT * FROM session_stats WHERE date = '{day.isoformat()}'",
                    root / "profile.json",
                )
            finally:
                unlocked.close()
            group_s = _median_seconds(
                lambda: con.sql(
                    "SELECT symbol, count(*), sum(last_vol) FROM trades GROUP BY symbol"
                ).fetchall(),
                sizes.runs,
            )
        finally:
            con.close()
        return [
            _result(
                "generate the days as Parquet (setup)",
                generated_s,
                "s",
                f"{scale}; numpy/pyarrow to Parquet",
            ),
            _result(
                "one-day stats (median)",
                stats_s,
                "s",
                f"{scale}; computed by the SQL (a day not compacted; compacted days answer"
                " from stored stats, see replay's `vnrec stats` row)",
            ),
            _result(
                "store stats and basis at compaction (setup)",
                derived_s,
                "s",
                f"{scale}; the SQL of every day once, as `vnrec compact` runs it",
            ),
            _result(
                "all-days basis at 1m (median)",
                stored_basis_s,
                "s",
                f"{scale}; from the basis rows stored at compaction; goal <= 0.5 s",
            ),
            _result(
                "all-days `vnrec basis` at 1m, whole command (median)",
                basis_command_s,
                "s",
                f"{scale}; start, imports and JSON output included",
            ),
            _result(
                "all-days basis at 1m, computed (median)",
                basis_s,
                "s",
                f"{scale}; the SQL over every day's parts (days not compacted)",
            ),
            _result(
                "full-history GROUP BY symbol (median)", group_s, "s", f"{scale}; target <= 1 s"
            ),
            _result(
                "bytes read by one-day stats",
                float(read),
                "bytes",
                "bytes DuckDB read for one day's stats (its profiler's io.total_bytes_read)",
            ),
            _result(
                "size of that day's files",
                float(_day_bytes(layout, day, ("trades", "quotes"))),
                "bytes",
                "size of the part files one day's stats opens (trades, quotes of that day)",
            ),
        ]
    finally:
        shutil.rmtree(root)


def _basis_command(root: Path, days: list[dt.date]) -> None:
    command = [
        sys.executable, "-m", "vnrec.cli.main", "basis", "--from", days[0].isoformat(),
        "--to", days[-1].isoformat(), "--data", str(root), "-f", "json",
    ]  # fmt: skip
    subprocess.run(command, check=True, capture_output=True)


def _result(metric: str, value: float, unit: str, note: str) -> dict[str, Any]:
    return {
        "benchmark": "analytics",
        "metric": metric,
        "value": value,
        "unit": unit,
        "note": note,
    }


if __name__ == "__main__":
    import sys

    for row in run(quick="--quick" in sys.argv):
        print(row)
