"""Peers: NautilusTrader (optional extra `vnrec[peers]`) on the same generated day as vnrec.

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

Each side runs in its own subprocess; peak RSS is its VmHWM. If `nautilus_trader` is not
importable, one row with value NaN says how to install it.
"""

from __future__ import annotations

import importlib.util
import json
import math
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from bench import bench_replay
from vnrec.storage.layout import Layout

ROOT = Path(__file__).resolve().parent.parent
FULL = bench_replay.Sizes(quotes=2_000_000, trades=1_000_000, foreign=0, index=0)
QUICK = bench_replay.Sizes(quotes=66_000, trades=33_000, foreign=0, index=0)
SKIP_NOTE = "skipped: pip install 'vnrec[peers]'"
VENUE = "HOSE"
AUCTIONS = ("ATO", "ATC")


def _peak_rss_mb() -> float:
    # VmHWM, not ru_maxrss: Linux carries the parent's peak into ru_maxrss across exec.
    status = Path("/proc/self/status").read_text().splitlines()
    return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) / 1024


def _read(root: Path, table: str, columns: list[str]) -> pa.Table:
    parts = Layout(root).parts(table, bench_replay.DAY)
    return pa.concat_tables(pq.read_table(p.path, columns=columns) for p in parts)


def _by_symbol(table: pa.Table) -> dict[str, np.ndarray[Any, Any]]:
    """Row numbers of each symbol, in seq order: one stable sort, not a scan per symbol."""
    encoded = table.column("symbol").combine_chunks().dictionary_encode()
    codes = encoded.indices.to_numpy()
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(len(encoded.dictionary) + 1))
    return {
        symbol: order[bounds[i] : bounds[i + 1]]
        for i, symbol in enumerate(encoded.dictionary.to_pylist())
    }


# -- NautilusTrader side (subprocess) --------------------------------------------------------


