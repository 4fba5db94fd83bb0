"""Session statistics per symbol over the counted trades of the day.

Values are summed exactly, in integer units of 1e-4 of a price unit (SPEC.md 7.1): a float
sum depends on the order of its terms, so two correct implementations (or one on several
threads) would disagree in the last bits. Each sum is reported as the float64 nearest to
its exact value; `vwap` is that float divided by the volume.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from vnrec.trackers.trades import BUY, SELL, VALUE_SCALE


class _Totals:
    __slots__ = (
        "atc_volume",
        "ato_volume",
        "buy_value",
        "buy_volume",
        "close",
        "continuous_volume",
        "high",
        "low",
        "neutral_value",
        "neutral_volume",
        "open",
        "sell_value",
        "sell_volume",
        "trades",
        "value",
        "volume",
    )

    def __init__(self, price: float) -> None:
        self.trades = 0
        self.volume = 0
        self.value = 0  # every value in units of 1 / VALUE_SCALE, exact
        self.buy_volume = 0
        self.buy_value = 0
        self.sell_volume = 0
        self.sell_value = 0
        self.neutral_volume = 0
        self.neutral_value = 0
        self.ato_volume = 0
        self.continuous_volume = 0
        self.atc_volume = 0
        self.open = price
        self.high = price
        self.low = price
        self.close = price


class SessionStats:
    """trades, volume, value, buy/sell/neutral split, phase split, OHLC and VWAP per symbol."""

    def __init__(self) -> None:
        self._totals: dict[str | None, _Totals] = {}

    def add(
        self, symbol: str | None, price: float, volume: int, units: int, side: str, phase: str
    ) -> None:
        """One counted trade of value `units` / VALUE_SCALE: its classification (`side`) and
        `phase` pick the splits."""
        totals = self._totals.get(symbol)
        if totals is None:
            totals = self._totals[symbol] = _Totals(price)
        totals.trades += 1
        totals.volume += volume
        totals.value += units
        if side == BUY:
            totals.buy_volume += volume
            totals.buy_value += units
        elif side == SELL:
            totals.sell_volume += volume
            totals.sell_value += units
        else:
            totals.neutral_volume += volume
            totals.neutral_value += units
        if phase == "continuous":
            totals.continuous_volume += volume
        elif phase == "ato":
            totals.ato_volume += volume
        else:
            totals.atc_volume += volume
        # Plain comparisons: max()/min() calls cost more on this per-trade path.
        if price > totals.high:  # noqa: PLR1730
            totals.high = price
        if price < totals.low:  # noqa: PLR1730
            totals.low = price
        totals.close = price

    def symbols(self) -> list[str]:
        return sorted(s for s in self._totals if s is not None)

    def rows(
        self, duplicates: Callable[[str], int], unpriced: Callable[[str], int]
    ) -> list[dict[str, Any]]:
        """One object per symbol with a counted trade, sorted by symbol, keys as STATS_KEYS."""
        rows = []
        for symbol in self.symbols():
            t = self._totals[symbol]
            # int / int is the float nearest to the exact quotient.
            value = t.value / VALUE_SCALE
            rows.append(
                {
                    "symbol": symbol,
                    "trades": t.trades,
                    "volume": t.volume,
                    "value": value,
                    "buy_volume": t.buy_volume,
                    "buy_value": t.buy_value / VALUE_SCALE,
                    "sell_volume": t.sell_volume,
                    "sell_value": t.sell_value / VALUE_SCALE,
                    "neutral_volume": t.neutral_volume,
                    "neutral_value": t.neutral_value / VALUE_SCALE,
                    "ato_volume": t.ato_volume,
                    "continuous_volume": t.continuous_volume,
                    "atc_volume": t.atc_volume,
                    "open": t.open,
                    "high": t.high,
                    "low": t.low,
                    "close": t.close,
                    "vwap": value / t.volume,
                    "duplicates": duplicates(symbol),
                    "unpriced": unpriced(symbol),
                }
            )
        return rows
