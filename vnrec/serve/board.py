"""One day's trackers as the live page sees them: the columnar engine of `vnrec replay`, fed
windows in seq order, and its results cut into the channels the page draws.

Whatever fed it (the committed micro-batches of a recording, or a recorded day paced by
event time), after the whole day the replay object of `snapshot()` is the one `vnrec replay
--format json` prints: the same engine over the same rows, windows cut differently.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa

from vnrec.calendar import TradingCalendar
from vnrec.events import Gap
from vnrec.replay.columnar import ColumnarDay
from vnrec.replay.columns import ENGINE_COLUMNS
from vnrec.replay.pipeline import ReplayResult
from vnrec.results import market_flow

# What the board reads of each table: the engine's columns, every message's event time (a
# replay is paced by it) and the reference price that a board's "change" is measured from.
BOARD_COLUMNS: dict[str, list[str]] = {
    table: list(
        dict.fromkeys(
            [
                *names,
                *(["event_ts"] if table != "raw" else []),
                *(["ref_price"] if table == "trades" else []),
            ]
        )
    )
    for table, names in ENGINE_COLUMNS.items()
}
DATA_CHANNELS = ("stats", "foreign", "index", "basis", "alerts")
CHANNELS = (*DATA_CHANNELS, "status")
# What a window of each table can change.
_CHANNELS_OF_TABLE: dict[str, tuple[str, ...]] = {
    "trades": ("stats", "basis", "alerts"),
    "foreign": ("foreign", "alerts"),
    "index": ("index", "basis"),
}
TOP_FOREIGN = 10
ALERTS_PUSHED = 200  # the newest alerts a push carries; the snapshot has them all
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def timestamp_of_us(us: int | None) -> dt.datetime | None:
    return None if us is None else _EPOCH + dt.timedelta(microseconds=us)


class Board:
    """A day's columnar trackers plus what the page shows beside the replay object. Not
    thread-safe: its owner (vnrec.serve.session) serializes feeding and reading."""

    def __init__(self, day: dt.date, calendar: TradingCalendar, gaps: Sequence[Gap] = ()) -> None:
        self.day = day
        self._engine = ColumnarDay(
            day,
            calendar=calendar,
            keep_series=False,
            gaps=gaps,
            candles=True,
            alerts=True,
            alert_chunk=0,
        )
        self.gaps: list[Gap] = list(gaps)
        self._reference: dict[str, float] = {}
        self.last_event_us: int | None = None

    @property
    def events(self) -> int:
        return self._engine.events

    @property
    def last_seq(self) -> int:
        return self._engine.last_seq

    def add_gap(self, gap: Gap) -> None:
        """A gap closed before `gap.seq`, which is not fed yet."""
        self._engine.add_gap(gap)
        self.gaps.append(gap)

    def feed(self, window: Mapping[str, pa.Table]) -> set[str]:
        """One window (rows of one seq range per table, in seq order); the channels it
        changed."""
        self._engine.feed(window)
        changed = {"status"}
        for table, rows in window.items():
            if not rows.num_rows:
                continue
            changed.update(_CHANNELS_OF_TABLE.get(table, ()))
            if "event_ts" in rows.schema.names:
                latest = rows.column("event_ts").cast(pa.int64()).to_numpy(zero_copy_only=False)
                known = latest[~np.isnan(latest)] if latest.dtype.kind == "f" else latest
                if len(known):
                    top = int(known.max())
                    if self.last_event_us is None or top > self.last_event_us:
                        self.last_event_us = top
        trades = window.get("trades")
        if trades is not None and trades.num_rows and "ref_price" in trades.schema.names:
            self._note_reference(trades)
        return changed

    def _note_reference(self, trades: pa.Table) -> None:
        frame = pl.from_arrow(trades.select(["symbol", "ref_price"]))
        assert isinstance(frame, pl.DataFrame)
        latest = (
            frame.with_columns(pl.col("symbol").cast(pl.String))
            .filter(
                pl.col("symbol").is_not_null()
                & pl.col("ref_price").is_not_nan()
                & (pl.col("ref_price") > 0)
            )
            .unique("symbol", keep="last", maintain_order=True)
        )
        for symbol, price in latest.iter_rows():
            self._reference[symbol] = float(price)

    # -- what the page shows ----------------------------------------------------------

    def replay_object(self) -> dict[str, Any]:
        """SPEC.md section 5's object of the events fed so far."""
        return ReplayResult.of(self.day, self.events, self._engine).to_dict(trackers=False)

    def channel(self, name: str) -> dict[str, Any]:
        """What a push of data channel `name` carries: fields of the snapshot."""
        engine = self._engine
        if name == "stats":
            return {"stats": engine.stats_rows(), "reference": self.reference()}
        if name == "foreign":
            rows = engine.foreign_rows()
            return {"foreign": rows, "foreign_market": market_flow(rows, TOP_FOREIGN)}
        if name == "index":
            return {"index": engine.index_rows(), "index_series": self.index_series()}
        if name == "basis":
            return {"basis": engine.basis_rows(), "basis_series": self.basis_series()}
        if name == "alerts":
            alerts = engine.alert_rows()
            return {"alerts": alerts[-ALERTS_PUSHED:], "alert_count": len(alerts)}
        raise ValueError(f"no data channel {name!r}")

    def snapshot(self) -> dict[str, Any]:
        """The replay object so far, then the candles and every channel's extra fields."""
        document = self.replay_object()
        rows = document["foreign"]
        document.update(
            candles=self._engine.candles("1m"),
            index_candles=self._engine.index_candles("1m"),
            alert_count=len(document["alerts"]),
            reference=self.reference(),
            foreign_market=market_flow(rows, TOP_FOREIGN),
            index_series=self.index_series(),
            basis_series=self.basis_series(),
            gaps=self.gap_rows(),
            last_event_ts=timestamp_of_us(self.last_event_us),
        )
        return document

    def reference(self) -> dict[str, float]:
        return {symbol: self._reference[symbol] for symbol in sorted(self._reference)}

    def candles(self, symbol: str, interval: str) -> list[dict[str, Any]]:
        return [row for row in self._engine.candles(interval) if row["symbol"] == symbol]

    def gap_rows(self) -> list[dict[str, Any]]:
        return [
            {
                "seq": gap.seq,
                "start": timestamp_of_us(gap.start_ns // 1000),
                "end": timestamp_of_us(gap.end_ns // 1000),
                "seconds": round((gap.end_ns - gap.start_ns) / 1e9, 3),
                "reason": gap.reason,
            }
            for gap in sorted(self.gaps)
        ]

    def basis_series(self) -> dict[str, dict[str, list[Any]]]:
        """Per contract (sorted), the last basis of each minute: `t` (epoch seconds of the
        minute's start) and `basis`."""
        points = pl.from_arrow(self._engine.basis_series().select(["event_ts", "symbol", "basis"]))
        assert isinstance(points, pl.DataFrame)
        minutes = (
            points.filter(pl.col("event_ts").is_not_null())
            .with_columns(t=pl.col("event_ts").dt.epoch("s") // 60 * 60)
            .group_by("symbol", "t", maintain_order=True)
            .agg(pl.col("basis").last())
            .sort("symbol", "t", maintain_order=True)
        )
        series: dict[str, dict[str, list[Any]]] = {}
        for (symbol,), rows in minutes.group_by("symbol", maintain_order=True):
            series[str(symbol)] = {
                "t": rows.get_column("t").to_list(),
                "basis": [_finite(v) for v in rows.get_column("basis").to_list()],
            }
        return series

    def index_series(self) -> dict[str, dict[str, list[Any]]]:
        """Per index id (sorted), the close of each minute: `t` (epoch seconds) and
        `value`."""
        series: dict[str, dict[str, list[Any]]] = {}
        for row in self._engine.index_candles("1m"):
            line = series.setdefault(row["index_id"], {"t": [], "value": []})
            line["t"].append(int(row["start"].timestamp()))
            line["value"].append(_finite(row["close"]))
        return {index_id: series[index_id] for index_id in sorted(series)}


def _finite(value: Any) -> Any:
    return None if isinstance(value, float) and not math.isfinite(value) else value
