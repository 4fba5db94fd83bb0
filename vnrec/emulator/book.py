"""One instrument's state during a synthetic day: its order book (best level first, prices
on the tick grid within the daily limits), running trade totals, the current 1-minute bar
and cumulative foreign flow. Pure state and arithmetic; the market decides what happens."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from vnrec.emulator.prices import PriceGrid
from vnrec.emulator.universe import Instrument

Level = list[int]  # [price, volume], mutable in place as orders trade or cancel


@dataclass
class Bar:
    minute: int  # seconds since midnight of the bar's first second
    open: int
    high: int
    low: int
    close: int
    volume: int = 0
    value: int = 0


@dataclass
class Foreign:
    total_room: int
    current_room: int
    buy_vol: int = 0
    sell_vol: int = 0
    buy_val: int = 0
    sell_val: int = 0


@dataclass
class SymbolState:
    inst: Instrument
    position: int  # order in the universe; selects the wire spelling variants
    rng: random.Random
    floor: int
    ceiling: int
    levels: int  # book depth sent on the wire: 3 on HOSE, 10 elsewhere
    foreign: Foreign
    bids: list[Level] = field(default_factory=list)
    asks: list[Level] = field(default_factory=list)
    idio: float = 0.0  # the stock's own log deviation from the market factor
    open: int = 0
    last: int = 0
    prior: int = 0  # price of the trade before the last one
    highest: int = 0
    lowest: int = 0
    total_vol: int = 0
    total_val: int = 0  # in grid units x volume, so it stays exact
    bar: Bar | None = None

    @property
    def grid(self) -> PriceGrid:
        return self.inst.grid

    def lots(self, mean: float) -> int:
        """A random order size: whole lots, at least one, geometric around `mean` lots."""
        return (1 + int(self.rng.expovariate(1.0 / mean))) * self.inst.lot

    def level_volume(self) -> int:
        return self.lots(30.0 if not self.inst.is_future else 8.0)

    def reset_book(self, center: int) -> None:
        """A fresh book around `center`: best bid at it, best ask one tick above."""
        grid = self.grid
        center = min(max(center, self.floor), self.ceiling)
        self.bids, self.asks = [], []
        price = center
        while len(self.bids) < self.levels and price >= self.floor:
            self.bids.append([price, self.level_volume()])
            price = grid.down(price)
        price = grid.up(center)
        while len(self.asks) < self.levels and price <= self.ceiling:
            self.asks.append([price, self.level_volume()])
            price = grid.up(price)

    def replenish(self) -> None:
        """Refill both sides to full depth behind the last level, within the limits."""
        grid = self.grid
        if not self.asks and self.bids and self.bids[0][0] < self.ceiling:
            self.asks.append([grid.up(self.bids[0][0]), self.level_volume()])
        if not self.bids and self.asks and self.asks[0][0] > self.floor:
            self.bids.append([grid.down(self.asks[0][0]), self.level_volume()])
        while self.bids and len(self.bids) < self.levels:
            price = grid.down(self.bids[-1][0])
            if price < self.floor:
                break
            self.bids.append([price, self.level_volume()])
        while self.asks and len(self.asks) < self.levels:
            price = grid.up(self.asks[-1][0])
            if price > self.ceiling:
                break
            self.asks.append([price, self.level_volume()])

    def spread_ticks(self) -> int:
        if not self.bids or not self.asks:
            return 0
        ticks, price = 0, self.bids[0][0]
        while price < self.asks[0][0]:
            price = self.grid.up(price)
            ticks += 1
        return ticks

    def mid(self) -> float:
        if self.bids and self.asks:
            return (self.bids[0][0] + self.asks[0][0]) / 2
        if self.bids:
            return float(self.bids[0][0])
        return float(self.asks[0][0]) if self.asks else float(self.inst.ref)

    def record_trade(self, price: int, volume: int, now: int) -> None:
        """Running totals and the minute bar after a trade of `volume` at `price`."""
        if self.total_vol == 0:
            self.open = self.highest = self.lowest = price
        self.prior = self.last or price
        self.last = price
        self.highest = max(self.highest, price)
        self.lowest = min(self.lowest, price)
        self.total_vol += volume
        self.total_val += price * volume
        minute = now - now % 60
        bar = self.bar
        if bar is None or bar.minute != minute:
            bar = self.bar = Bar(minute, price, price, price, price)
        bar.high = max(bar.high, price)
        bar.low = min(bar.low, price)
        bar.close = price
        bar.volume += volume
        bar.value += price * volume

    def take_bar(self, before: int) -> Bar | None:
        """The bar of a minute that started before `before`, removed from the state."""
        bar = self.bar
        if bar is None or bar.minute >= before:
            return None
        self.bar = None
        return bar
