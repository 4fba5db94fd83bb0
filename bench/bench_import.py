"""Import benchmark: a generated mixed file of SSI envelopes through `vnrec import`
(file in, all tables written), then compaction; envelopes/s and bytes per message."""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

from vnrec.storage.compact import compact_day
from vnrec.storage.layout import Layout

DATE = "05/11/2026"
# Issue 12's goals, printed beside the figures.
GOAL = 400_000
ONE_CORE_GOAL = 200_000


def generate(path: Path, count: int, seed: int = 1) -> None:
    """A mixed day: ~40% 3-level HOSE quotes, ~20% 10-level quotes, ~33% trades, foreign
    and index, with a share of SSI quirks (numeric strings, "NaN", FBuyVol)."""
    rng = random.Random(seed)
    symbols = [f"S{i:03d}" for i in range(400)]
    prices = {s: float(rng.randrange(100, 1000) * 100) for s in symbols}
    totals = dict.fromkeys(symbols, 0)
    with open(path, "wb") as out:
        for i in range(count):
            symbol = symbols[rng.randrange(len(symbols))]
            price = prices[symbol]
            # Event times advance through 09:00-15:00 as in a real stream.
            second = 9 * 3600 + i * 6 * 3600 // count
            clock = f"{second // 3600:02d}:{second // 60 % 60:02d}:{second % 60:02d}"
            kind = rng.random()
            if kind < 0.6:
                levels = 3 if kind < 0.4 else 10
                content: dict[str, object] = {
                    "RType": "X-QUOTE", "TradingDate": DATE, "Time": clock, "Symbol": symbol,
                    "Exchange": "HOSE" if levels == 3 else "HNX", "TradingSession": "LO",
                }  # fmt: skip
                for level in range(1, levels + 1):
                    content[f"BidPrice{level}"] = price - 100 * level
                    content[f"BidVol{level}"] = float(rng.randrange(1, 500) * 100)
                    content[f"AskPrice{level}"] = price + 100 * (level - 1)
                    content[f"AskVol{level}"] = float(rng.randrange(1, 500) * 100)
                data_type = "X-QUOTE"
            elif kind < 0.93:
                volume = rng.randrange(1, 50) * 100
                totals[symbol] += volume
                content = {
                    "RType": "X-TRADE", "TradingDate": DATE, "Time": clock, "Isin": symbol,
                    "Symbol": symbol, "Ceiling": price * 1.07, "Floor": price * 0.93,
                    "RefPrice": price, "AvgPrice": "NaN" if i % 50 == 0 else price,
                    "LastPrice": price, "LastVol": str(volume) if i % 7 == 0 else float(volume),
                    "TotalVol": float(totals[symbol]), "TotalVal": float(totals[symbol] * price),
                    "MarketId": "HOSE", "Exchange": "HOSE", "TradingSession": "LO",
                    "TradingStatus": "N", "Side": rng.choice(("BU", "SD", None)),
                }  # fmt: skip
                data_type = "X-TRADE"
                prices[symbol] = price + rng.choice((-100.0, 0.0, 100.0))
            elif kind < 0.98:
                p = "F" if i % 2 else ""
                content = {
                    "RType": "R", "TradingDate": DATE, "Time": clock, "Symbol": symbol,
                    "TotalRoom": 1e9, "CurrentRoom": 5e8, f"{p}BuyVol": float(i),
                    f"{p}SellVol": float(i // 2), f"{p}BuyVal": i * price, f"{p}SellVal": 0.0,
                }  # fmt: skip
                data_type = "R"
            else:
                content = {
                    "IndexId": "VN30", "IndexValue": 1900.0 + i % 100 / 10, "TradingDate": DATE,
                    "Time": clock, "PriorIndexValue": 1890.0, "Change": 10.0, "Advances": 19,
                    "Declines": 8, "NoChanges": 3, "TotalQtty": float(i), "RType": "MI",
                }  # fmt: skip
                data_type = "MI"
            envelope = {"DataType": data_type, "Content": orjson.dumps(content).decode()}
            out.write(orjson.dumps(envelope) + b"\n")


def _one_core() -> None:
    # Pinning the child to one CPU measures the one-core figure honestly: every thread of
    # the import (reader, decoder, writer, hasher) then shares that core.
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})


def _import_seconds(source: Path, root: Path, cores: int) -> tuple[float, int]:
    """Wall-clock seconds of one `vnrec import` and its peak RSS in MB."""
    command = [
        sys.executable, "-c",
        "import resource, sys\n"
        "from vnrec.cli.main import run\n"
        "try:\n    run()\n"
        "finally:\n"
        "    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)",
        "import", str(source), "--data", str(root),
    ]  # fmt: skip
    start = time.perf_counter()
    done = subprocess.run(
        command, check=False, capture_output=True, preexec_fn=_one_core if cores == 1 else None
    )
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"vnrec import failed: {done.stderr.decode()[-500:]}")
    peak_kib = int(done.stderr.decode().strip().splitlines()[-1])
    return seconds, peak_kib // 1024


def _bytes(layout: Layout, tables: tuple[str, ...]) -> int:
    return sum(
        p.path.stat().st_size for t in tables for d in layout.days(t) for p in layout.parts(t, d)
    )


def run(quick: bool) -> list[dict[str, object]]:
    count = 20_000 if quick else 3_000_000
    repeats = 1 if quick else 3
    work = Path(tempfile.mkdtemp(prefix="vnrec-bench-import-"))
    try:
        source = work / "envelopes.jsonl"
        generate(source, count)
        results: list[dict[str, object]] = []
        layout = Layout(work / "data")
        cores_here = len(os.sched_getaffinity(0))
        for cores, goal in ((1, ONE_CORE_GOAL), (cores_here, GOAL)):
            timings, peaks = [], []
            for _ in range(repeats):
                shutil.rmtree(work / "data", ignore_errors=True)
                seconds, peak = _import_seconds(source, work / "data", cores)
                timings.append(seconds)
                peaks.append(peak)
            rates = sorted(count / t for t in timings)
            label = "1 core" if cores == 1 else "all cores"
            results.append(
                {
                    "benchmark": "import",
                    "metric": f"envelopes/s ({label})",
                    "value": rates[len(rates) // 2],
                    "unit": "envelopes/s",
                    "note": f"{count:,} envelopes on {cores} core{'s' if cores > 1 else ''},"
                    " `vnrec import` file in to all tables written;"
                    f" goal >= {goal:,}; median of {repeats}, range {rates[0]:,.0f}-"
                    f"{rates[-1]:,.0f}; peak RSS {max(peaks):,} MB",
                }
            )
        days = layout.days("raw")
        start = time.perf_counter()
        for day in days:
            compact_day(layout, day)
        compaction = time.perf_counter() - start
        normalized = ("trades", "quotes", "foreign", "index", "bars", "status", "oddlot")
        results += [
            {
                "benchmark": "import",
                "metric": "normalized bytes/message (compacted)",
                "value": _bytes(layout, normalized) / count,
                "unit": "bytes",
                "note": "all normalized tables of the day, zstd, one file per table; goal <= 25",
            },
            {
                "benchmark": "import",
                "metric": "raw bytes/message (compacted)",
                "value": _bytes(layout, ("raw",)) / count,
                "unit": "bytes",
                "note": f"source JSON is {source.stat().st_size / count:,.0f} bytes/message",
            },
            {
                "benchmark": "compaction",
                "metric": "compact one day",
                "value": compaction,
                "unit": "s",
                "note": f"{count:,} messages in {len(days)} day(s), all tables",
            },
        ]
        return results
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    for row in run(quick="--quick" in sys.argv):
        print(row)
