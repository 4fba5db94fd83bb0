"""Benchmark of `vnrec replay`: a generated 3,000,000-event day through every tracker.

The day is generated directly as Parquet parts (storage schemas, the real layout, parts of
200,000 seqs like a recorder's day before compaction), deterministically with numpy:
2,000,000 quotes, 1,000,000 trades (stocks, `X` snapshots and two VN30 futures), foreign
room and index ticks, seq interleaved at random. `raw` rows carry an empty-object `content`
(`{}`): replay reads raw's `seq`/`data_type` only, and its content only for unknown types.

Each measurement runs in its own subprocess, so peak RSS (VmHWM) is that of one replay and
not of the generator; each is run three times and reported as the median with its range,
beside its goal: `replay()` of the built-in trackers (the columnar path), the same with a
user tracker of every event (the per-event path), the whole `vnrec replay --format json`
command, and one-day `vnrec stats` before and after `vnrec compact` stores the day's stats.
"""

from __future__ import annotations

import datetime as dt
import json
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
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
# A day too small to take measurable time: the whole command on it is the fixed cost of
# every `vnrec replay` (Python, imports, argument parsing, output, exit).
TINY = Sizes(quotes=60, trades=30, foreign=6, index=4)

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


# One measurement per subprocess (so peak RSS is that of one replay), with the Arrow
# allocator settings of `vnrec replay`. `replay`: the built-in trackers only (the columnar path);
# `tracker`: plus a user tracker receiving every event (the per-event path).
_STAGE = textwrap.dedent(
    """
    import os
    os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "jemalloc")
    from vnrec.cli.memory import return_freed_arrow_pages
    return_freed_arrow_pages()
    import json, sys, time
    from pathlib import Path
    import datetime as dt
    from vnrec.replay import replay
    stage, root, day = sys.argv[1], Path(sys.argv[2]), dt.date.fromisoformat(sys.argv[3])

    class Everything:
        def __init__(self):
            self.events = 0

        def on_event(self, event):
            self.events += 1

    trackers = [Everything()] if stage == "tracker" else []
    started = time.perf_counter()
    cpu_started = time.process_time()
    events = replay(day, data=root, trackers=trackers).events
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    # VmHWM, not ru_maxrss: Linux carries the parent's peak into ru_maxrss across exec.
    status = Path("/proc/self/status").read_text().splitlines()
    peak_kb = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
    result = {"seconds": elapsed, "cpu": cpu, "events": events, "peak_rss_mb": peak_kb / 1024}
    print(json.dumps(result))
    """
)
RUNS = 3
REPLAY_GOAL = 5_000_000
RSS_GOAL_MB = 250
STATS_GOAL_S = 0.5


def _run_stage(stage: str, root: Path) -> dict[str, float]:
    completed = subprocess.run(
        [sys.executable, "-c", _STAGE, stage, str(root), DAY.isoformat()],
        check=True,
        capture_output=True,
        text=True,
    )
    result: dict[str, float] = json.loads(completed.stdout)
    return result


# The CLI as its entry point runs it (`main()`, which skips the interpreter's teardown and
# runs the exit handlers), printing the process's peak RSS (VmHWM) from an exit handler.
_CLI = textwrap.dedent(
    """
    import atexit, sys
    from pathlib import Path
    def peak():
        status = Path("/proc/self/status").read_text().splitlines()
        kb = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
        print(f"peak-kb {kb}", file=sys.stderr)
    atexit.register(peak)
    sys.argv[0] = "vnrec"
    from vnrec.cli.main import main
    main()
    """
)


