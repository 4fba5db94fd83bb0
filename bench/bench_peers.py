"""Peers: NautilusTrader (in its own virtualenv, see below) on the same generated day as vnrec.

The day is `bench_replay`'s generator with quotes and trades only (full: 2,000,000 quotes
and 1,000,000 trades; quick: 66,000 and 33,000). Both sides start from its Parquet parts.

(a) Writing. NautilusTrader: the day's rows as `QuoteTick`/`TradeTick` objects (built
    per instrument with `from_raw_arrays_to_list`, timed apart), then
    `ParquetDataCatalog.write_data`. vnrec: the same rows as Arrow batches of 200,000 seqs
    through `DayWriter.write` and `commit` (quotes, trades and raw per batch, each part fsynced and
    renamed). Rows/s counts quotes + trades on both sides.
(b) Replay. NautilusTrader: `BacktestEngine` with a Python `Actor` subscribed to every
    instrument's quotes and trades, classifying each trade by SPEC section 4's rule (at or
    above ask1 buy, at or below bid1 sell, else neutral; auction trades neutral). vnrec:
    `replay()` with a tracker doing the same classification, on top of every built-in
    tracker (session stats, foreign, index, basis), so vnrec does strictly more work. Both
    classifiers' buy/sell/neutral counts are compared and the result is in the note.

Mapping onto Nautilus's model, where it has no field for an SSI one: every symbol is an
`Equity` on venue `HOSE` (futures too, price precision 1); `TradeTick` has no session, so
an ATO/ATC trade is given `AggressorSide.NO_AGGRESSOR` and the wire `Side` otherwise;
`ts_init` = event time + seq nanoseconds, so Nautilus's time order is vnrec's seq order.

Each side runs in its own subprocess; peak RSS is its VmHWM. NautilusTrader 1.221 pins
versions that vnrec's constraints.txt excludes (fsspec < 2026), so its side
(bench/peer_nautilus.py) runs on the interpreter of .venv-peers, which `make bench` builds
from constraints-peers.txt ($VNREC_PEERS_PYTHON names another). Without one, one row with
value NaN says so.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from bench import bench_replay
from bench.bench_replay import spread
from bench.peer_nautilus import peak_rss_mb
from vnrec.storage.layout import Layout

ROOT = Path(__file__).resolve().parent.parent
FULL = bench_replay.Sizes(quotes=2_000_000, trades=1_000_000, foreign=0, index=0)
QUICK = bench_replay.Sizes(quotes=66_000, trades=33_000, foreign=0, index=0)
RUNS = 3
PEERS_PYTHON = ROOT / ".venv-peers" / "bin" / "python"
SKIP_NOTE = "skipped: no .venv-peers (`make bench` builds it) and no $VNREC_PEERS_PYTHON"
VENUE = "HOSE"
AUCTIONS = ("ATO", "ATC")


# -- vnrec side (subprocesses) ---------------------------------------------------------------


def _vnrec_write_child(root: Path, work: Path) -> dict[str, Any]:
    """The generated day's parts re-committed through vnrec's writer into a fresh root."""
    from vnrec.storage.commits import OP_IMPORT
    from vnrec.storage.day import open_day
    from vnrec.storage.normalize import BatchTables

    source = Layout(root)
    tables = ("quotes", "trades", "raw")
    parts = {t: source.parts(t, bench_replay.DAY) for t in tables}
    batches = [
        BatchTables(
            bench_replay.DAY,
            raw.first_seq,
            raw.last_seq,
            {
                t: pq.read_table(p.path)
                for t in tables
                for p in parts[t]
                if (p.first_seq, p.last_seq) == (raw.first_seq, raw.last_seq)
            },
        )
        for raw in parts["raw"]
    ]
    started = time.perf_counter()
    with open_day(Layout(work / "vnrec-write"), bench_replay.DAY) as writer:
        for batch in batches:
            writer.commit(OP_IMPORT, writer.write(batch))
    write_s = time.perf_counter() - started
    rows = sum(b.tables[t].num_rows for b in batches for t in ("quotes", "trades") if t in b.tables)
    written = sum(p.stat().st_size for p in (work / "vnrec-write").rglob("*.parquet"))
    return {"rows": rows, "write_s": write_s, "bytes": written, "peak_rss_mb": peak_rss_mb()}


class _VnrecClassifier:
    """The same rule as the Nautilus actor, as a vnrec tracker."""

    def __init__(self) -> None:
        from vnrec.events import QuoteEvent, TradeEvent

        self.event_types = (QuoteEvent, TradeEvent)
        self._quote = QuoteEvent
        self.book: dict[str | None, tuple[float, float]] = {}
        self.counts = {"buy": 0, "sell": 0, "neutral": 0}

    def on_event(self, event: Any) -> None:
        if type(event) is self._quote:
            self.book[event.symbol] = (event.bid1, event.ask1)
            return
        bid1, ask1 = self.book.get(event.symbol, (0.0, 0.0))
        price = event.price
        if event.session in AUCTIONS:
            self.counts["neutral"] += 1
        elif ask1 > 0 and price >= ask1:
            self.counts["buy"] += 1
        elif bid1 > 0 and price <= bid1:
            self.counts["sell"] += 1
        else:
            self.counts["neutral"] += 1


def _vnrec_replay_child(root: Path, work: Path) -> dict[str, Any]:
    from vnrec.replay import replay

    del work  # replay writes nothing
    tracker = _VnrecClassifier()
    started = time.perf_counter()
    cpu_started = time.process_time()
    events = replay(bench_replay.DAY, data=root, trackers=[tracker]).events
    return {
        "events": events,
        "run_s": time.perf_counter() - started,
        "run_cpu": time.process_time() - cpu_started,
        "counts": tracker.counts,
        "peak_rss_mb": peak_rss_mb(),
    }


CHILDREN = {
    "vnrec-write": _vnrec_write_child,
    "vnrec-replay": _vnrec_replay_child,
}


def _spawn(which: str, root: Path, work: Path) -> dict[str, Any]:
    return _child(
        [sys.executable, "-m", "bench.bench_peers", "--child", which, str(root)], work / which
    )


def _spawn_nautilus(python: Path, root: Path, work: Path) -> dict[str, Any]:
    layout = Layout(root)
    spec = {
        table: [str(part.path) for part in layout.parts(table, bench_replay.DAY)]
        for table in ("quotes", "trades")
    }
    spec |= {"futures": list(bench_replay.FUTURES), "venue": VENUE, "auctions": list(AUCTIONS)}
    script = ROOT / "bench" / "peer_nautilus.py"
    return _child([str(python), str(script), json.dumps(spec)], work / "nautilus")


def _child(command: list[str], out: Path) -> dict[str, Any]:
    """Runs `command OUT`; its last line of output is its figures as JSON."""
    out.mkdir()
    try:
        completed = subprocess.run(
            [*command, str(out)], capture_output=True, text=True, cwd=ROOT, check=False
        )
    finally:
        shutil.rmtree(out, ignore_errors=True)
    if completed.returncode != 0:
        tail = completed.stderr.strip().splitlines()[-1:] or ["no output"]
        raise RuntimeError(f"{command[1]} exited {completed.returncode}: {tail[0]}")
    result: dict[str, Any] = json.loads(completed.stdout.splitlines()[-1])
    return result


def _peers_python() -> Path | None:
    named = os.environ.get("VNREC_PEERS_PYTHON")
    python = Path(named) if named else PEERS_PYTHON
    return python if python.exists() else None


def _row(metric: str, value: float, unit: str, note: str) -> dict[str, Any]:
    return {"benchmark": "peers", "metric": metric, "value": value, "unit": unit, "note": note}


def _median(values: list[float]) -> float:
    return statistics.median(values)


def run(quick: bool) -> list[dict[str, Any]]:
    python = _peers_python()
    if python is None:
        return [_row("nautilus_trader", math.nan, "", SKIP_NOTE)]
    sizes = QUICK if quick else FULL
    rows = sizes.quotes + sizes.trades
    peers: list[dict[str, Any]] = []
    writes: list[dict[str, Any]] = []
    plays: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="vnrec-bench-peers-") as tmp:
        work = Path(tmp)
        root = work / "data"
        events = bench_replay.generate_day(root, sizes)
        # Rounds interleave the sides, so each ratio compares runs minutes apart at most.
        for _ in range(RUNS):
            peers.append(_spawn_nautilus(python, root, work))
            writes.append(_spawn("vnrec-write", root, work))
            plays.append(_spawn("vnrec-replay", root, work))
    for peer, write, play in zip(peers, writes, plays, strict=True):
        assert peer["rows"] == write["rows"] == play["events"] == events == rows
    nt = f"NautilusTrader {peers[0]['version']}"
    day = f"{sizes.quotes:,} quotes + {sizes.trades:,} trades"
    peer_write = [rows / p["write_s"] for p in peers]
    vnrec_write = [rows / w["write_s"] for w in writes]
    peer_replay = [rows / p["run_s"] for p in peers]
    vnrec_replay = [rows / p["run_s"] for p in plays]
    write_ratio = [v / n for v, n in zip(vnrec_write, peer_write, strict=True)]
    replay_ratio = [v / n for v, n in zip(vnrec_replay, peer_replay, strict=True)]
    agree = (
        "agree in every run"
        if all(p["counts"] == q["counts"] for p, q in zip(peers, plays, strict=True))
        else "DIFFER"
    )
    counts = ", ".join(f"{k} {v:,}" for k, v in plays[0]["counts"].items())
    build_s = _median([p["build_s"] for p in peers])
    return [
        _row(
            "nautilus write_data rows/s",
            _median(peer_write),
            "rows/s",
            f"{nt}, ParquetDataCatalog.write_data, {day};"
            f" objects built before, in {build_s:.1f} s ({rows / build_s:,.0f} rows/s);"
            f" {peers[0]['catalog_bytes'] / rows:.0f} B/row; {spread(peer_write)}",
        ),
        _row(
            "vnrec write rows/s",
            _median(vnrec_write),
            "rows/s",
            "DayWriter.write + commit of the same rows (+ raw), batches of"
            f" {bench_replay.PART_SEQS:,}, fsync per part;"
            f" {writes[0]['bytes'] / rows:.0f} B/row; {spread(vnrec_write)}",
        ),
        _row(
            "vnrec/nautilus write",
            _median(write_ratio),
            "x",
            f"rows/s ratio of the same round; {spread(write_ratio, '{:.2f}')}",
        ),
        _row(
            "nautilus backtest events/s",
            _median(peer_replay),
            "msg/s",
            f"BacktestEngine.run with a Python Actor classifying trades, {day};"
            f" add_data (sort) {_median([p['add_data_s'] for p in peers]):.1f} s not counted;"
            f" CPU {_median([p['run_cpu'] for p in peers]) / rows * 1e9:,.0f} ns/event;"
            f" {spread(peer_replay)}",
        ),
        _row(
            "vnrec replay events/s",
            _median(vnrec_replay),
            "msg/s",
            "replay() with the same classifier as a tracker, plus every built-in tracker;"
            f" CPU {_median([p['run_cpu'] for p in plays]) / rows * 1e9:,.0f} ns/event;"
            f" {spread(vnrec_replay)}",
        ),
        _row(
            "vnrec/nautilus replay",
            _median(replay_ratio),
            "x",
            f"events/s ratio of the same round; {spread(replay_ratio, '{:.2f}')};"
            f" classifications {agree} ({counts})",
        ),
        _row(
            "nautilus peak RSS",
            _median([p["peak_rss_mb"] for p in peers]),
            "MB",
            "VmHWM of the Nautilus process (objects, catalog write, backtest);"
            f" {spread([p['peak_rss_mb'] for p in peers])}",
        ),
        _row(
            "vnrec replay peak RSS",
            _median([p["peak_rss_mb"] for p in plays]),
            "MB",
            f"VmHWM of the replay process; {spread([p['peak_rss_mb'] for p in plays])}",
        ),
    ]


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--child":
        result = CHILDREN[sys.argv[2]](Path(sys.argv[3]), Path(sys.argv[4]))
        print(json.dumps(result))
    else:
        for line in run(quick="--quick" in sys.argv):
            print(line)
