"""Scaling: replay and one-day DuckDB stats at 1M, 3M and 10M events per day.

A day of each size comes from the generators of `bench_replay` (replay: parts of 200,000
seqs, every tracker) and `bench_analytics` (stats: one compacted part per table), in the
same proportions as their full days (2 quotes : 1 trade, plus foreign room and index ticks).
One size at a time is generated, measured and deleted, so the disk holds at most one
day of each kind (the 10M day is several hundred MB of Parquet).

Reported per size: replay events/s and ns per event (wall and CPU), the replay process's
peak RSS (VmHWM, its own subprocess), and the stats query's median seconds and ns per
event. Flat ns per event and a peak RSS that does not grow with the day are the claims.
"""

from __future__ import annotations

import datetime as dt
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench import bench_analytics, bench_replay
from vnrec.analytics import connect
from vnrec.analytics.reports import session_stats
from vnrec.storage.layout import Layout

FULL_EVENTS = (1_000_000, 3_000_000, 10_000_000)
QUICK_EVENTS = (100_000, 300_000)
STATS_RUNS = 3
STATS_DAY = dt.date(2026, 1, 5)  # a trading day: the analytics generator files under it


def replay_sizes(events: int) -> bench_replay.Sizes:
    """`events` split like bench_replay's full day (2M : 1M : 20k : 10k)."""
    full = bench_replay.FULL
    total = full.quotes + full.trades + full.foreign + full.index
    foreign = events * full.foreign // total
    index = events * full.index // total
    trades = events * full.trades // total
    return bench_replay.Sizes(
        quotes=events - trades - foreign - index, trades=trades, foreign=foreign, index=index
    )


def stats_sizes(events: int) -> bench_analytics.Sizes:
    """`events` split like one of bench_analytics' full days (2M : 1M : 20k : 40k)."""
    full = bench_analytics.FULL
    total = full.quotes + full.trades + full.index_ticks + full.futures_trades
    index = events * full.index_ticks // total
    futures = events * full.futures_trades // total
    trades = events * full.trades // total
    return bench_analytics.Sizes(
        days=1,
        quotes=events - trades - index - futures,
        trades=trades,
        index_ticks=index,
        futures_trades=futures,
        runs=STATS_RUNS,
    )


def _replay(events: int, work: Path) -> dict[str, float]:
    root = work / "replay"
    try:
        messages = bench_replay.generate_day(root, replay_sizes(events))
        # One run per size: the 10M day takes long enough that a second run would double the
        # benchmark for little; CPU time (below) is the figure that resists a shared machine.
        result = bench_replay._run_stage("replay", root)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    assert result["events"] == messages, (result, messages)
    return result


def _stats(events: int, work: Path) -> float:
    root = work / "stats"
    try:
        sizes = stats_sizes(events)
        rng = np.random.default_rng(bench_analytics.SEED)
        bench_analytics.generate_day(Layout(root), STATS_DAY, sizes, rng)
        con = connect(root, threads=bench_analytics.THREADS)
        try:
            timings = []
            for _ in range(sizes.runs):
                start = time.perf_counter()
                session_stats(con, STATS_DAY)
                timings.append(time.perf_counter() - start)
        finally:
            con.close()
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return statistics.median(timings)


def _row(metric: str, value: float, unit: str, note: str) -> dict[str, Any]:
    return {"benchmark": "scaling", "metric": metric, "value": value, "unit": unit, "note": note}


def run(quick: bool) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for events in QUICK_EVENTS if quick else FULL_EVENTS:
        label = f"{events / 1e6:g}M"
        with tempfile.TemporaryDirectory(prefix="vnrec-bench-scaling-") as tmp:
            replay = _replay(events, Path(tmp))
            stats_s = _stats(events, Path(tmp))
        rows += [
            _row(
                f"replay {label} events/s",
                events / replay["seconds"],
                "msg/s",
                f"wall clock, every tracker; {replay['seconds']:.1f} s",
            ),
            _row(f"replay {label} ns/event", replay["seconds"] / events * 1e9, "ns", "wall clock"),
            _row(
                f"replay {label} CPU ns/event",
                replay["cpu"] / events * 1e9,
                "ns",
                "CPU time of the replay process (steadier than wall clock on a shared machine)",
            ),
            _row(
                f"replay {label} peak RSS",
                replay["peak_rss_mb"],
                "MB",
                "VmHWM of the replay subprocess",
            ),
            _row(
                f"stats {label} seconds",
                stats_s,
                "s",
                f"one-day session_stats, {bench_analytics.THREADS} DuckDB threads,"
                f" median of {STATS_RUNS}",
            ),
            _row(
                f"stats {label} ns/event", stats_s / events * 1e9, "ns", "median seconds / events"
            ),
        ]
    return rows


if __name__ == "__main__":
    import sys

    for result in run(quick="--quick" in sys.argv):
        print(result)
