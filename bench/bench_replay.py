"""Benchmark of `vnrec replay`: a generated 3,000,000-event day through every tracker.

The day is generated directly as Parquet parts (storage schemas, the real layout, parts of
200,000 seqs like a recorder's day before compaction), deterministically with numpy:
2,000,000 quotes, 1,000,000 trades (stocks, `X` snapshots and two VN30 futures), foreign
room and index ticks, seq interleaved at random. `raw` rows carry an empty-object `content`
(`{}`): replay reads raw's `seq`/`data_type` only, and its content only for unknown types.

Each measurement runs in its own subprocess, so peak RSS (`ru_maxrss`) is that of one
replay and not of the generator. Where the time goes is measured by stages, each a run of
its own: Parquet decode only, + events built (Arrow -> Python), + seq merge, + trackers.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import tempfile
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from vnrec.calendar import HCM_UTC_OFFSET
from vnrec.storage.commits import OP_IMPORT
from vnrec.storage.day import open_day
from vnrec.storage.layout import Layout
from vnrec.storage.normalize import BatchTables
from vnrec.storage.schema import SCHEMAS

DAY = dt.date(2026, 2, 6)
SEED = 20260206
STOCKS = 400
FUTURES = ("41I1G2000", "41I1G3000")
PART_SEQS = 200_000


@dataclass(frozen=True)
class Sizes:
    quotes: int
    trades: int
    foreign: int
    index: int


QUICK = Sizes(quotes=66_000, trades=33_000, foreign=700, index=300)
FULL = Sizes(quotes=2_000_000, trades=1_000_000, foreign=20_000, index=10_000)

KIND_QUOTE, KIND_TRADE, KIND_FOREIGN, KIND_INDEX = 0, 1, 2, 3
DATA_TYPES = {KIND_QUOTE: "X-QUOTE", KIND_TRADE: "X-TRADE", KIND_FOREIGN: "R", KIND_INDEX: "MI"}
TABLES = {KIND_QUOTE: "quotes", KIND_TRADE: "trades", KIND_FOREIGN: "foreign", KIND_INDEX: "index"}


def _table(table: str, rows: int, columns: dict[str, Any]) -> pa.Table:
    schema = SCHEMAS[table]
    arrays = [
        pa.array(columns[f.name], type=f.type) if f.name in columns else pa.nulls(rows, f.type)
        for f in schema
    ]
    return pa.Table.from_arrays(arrays, schema=schema)


def _event_ts(seqs: np.ndarray[Any, Any], total: int) -> pa.Array:
    """09:00 to 14:45 local, spread evenly over the seqs of the day (one-second times)."""
    open_utc = dt.datetime.combine(DAY, dt.time(9), tzinfo=dt.UTC) - HCM_UTC_OFFSET
    start_us = int(open_utc.timestamp()) * 1_000_000
    seconds = (seqs - 1) * (5 * 3600 + 45 * 60) // total
    return pa.array(start_us + seconds * 1_000_000, pa.int64()).cast(SCHEMAS["trades"][2].type)


def _cumulative(groups: np.ndarray[Any, Any], values: np.ndarray[Any, Any]) -> Any:
    """Running sum of `values` within each group, in the original order."""
    order = np.argsort(groups, kind="stable")
    summed = np.cumsum(values[order])
    sorted_groups = groups[order]
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_groups)) + 1]
    offsets = np.repeat(np.r_[0, summed[starts[1:] - 1]], np.diff(np.r_[starts, len(order)]))
    result = np.empty_like(summed)
    result[order] = summed - offsets
    return result


def _columns(kind: int, seqs: np.ndarray[Any, Any], total: int, rng: Any) -> dict[str, Any]:
    n = len(seqs)
    stock_names = np.array([f"S{i:03d}" for i in range(STOCKS)], dtype=object)
    base = 10_000 + (np.arange(STOCKS) * 137 % 900) * 100
    common: dict[str, Any] = {
        "seq": seqs,
        "recv_ns": 1_770_343_200_000_000_000 + seqs * 7_000_000,
        "event_ts": _event_ts(seqs, total),
        "data_type": np.full(n, DATA_TYPES[kind], dtype=object),
    }
    if kind == KIND_QUOTE:
        sym = rng.integers(0, STOCKS, n)
        mid = base[sym] + rng.integers(-10, 11, n) * 50
        columns = {"symbol": stock_names[sym], "trading_session": np.full(n, "LO", dtype=object)}
        for level in (1, 2, 3):
            columns[f"bid_price{level}"] = (mid - 50 * level).astype(float)
            columns[f"ask_price{level}"] = (mid + 50 * level).astype(float)
            columns[f"bid_vol{level}"] = rng.integers(1, 500, n) * 100
            columns[f"ask_vol{level}"] = rng.integers(1, 500, n) * 100
        return common | columns
    if kind == KIND_TRADE:
        is_future = rng.random(n) < 0.04
        sym = rng.integers(0, STOCKS, n)
        fut = rng.integers(0, len(FUTURES), n)
        symbols = np.where(is_future, np.array(FUTURES, dtype=object)[fut], stock_names[sym])
        groups = np.where(is_future, STOCKS + fut, sym)
        price = np.where(
            is_future,
            1_900.0 + rng.integers(-200, 200, n) / 10,
            (base[sym] + rng.integers(-10, 11, n) * 50).astype(float),
        )
        volume = np.where(is_future, rng.integers(1, 50, n), rng.integers(1, 100, n) * 100)
        total_vol = _cumulative(groups, volume)
        repeat = rng.random(n) < 0.01  # a reconnect resending an earlier trade
        total_vol = np.where(repeat, np.maximum(total_vol - volume, 1), total_vol)
        data_type = np.where(rng.random(n) < 0.1, "X", "X-TRADE").astype(object)
        sessions = np.where(seqs < total * 0.05, "ATO", "LO")
        sessions = np.where(seqs > total * 0.95, "ATC", sessions).astype(object)
        return common | {
            "data_type": data_type,
            "symbol": symbols,
            "trading_session": sessions,
            "side": np.where(rng.random(n) < 0.5, "BU", "SD").astype(object),
            "last_price": price,
            "last_vol": volume,
            "total_vol": total_vol,
            "total_val": (price * total_vol).astype(float),
        }
    if kind == KIND_FOREIGN:
        sym = rng.integers(0, STOCKS, n)
        buy = _cumulative(sym, rng.integers(0, 50, n) * 100)
        sell = _cumulative(sym, rng.integers(0, 50, n) * 100)
        return common | {
            "symbol": stock_names[sym],
            "total_room": np.full(n, 1_000_000_000),
            "current_room": 500_000_000 - buy,
            "buy_vol": buy,
            "sell_vol": sell,
            "buy_val": buy * 30_000.0,
            "sell_val": sell * 30_000.0,
        }
    ids = np.where(rng.random(n) < 0.5, "VN30", "VNINDEX").astype(object)
    return common | {
        "index_id": ids,
        "index_value": np.where(ids == "VN30", 1_900.0, 1_250.0) + rng.normal(0, 5, n),
        "prior_index_value": np.where(ids == "VN30", 1_895.0, 1_245.0),
        "advances": rng.integers(0, 30, n),
        "declines": rng.integers(0, 30, n),
        "no_changes": rng.integers(0, 30, n),
        "total_qtty": np.cumsum(rng.integers(0, 1000, n)),
        "total_value": np.cumsum(rng.random(n)) * 1e9,
        "trading_session": np.full(n, "LO", dtype=object),
    }


def generate_day(root: Path, sizes: Sizes) -> int:
    """Write the day's parts under `root`; returns the number of messages (seqs)."""
    rng = np.random.default_rng(SEED)
    kinds = np.repeat(
        np.array([KIND_QUOTE, KIND_TRADE, KIND_FOREIGN, KIND_INDEX], dtype=np.int8),
        [sizes.quotes, sizes.trades, sizes.foreign, sizes.index],
    )
    rng.shuffle(kinds)
    total = len(kinds)
    seqs = np.arange(1, total + 1, dtype=np.int64)
    # Each kind's columns for the whole day at once (cumulative totals run over the day),
    # then cut into parts of PART_SEQS seqs like a recorder's batches.
    day_tables = {
        kind: _table(
            table, int(np.sum(kinds == kind)), _columns(kind, seqs[kinds == kind], total, rng)
        )
        for kind, table in TABLES.items()
    }
    with open_day(Layout(root), DAY) as writer:
        for first in range(1, total + 1, PART_SEQS):
            last = min(first + PART_SEQS - 1, total)
            batch = _batch(day_tables, kinds, seqs, first, last)
            writer.commit(OP_IMPORT, writer.write(batch))
    return total