def _nautilus_objects(root: Path) -> tuple[list[Any], list[Any], list[Any]]:
    """Instruments, quote ticks and trade ticks of the day, per instrument in seq order."""
    from nautilus_trader.model.data import QuoteTick, TradeTick
    from nautilus_trader.model.enums import AggressorSide, CurrencyType
    from nautilus_trader.model.identifiers import InstrumentId, Symbol, Venue
    from nautilus_trader.model.instruments import Equity
    from nautilus_trader.model.objects import Currency, Price, Quantity

    vnd = Currency("VND", 0, 704, "Vietnamese dong", CurrencyType.FIAT)
    Currency.register(vnd)  # not among Nautilus's built-in currencies
    quotes = _read(
        root,
        "quotes",
        ["seq", "event_ts", "symbol", "bid_price1", "ask_price1", "bid_vol1", "ask_vol1"],
    )
    trades = _read(
        root,
        "trades",
        ["seq", "event_ts", "symbol", "last_price", "last_vol", "trading_session", "side"],
    )

    def ts_init(table: pa.Table) -> np.ndarray[Any, Any]:
        event_ns = table.column("event_ts").cast(pa.int64()).to_numpy() * 1000
        stamps: np.ndarray[Any, Any] = (event_ns + table.column("seq").to_numpy()).astype(np.uint64)
        return stamps

    q_ts, t_ts = ts_init(quotes), ts_init(trades)
    q_rows, t_rows = _by_symbol(quotes), _by_symbol(trades)
    empty = np.empty(0, dtype=np.int64)
    sessions = trades.column("trading_session").to_numpy(zero_copy_only=False)
    wire_side = trades.column("side").to_numpy(zero_copy_only=False)
    aggressor = np.where(
        np.isin(sessions, AUCTIONS),
        AggressorSide.NO_AGGRESSOR,
        np.where(wire_side == "BU", AggressorSide.BUYER, AggressorSide.SELLER),
    ).astype(np.uint8)
    trade_ids = trades.column("seq").to_numpy().astype(str)

    def floats(table: pa.Table, name: str, rows: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        return np.ascontiguousarray(table.column(name).to_numpy()[rows], dtype=np.float64)

    instruments: list[Any] = []
    quote_ticks: list[Any] = []
    trade_ticks: list[Any] = []
    for symbol in sorted(q_rows.keys() | t_rows.keys()):
        instrument_id = InstrumentId(Symbol(symbol), Venue(VENUE))
        precision = 1 if symbol in bench_replay.FUTURES else 0
        instruments.append(
            Equity(
                instrument_id,
                Symbol(symbol),
                vnd,
                precision,
                Price(10.0**-precision, precision),
                Quantity.from_int(1),
                0,
                0,
            )
        )
        q = q_rows.get(symbol, empty)
        quote_ticks += QuoteTick.from_raw_arrays_to_list(
            instrument_id,
            precision,
            0,
            floats(quotes, "bid_price1", q),
            floats(quotes, "ask_price1", q),
            floats(quotes, "bid_vol1", q),
            floats(quotes, "ask_vol1", q),
            q_ts[q],
            q_ts[q],
        )
        t = t_rows.get(symbol, empty)
        trade_ticks += TradeTick.from_raw_arrays_to_list(
            instrument_id,
            precision,
            0,
            floats(trades, "last_price", t),
            floats(trades, "last_vol", t),
            aggressor[t],
            trade_ids[t].tolist(),
            t_ts[t],
            t_ts[t],
        )
    return instruments, quote_ticks, trade_ticks


def _nautilus_classifier(instrument_ids: list[Any]) -> Any:
    from nautilus_trader.common.actor import Actor
    from nautilus_trader.model.enums import AggressorSide

    no_aggressor = AggressorSide.NO_AGGRESSOR

    class Classifier(Actor):  # type: ignore[misc]
        """SPEC section 4's classification against the last quote of the instrument."""

        def __init__(self) -> None:
            super().__init__()
            self.book: dict[Any, tuple[float, float]] = {}
            self.counts = {"buy": 0, "sell": 0, "neutral": 0}

        def on_start(self) -> None:
            for instrument_id in instrument_ids:
                self.subscribe_quote_ticks(instrument_id)
                self.subscribe_trade_ticks(instrument_id)

        def on_quote_tick(self, tick: Any) -> None:
            self.book[tick.instrument_id] = (tick.bid_price.as_double(), tick.ask_price.as_double())

        def on_trade_tick(self, tick: Any) -> None:
            bid1, ask1 = self.book.get(tick.instrument_id, (0.0, 0.0))
            price = tick.price.as_double()
            if tick.aggressor_side == no_aggressor:
                self.counts["neutral"] += 1
            elif ask1 > 0 and price >= ask1:
                self.counts["buy"] += 1
            elif bid1 > 0 and price <= bid1:
                self.counts["sell"] += 1
            else:
                self.counts["neutral"] += 1

    return Classifier()


def _nautilus_child(root: Path, work: Path) -> dict[str, Any]:
    from nautilus_trader.backtest.engine import BacktestEngine, BacktestEngineConfig
    from nautilus_trader.config import LoggingConfig
    from nautilus_trader.model.enums import AccountType, OmsType
    from nautilus_trader.model.identifiers import Venue
    from nautilus_trader.model.objects import Currency, Money
    from nautilus_trader.persistence.catalog import ParquetDataCatalog

    started = time.perf_counter()
    instruments, quote_ticks, trade_ticks = _nautilus_objects(root)
    build_s = time.perf_counter() - started

    catalog = ParquetDataCatalog(work / "catalog")
    started = time.perf_counter()
    catalog.write_data(quote_ticks)
    catalog.write_data(trade_ticks)
    write_s = time.perf_counter() - started
    catalog_bytes = sum(p.stat().st_size for p in (work / "catalog").rglob("*.parquet"))

    engine = BacktestEngine(BacktestEngineConfig(logging=LoggingConfig(bypass_logging=True)))
    vnd = Currency.from_str("VND")
    engine.add_venue(
        venue=Venue(VENUE),
        oms_type=OmsType.NETTING,
        account_type=AccountType.CASH,
        base_currency=vnd,
        starting_balances=[Money(1_000_000_000, vnd)],
    )
    for instrument in instruments:
        engine.add_instrument(instrument)
    started = time.perf_counter()
    engine.add_data(quote_ticks)
    engine.add_data(trade_ticks)  # sorts the whole stream by ts_init, here and not in run()
    add_s = time.perf_counter() - started
    actor = _nautilus_classifier([i.id for i in instruments])
    engine.add_actor(actor)
    started = time.perf_counter()
    cpu_started = time.process_time()
    engine.run()
    run_s = time.perf_counter() - started
    run_cpu = time.process_time() - cpu_started
    counts = dict(actor.counts)
    engine.dispose()
    return {
        "rows": len(quote_ticks) + len(trade_ticks),
        "build_s": build_s,
        "write_s": write_s,
        "catalog_bytes": catalog_bytes,
        "add_data_s": add_s,
        "run_s": run_s,
        "run_cpu": run_cpu,
        "counts": counts,
        "peak_rss_mb": _peak_rss_mb(),
    }


# -- vnrec side (subprocesses) ---------------------------------------------------------------


def _vnrec_write_child(root: Path, work: Path) -> dict[str, Any]:
    """The generated day's parts re-committed through vnrec's writer into a fresh root."""
    from vnrec.storage.commits import OP_IMPORT
    from vnrec.storage.day import open_day
    from vnrec.storage.layout import Layout
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
    return {"rows": rows, "write_s": write_s, "bytes": written, "peak_rss_mb": _peak_rss_mb()}


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
        "peak_rss_mb": _peak_rss_mb(),
    }