def _command(*args: str) -> tuple[float, float]:
    """Wall-clock seconds of one `vnrec` command, start to exit, and its peak RSS in MB."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", _CLI, *args],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    seconds = time.perf_counter() - started
    peak_kb = int(done.stderr.strip().splitlines()[-1].removeprefix("peak-kb "))
    return seconds, peak_kb / 1024


def spread(values: list[float], fmt: str = "{:,.0f}") -> str:
    return f"median of {len(values)}, range {fmt.format(min(values))}-{fmt.format(max(values))}"


def _row(metric: str, value: float, unit: str, note: str) -> dict[str, Any]:
    return {"benchmark": "replay", "metric": metric, "value": value, "unit": unit, "note": note}


def run(quick: bool) -> list[dict[str, Any]]:
    sizes = QUICK if quick else FULL
    runs = 1 if quick else RUNS
    with tempfile.TemporaryDirectory(prefix="vnrec-bench-replay-") as tmp:
        root = Path(tmp) / "data"
        messages = generate_day(root, sizes)
        tiny = Path(tmp) / "tiny"
        generate_day(tiny, TINY)
        replays = [_run_stage("replay", root) for _ in range(runs)]
        trackers = [_run_stage("tracker", root) for _ in range(runs)]
        day = DAY.isoformat()
        command = [
            _command("replay", "--date", day, "--data", str(root), "--format", "json")
            for _ in range(runs)
        ]
        fixed = [
            _command("replay", "--date", day, "--data", str(tiny), "--format", "json")[0]
            for _ in range(runs)
        ]
        uncached = [
            _command("stats", "--date", day, "--data", str(root), "--format", "json")[0]
            for _ in range(runs)
        ]
        _command("compact", "--date", day, "--data", str(root))
        cached = [
            _command("stats", "--date", day, "--data", str(root), "--format", "json")[0]
            for _ in range(runs)
        ]
    described = (
        f"{messages:,} messages ({sizes.quotes:,} quotes, {sizes.trades:,} trades,"
        f" {sizes.foreign:,} foreign, {sizes.index:,} index)"
    )
    rates = [messages / r["seconds"] for r in replays]
    per_event = [messages / r["seconds"] for r in trackers]
    command_rates = [messages / seconds for seconds, _ in command]
    command_peaks = [peak for _, peak in command]
    peaks = [r["peak_rss_mb"] for r in replays]
    return [
        _row(
            "events/s (wall clock)",
            statistics.median(rates),
            "msg/s",
            f"{described}; replay() of every built-in tracker, columnar path; goal"
            f" >= {REPLAY_GOAL:,}; {spread(rates)}",
        ),
        _row(
            "ns/event (CPU time)",
            statistics.median(r["cpu"] for r in replays) / messages * 1e9,
            "ns",
            "CPU time of the replay (both cores count)",
        ),
        _row(
            "peak RSS",
            statistics.median(peaks),
            "MB",
            f"VmHWM of the replay process, all included; goal <= {RSS_GOAL_MB}; {spread(peaks)}",
        ),
        _row(
            "`vnrec replay --format json` events/s",
            statistics.median(command_rates),
            "msg/s",
            f"the whole command, start (imports) and exit included; goal >= {REPLAY_GOAL:,};"
            f" {spread(command_rates)}",
        ),
        _row(
            "`vnrec replay --format json` start and exit",
            statistics.median(fixed),
            "s",
            f"the whole command on a day of {sum(vars(TINY).values())} messages: what every"
            f" replay command costs besides its events (Python, imports, arguments, output);"
            f" {spread(fixed, '{:.3f}')}",
        ),
        _row(
            "`vnrec replay --format json` peak RSS",
            statistics.median(command_peaks),
            "MB",
            f"VmHWM of the whole command; goal <= {RSS_GOAL_MB}; {spread(command_peaks)}",
        ),
        _row(
            "events/s with a user tracker of every event",
            statistics.median(per_event),
            "msg/s",
            f"the per-event path: every event built as a tuple and delivered; {spread(per_event)}",
        ),
        _row(
            "one-day `vnrec stats`, compacted day",
            statistics.median(cached),
            "s",
            f"whole command, from the stats stored at compaction; goal <= {STATS_GOAL_S};"
            f" {spread(cached, '{:.3f}')}",
        ),
        _row(
            "one-day `vnrec stats`, computed",
            statistics.median(uncached),
            "s",
            f"whole command, DuckDB SQL over the parts (a day not compacted);"
            f" {spread(uncached, '{:.3f}')}",
        ),
    ]
