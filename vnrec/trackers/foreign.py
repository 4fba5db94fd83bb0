"""Foreign flow per symbol from `R` messages (cumulative since the open).

The latest message gives the cumulative figures. The intraday flow of a message is the
change of each cumulative figure since the symbol's previous message (since zero for the
first one). A figure that goes down is a data-quality event: the flow of that figure is 0
for the message, the lower value becomes the new baseline, and the event is counted in
`rebaselines`; a flow is never negative. The flow speed is the flow of the last five
minutes of event time divided by the time it actually spans.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Any, NamedTuple

from vnrec.events import ForeignEvent

SPEED_WINDOW_US = 5 * 60 * 1_000_000
_US_PER_MINUTE = 60 * 1_000_000


class ForeignFlow(NamedTuple):
    """The intraday flow of one `R` message; speeds are per minute, None without a span."""

    seq: int
    event_ts: int | None
    symbol: str | None
    buy_volume: int
    sell_volume: int
    buy_value: float
    sell_value: float
    net_volume: int
    net_value: float
    rebaselined: bool
    net_volume_speed: float | None
    net_value_speed: float | None


def _missing(value: float | None) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _change(now: float | None, before: float) -> tuple[float, bool]:
    """(flow, went_down) of one cumulative figure; a missing figure has no flow."""
    if now is None or _missing(now):
        return 0, False
    if now < before:
        return 0, True
    return now - before, False


class _SymbolFlow:
    __slots__ = ("baseline", "latest", "rebaselines", "totals", "window")

    def __init__(self) -> None:
        self.latest: ForeignEvent | None = None
        # Last good value of each cumulative figure (buy_vol, sell_vol, buy_val, sell_val).
        self.baseline: list[float] = [0, 0, 0.0, 0.0]
        # Running sums of the flows: (net_volume, net_value) since the first message.
        self.totals: tuple[int, float] = (0, 0.0)
        # (event_ts, net_volume total, net_value total) of the last five minutes.
        self.window: deque[tuple[int, int, float]] = deque()
        self.rebaselines = 0


class ForeignTracker:
    """Latest cumulative foreign figures, the flow series and its five-minute speed."""

    def __init__(self, keep_series: bool = True) -> None:
        self._symbols: dict[str | None, _SymbolFlow] = {}
        self._keep_series = keep_series
        self.series: list[ForeignFlow] = []

    def on_foreign(self, event: ForeignEvent) -> ForeignFlow:
        state = self._symbols.get(event.symbol)
        if state is None:
            state = self._symbols[event.symbol] = _SymbolFlow()
        state.latest = event
        figures = (event.buy_vol, event.sell_vol, event.buy_val, event.sell_val)
        flows: list[float] = []
        went_down = False
        for i, now in enumerate(figures):
            change, down = _change(now, state.baseline[i])
            flows.append(change)
            went_down = went_down or down
            if now is not None and not _missing(now):
                state.baseline[i] = now
        if went_down:
            state.rebaselines += 1
        buy_volume, sell_volume = int(flows[0]), int(flows[1])
        buy_value, sell_value = float(flows[2]), float(flows[3])
        net_volume = buy_volume - sell_volume
        net_value = buy_value - sell_value
        total_volume = state.totals[0] + net_volume
        total_value = state.totals[1] + net_value
        state.totals = (total_volume, total_value)
        volume_speed, value_speed = _speed(state.window, event.event_ts, total_volume, total_value)
        flow = ForeignFlow(
            event.seq,
            event.event_ts,
            event.symbol,
            buy_volume,
            sell_volume,
            buy_value,
            sell_value,
            net_volume,
            net_value,
            went_down,
            volume_speed,
            value_speed,
        )
        if self._keep_series:
            self.series.append(flow)
        return flow

    def rebaselines(self, symbol: str) -> int:
        """How many messages of the symbol had a cumulative figure go down."""
        state = self._symbols.get(symbol)
        return 0 if state is None else state.rebaselines

    def rebaselined(self) -> dict[str, int]:
        """Symbols (sorted) with at least one re-baselined message, and how many."""
        return {
            symbol: self._symbols[symbol].rebaselines
            for symbol in sorted(s for s in self._symbols if s is not None)
            if self._symbols[symbol].rebaselines
        }

    def rows(self) -> list[dict[str, Any]]:
        """One object per symbol (sorted) from its latest `R` message, keys as FOREIGN_KEYS."""
        rows = []
        for symbol in sorted(s for s in self._symbols if s is not None):
            event = self._symbols[symbol].latest
            assert event is not None  # a state exists only once a message arrived
            rows.append(
                {
                    "symbol": symbol,
                    "buy_volume": event.buy_vol,
                    "sell_volume": event.sell_vol,
                    "buy_value": event.buy_val,
                    "sell_value": event.sell_val,
                    "net_volume": _net(event.buy_vol, event.sell_vol),
                    "net_value": _net(event.buy_val, event.sell_val),
                    "total_room": event.total_room,
                    "current_room": event.current_room,
                }
            )
        return rows


def _net(buy: Any, sell: Any) -> Any:
    return None if buy is None or sell is None else buy - sell


def _speed(
    window: deque[tuple[int, int, float]],
    event_ts: int | None,
    total_volume: int,
    total_value: float,
) -> tuple[float | None, float | None]:
    """Flow per minute between the oldest message of the last five minutes and now."""
    if event_ts is None:
        return None, None
    window.append((event_ts, total_volume, total_value))
    while window[0][0] < event_ts - SPEED_WINDOW_US:
        window.popleft()
    start_ts, start_volume, start_value = window[0]
    span = event_ts - start_ts
    if span <= 0:
        return None, None
    minutes = span / _US_PER_MINUTE
    return (total_volume - start_volume) / minutes, (total_value - start_value) / minutes