CHILDREN = {
    "nautilus": _nautilus_child,
    "vnrec-write": _vnrec_write_child,
    "vnrec-replay": _vnrec_replay_child,
}


def _spawn(which: str, root: Path, work: Path) -> dict[str, Any]:
    out = work / which
    out.mkdir()
    try:
        completed = subprocess.run(
            [sys.executable, "-m", "bench.bench_peers", "--child", which, str(root), str(out)],
            check=True,
            capture_output=True,
            text=True,
            cwd=ROOT,
        )
    finally:
        shutil.rmtree(out, ignore_errors=True)
    result: dict[str, Any] = json.loads(completed.stdout.splitlines()[-1])
    return result


def _row(metric: str, value: float, unit: str, note: str) -> dict[str, Any]:
    return {"benchmark": "peers", "metric": metric, "value": value, "unit": unit, "note": note}


def run(quick: bool) -> list[dict[str, Any]]:
    if importlib.util.find_spec("nautilus_trader") is None:
        return [_row("nautilus_trader", math.nan, "", SKIP_NOTE)]
    from importlib.metadata import version

    sizes = QUICK if quick else FULL
    with tempfile.TemporaryDirectory(prefix="vnrec-bench-peers-") as tmp:
        work = Path(tmp)
        root = work / "data"
        events = bench_replay.generate_day(root, sizes)
        peer = _spawn("nautilus", root, work)
        write = _spawn("vnrec-write", root, work)
        play = _spawn("vnrec-replay", root, work)
    rows = sizes.quotes + sizes.trades
    assert peer["rows"] == write["rows"] == play["events"] == events == rows
    nt = f"NautilusTrader {version('nautilus_trader')}"
    day = f"{sizes.quotes:,} quotes + {sizes.trades:,} trades"
    peer_write = rows / peer["write_s"]
    vnrec_write = rows / write["write_s"]
    peer_replay = rows / peer["run_s"]
    vnrec_replay = rows / play["run_s"]
    agree = "agree" if peer["counts"] == play["counts"] else "DIFFER"
    counts = ", ".join(f"{k} {v:,}" for k, v in play["counts"].items())
    return [
        _row(
            "nautilus write_data rows/s",
            peer_write,
            "rows/s",
            f"{nt}, ParquetDataCatalog.write_data, {day};"
            f" objects built before, in {peer['build_s']:.1f} s"
            f" ({rows / peer['build_s']:,.0f} rows/s); {peer['catalog_bytes'] / rows:.0f} B/row",
        ),
        _row(
            "vnrec write rows/s",
            vnrec_write,
            "rows/s",
            "DayWriter.write + commit of the same rows (+ raw), batches of"
            f" {bench_replay.PART_SEQS:,},"
            f" fsync per part; {write['bytes'] / rows:.0f} B/row",
        ),
        _row("vnrec/nautilus write", vnrec_write / peer_write, "x", "rows/s ratio"),
        _row(
            "nautilus backtest events/s",
            peer_replay,
            "msg/s",
            f"BacktestEngine.run with a Python Actor classifying trades, {day};"
            f" add_data (sort) {peer['add_data_s']:.1f} s not counted;"
            f" CPU {peer['run_cpu'] / rows * 1e9:,.0f} ns/event",
        ),
        _row(
            "vnrec replay events/s",
            vnrec_replay,
            "msg/s",
            "replay() with the same classifier as a tracker, plus every built-in tracker;"
            f" CPU {play['run_cpu'] / rows * 1e9:,.0f} ns/event",
        ),
        _row(
            "vnrec/nautilus replay",
            vnrec_replay / peer_replay,
            "x",
            f"events/s ratio; classifications {agree} ({counts})",
        ),
        _row(
            "nautilus peak RSS",
            peer["peak_rss_mb"],
            "MB",
            "VmHWM of the Nautilus process (objects, catalog write, backtest)",
        ),
        _row("vnrec replay peak RSS", play["peak_rss_mb"], "MB", "VmHWM of the replay process"),
    ]


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--child":
        result = CHILDREN[sys.argv[2]](Path(sys.argv[3]), Path(sys.argv[4]))
        print(json.dumps(result))
    else:
        for line in run(quick="--quick" in sys.argv):
            print(line)
