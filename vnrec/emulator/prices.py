"""Price grids of the Vietnamese markets: tick sizes by price band, daily limits, lots.

Prices are handled as integers in the market's smallest unit so that a walk over the grid
never drifts off tick: full VND for stocks, tenths of an index point for futures.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

LOT = 100  # round lot on HOSE, HNX and UPCOM

# Daily limits around the reference price (MARKET.md).
LIMITS: dict[str, float] = {"HOSE": 0.07, "HNX": 0.10, "UPCOM": 0.15, "DERIVATIVES": 0.07}

FUTURES_UNITS_PER_POINT = 10  # futures prices move by 0.1 point


def _hose_tick(price: int) -> int:
    if price < 10_000:
        return 10
    if price < 50_000:
        return 50
    return 100


@dataclass(frozen=True)
class PriceGrid:
    """The tick grid and the unit of one market; `scale` turns units into wire numbers."""

    exchange: str

    def tick(self, price: int) -> int:
        """Tick size at `price` (the step up from it)."""
        if self.exchange == "HOSE":
            return _hose_tick(price)
        return 1 if self.exchange == "DERIVATIVES" else 100

    @property
    def scale(self) -> int:
        return FUTURES_UNITS_PER_POINT if self.exchange == "DERIVATIVES" else 1

    def up(self, price: int) -> int:
        return price + self.tick(price)

    def down(self, price: int) -> int:
        # The step below a band boundary is the lower band's tick (10,000 -> 9,990 on HOSE).
        return price - self.tick(price - 1)

    def on_tick(self, price: int) -> bool:
        return price > 0 and price % self.tick(price) == 0

    def round_down(self, price: float) -> int:
        tick = self.tick(math.floor(price))
        return math.floor(price / tick) * tick

    def round_up(self, price: float) -> int:
        tick = self.tick(math.ceil(price))
        return math.ceil(price / tick) * tick

    def nearest(self, price: float) -> int:
        low, high = self.round_down(price), self.round_up(price)
        return low if price - low <= high - price else high

    def limits(self, ref: int) -> tuple[int, int]:
        """(floor, ceiling) of the day: the on-tick prices nearest inside ref -/+ the limit."""
        limit = LIMITS[self.exchange]
        return self.round_up(ref * (1 - limit)), self.round_down(ref * (1 + limit))

    def to_wire(self, price: int) -> float:
        return price / self.scale if self.scale != 1 else float(price)