def _batch(
    day_tables: dict[int, pa.Table], kinds: np.ndarray, seqs: np.ndarray, first: int, last: int
) -> BatchTables:
    """Seqs first..last of the day, one table per kind plus raw, as a recorder batch."""
    tables: dict[str, pa.Table] = {}
    for kind, table in TABLES.items():
        data = day_tables[kind]
        day_seqs = data.column("seq").to_numpy()
        lo, hi = np.searchsorted(day_seqs, [first, last + 1])
        if hi > lo:
            tables[table] = data.slice(lo, hi - lo)
    part_seqs = seqs[first - 1 : last]
    raw = {
        "seq": part_seqs,
        "recv_ns": 1_770_343_200_000_000_000 + part_seqs * 7_000_000,
        "data_type": np.array([DATA_TYPES[int(k)] for k in kinds[first - 1 : last]], dtype=object),
        "content": np.full(len(part_seqs), "{}", dtype=object),
    }
    tables["raw"] = _table("raw", len(part_seqs), raw)
    return BatchTables(DAY, first, last, tables)


# One stage per subprocess: the code each stage runs, over the generated root.
_STAGE = textwrap.dedent(
    """
    import json, sys, time
    from pathlib import Path
    from vnrec.replay import merge_by_seq, parquet_streams, paused_gc, replay
    from vnrec.replay.convert import EVENT_TABLES
    from vnrec.replay.sources import parquet_batches
    from vnrec.storage.layout import Layout
    import datetime as dt
    stage, root, day = sys.argv[1], Path(sys.argv[2]), dt.date.fromisoformat(sys.argv[3])
    layout = Layout(root)
    state = layout.state(day)
    started = time.perf_counter()
    cpu_started = time.process_time()
    events = 0
    with paused_gc():
        if stage == "decode":
            for table in EVENT_TABLES:
                for batch in parquet_batches(layout, state, table, 1, 16384):
                    events += batch.num_rows
        elif stage == "events":
            for table, chunks in parquet_streams(layout, state):
                for chunk in chunks:
                    events += len(chunk.events)
        elif stage == "merge":
            for chunk in merge_by_seq(parquet_streams(layout, state)):
                events += len(chunk.events)
    if stage == "replay":
        events = replay(day, data=root).events
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    # VmHWM, not ru_maxrss: Linux carries the parent's peak into ru_maxrss across exec.
    status = Path("/proc/self/status").read_text().splitlines()
    peak_kb = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
    result = {"seconds": elapsed, "cpu": cpu, "events": events, "peak_rss_mb": peak_kb / 1024}
    print(json.dumps(result))
    """
)


