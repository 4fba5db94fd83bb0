"""The NautilusTrader side of bench/bench_peers.py, run as a script by the interpreter of its
own virtualenv (.venv-peers, made by `make bench` from constraints-peers.txt): NautilusTrader
pins versions vnrec's own pins exclude, so the two never share an environment. It imports
only numpy, pyarrow and nautilus_trader, and is handed everything else as arguments
(bench_peers imports its `peak_rss_mb`, for the vnrec sides' figures).

    python bench/peer_nautilus.py SPEC_JSON WORK_DIR

SPEC_JSON: {"quotes": [paths], "trades": [paths], "futures": [symbols], "venue": str,
"auctions": [sessions]}. Prints one JSON object of figures as its last line.
"""

from __future__ import annotations

import json
import sys
import time
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq


def peak_rss_mb() -> float:
    # VmHWM, not ru_maxrss: Linux carries the parent's peak into ru_maxrss across exec.
    status = Path("/proc/self/status").read_text().splitlines()
    return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) / 1024


def _read(paths: list[str], columns: list[str]) -> pa.Table:
    return pa.concat_tables(pq.read_table(path, columns=columns) for path in paths)


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


def _objects(spec: dict[str, Any]) -> tuple[list[Any], list[Any], list[Any]]:
    """Instruments, quote ticks and trade ticks of the day, per instrument in seq order."""
    from nautilus_trader.model.data import QuoteTick, TradeTick
    from nautilus_trader.model.enums import AggressorSide, CurrencyType
    from nautilus_trader.model.identifiers import InstrumentId, Symbol, Venue
    from nautilus_trader.model.instruments import Equity
    from nautilus_trader.model.objects import Currency, Price, Quantity

    vnd = Currency("VND", 0, 704, "Vietnamese dong", CurrencyType.FIAT)
    Currency.register(vnd)  # not among Nautilus's built-in currencies
    quotes = _read(
        spec["quotes"],
        ["seq", "event_ts", "symbol", "bid_price1", "ask_price1", "bid_vol1", "ask_vol1"],
    )
    trades = _read(
        spec["trades"],
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
        np.isin(sessions, spec["auctions"]),
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
        instrument_id = InstrumentId(Symbol(symbol), Venue(spec["venue"]))
        precision = 1 if symbol in spec["futures"] else 0
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


def _classifier(instrument_ids: list[Any]) -> Any:
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


def run(spec: dict[str, Any], work: Path) -> dict[str, Any]:
    from nautilus_trader.backtest.engine import BacktestEngine, BacktestEngineConfig
    from nautilus_trader.config import LoggingConfig
    from nautilus_trader.model.enums import AccountType, OmsType
    from nautilus_trader.model.identifiers import Venue
    from nautilus_trader.model.objects import Currency, Money
    from nautilus_trader.persistence.catalog import ParquetDataCatalog

    started = time.perf_counter()
    instruments, quote_ticks, trade_ticks = _objects(spec)
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
        venue=Venue(spec["venue"]),
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
    actor = _classifier([i.id for i in instruments])
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
        "peak_rss_mb": peak_rss_mb(),
        "version": version("nautilus_trader"),
    }


if __name__ == "__main__":
    figures = run(json.loads(sys.argv[1]), Path(sys.argv[2]))
    print(json.dumps(figures))
