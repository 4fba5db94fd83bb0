"""Candles (SPEC.md 7.4) as batch operators: the columnar day hands each window's reported
counted trades here; one-minute candles are kept per window and merged when asked for,
and the longer intervals are made from them (their values are exact sums, so merging
loses nothing). Index candles come from the day's index rows with a value > 0.

Independent of the SQL views `candles_1m` ... `index_candles_1h` (vnrec.analytics.derived);
tests compare the two field for field.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import numpy as np
import polars as pl

from vnrec.errors import BadInputError
from vnrec.results import CANDLE_INTERVALS
from vnrec.trackers.trades import VALUE_SCALE

MINUTE_US = 60 * 1_000_000
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def interval_us(interval: str) -> int:
    try:
        return CANDLE_INTERVALS[interval] * 1_000_000
    except KeyError:
        raise BadInputError(
            f"not a candle interval: {interval!r} (one of {', '.join(CANDLE_INTERVALS)})"
        ) from None


def _start(event_ts_us: int) -> dt.datetime:
    return _EPOCH + dt.timedelta(microseconds=event_ts_us)


class CandleBook:
    """One-minute candles of the counted trades fed, by symbol id."""

    def __init__(self) -> None:
        self._parts: list[pl.DataFrame] = []
        self._merged: pl.DataFrame | None = None

    def add(self, trades: pl.DataFrame) -> None:
        """A window's reported counted trades: `seq, sym, price, volume, units, side,
        event_ts` (µs, null: no candle), in seq order."""
        timed = trades.filter(pl.col("event_ts").is_not_null())
        if not timed.height:
            return
        self._merged = None
        volume, side = pl.col("volume"), pl.col("side")
        self._parts.append(
            timed.with_columns(start=(pl.col("event_ts") // MINUTE_US) * MINUTE_US)
            .group_by("sym", "start", maintain_order=True)
            .agg(
                open=pl.col("price").first(),
                high=pl.col("price").max(),
                low=pl.col("price").min(),
                close=pl.col("price").last(),
                volume=volume.sum(),
                units=pl.col("units").sum(),
                buy_volume=volume.filter(side == 1).sum(),
                sell_volume=volume.filter(side == 2).sum(),
                neutral_volume=volume.filter(side == 0).sum(),
                trades=pl.len().cast(pl.Int64),
                first_seq=pl.col("seq").first(),
                last_seq=pl.col("seq").last(),
            )
        )

    def _minutes(self) -> pl.DataFrame | None:
        if not self._parts:
            return None
        if self._merged is None:
            self._merged = _merge(pl.concat(self._parts), "start")
            self._parts = [self._merged]
        return self._merged

    def rows(self, interval: str, names: Sequence[str | None]) -> list[dict[str, Any]]:
        """The candles of `interval`, sorted by symbol then start (objects of CANDLE_KEYS)."""
        width = interval_us(interval)
        minutes = self._minutes()
        if minutes is None:
            return []
        candles = _merge(minutes.with_columns(start=(pl.col("start") // width) * width), "start")
        symbols = np.array(names, dtype=object)
        out = []
        for row in candles.iter_rows(named=True):
            symbol = symbols[row["sym"]]
            if symbol is None:
                continue
            out.append(
                {
                    "symbol": symbol,
                    "start": _start(row["start"]),
                    "open": row["open"],
                    "high": row["high"],
                    "low": row["low"],
                    "close": row["close"],
                    "volume": row["volume"],
                    "value": row["units"] / VALUE_SCALE,  # int / int: the nearest float
                    "buy_volume": row["buy_volume"],
                    "sell_volume": row["sell_volume"],
                    "neutral_volume": row["neutral_volume"],
                    "trades": row["trades"],
                }
            )
        return sorted(out, key=lambda r: (r["symbol"], r["start"]))


def _merge(candles: pl.DataFrame, key: str) -> pl.DataFrame:
    """Candles of the same symbol and start as one: open and close are those of its first
    and last trade by seq (event times may go back, so row order is not enough)."""
    return candles.group_by("sym", key, maintain_order=True).agg(
        pl.col("open").sort_by("first_seq").first(),
        pl.col("high").max(),
        pl.col("low").min(),
        pl.col("close").sort_by("last_seq").last(),
        pl.col("volume", "units", "buy_volume", "sell_volume", "neutral_volume", "trades").sum(),
        pl.col("first_seq").min(),
        pl.col("last_seq").max(),
    )


def index_candles(index: pl.DataFrame | None, interval: str) -> list[dict[str, Any]]:
    """Candles of the index values > 0 (`index`: the report window's index rows with
    `seq, index_id, index_value, event_ts` in seq order), by index id then start."""
    width = interval_us(interval)
    if index is None or not index.height:
        return []
    value = pl.col("index_value")
    usable = index.filter(
        pl.col("index_id").is_not_null()
        & pl.col("event_ts").is_not_null()
        & value.is_not_null()
        & value.is_not_nan()
        & (value > 0)
    )
    candles = (
        usable.with_columns(start=(pl.col("event_ts") // width) * width)
        .group_by("index_id", "start", maintain_order=True)
        .agg(
            open=value.first(),
            high=value.max(),
            low=value.min(),
            close=value.last(),
        )
        .sort("index_id", "start")
    )
    return [
        {
            "index_id": row["index_id"],
            "start": _start(row["start"]),
            "open": row["open"],
            "high": row["high"],
            "low": row["low"],
            "close": row["close"],
        }
        for row in candles.iter_rows(named=True)
    ]