def _run_stage(stage: str, root: Path, runs: int) -> dict[str, float]:
    """The best of `runs` fresh subprocesses (by CPU time: the machine may be shared)."""
    results = []
    for _ in range(runs):
        completed = subprocess.run(
            [sys.executable, "-c", _STAGE, stage, str(root), DAY.isoformat()],
            check=True,
            capture_output=True,
            text=True,
        )
        results.append(json.loads(completed.stdout))
    best: dict[str, float] = min(results, key=lambda r: r["cpu"])
    return best


def _row(metric: str, value: float, unit: str, note: str) -> dict[str, Any]:
    return {"benchmark": "replay", "metric": metric, "value": value, "unit": unit, "note": note}


def run(quick: bool) -> list[dict[str, Any]]:
    sizes = QUICK if quick else FULL
    runs = 3 if quick else 2  # best of several: stage costs are differences of runs
    with tempfile.TemporaryDirectory(prefix="vnrec-bench-replay-") as tmp:
        root = Path(tmp) / "data"
        messages = generate_day(root, sizes)
        stages = {s: _run_stage(s, root, runs) for s in ("decode", "events", "merge", "replay")}
    day = (
        f"{messages:,} messages ({sizes.quotes:,} quotes, {sizes.trades:,} trades,"
        f" {sizes.foreign:,} foreign, {sizes.index:,} index)"
    )
    full = stages["replay"]
    cpu = {name: stage["cpu"] for name, stage in stages.items()}
    return [
        _row("events/s (wall clock)", messages / full["seconds"], "msg/s", f"{day}, wall clock"),
        _row("events/s (CPU time)", messages / full["cpu"], "msg/s", f"{day}, CPU time"),
        _row("whole replay", full["seconds"], "s", "wall clock of the whole replay"),
        _row("peak RSS", full["peak_rss_mb"], "MB", "VmHWM of the replay process, all included"),
        _row("CPU: Parquet decode", cpu["decode"], "s", "needed columns of every part to Arrow"),
        _row(
            "CPU: Arrow to event tuples",
            cpu["events"] - cpu["decode"],
            "s",
            "columns to Python lists, one event tuple per row (and freeing them)",
        ),
        _row("CPU: merge by seq", cpu["merge"] - cpu["events"], "s", "per-table streams merged"),
        _row(
            "CPU: dispatch + trackers",
            cpu["replay"] - cpu["merge"],
            "s",
            "dispatch and every built-in tracker (the rest of the replay)",
        ),
    ]


if __name__ == "__main__":
    for row in run(quick="--quick" in sys.argv):
        print(row)
