"""Foreign flow per symbol from `R` messages (cumulative since the open).

The latest message gives the cumulative figures. The intraday flow of a message is the
change of each cumulative figure since the symbol's previous message (since zero for the
first one). A figure that goes down is a data-quality event: the flow of that figure is 0
for the message, the lower value becomes the new baseline, and the event is counted in
`rebaselines`; a flow is never negative. The flow speed is the flow of the last five
minutes of event time divided by the time it actually spans (per minute), for the buy,
the sell and the net figures; the net value's acceleration is the change of its speed
over the same span (per minute, per minute).
"""

from __future__ import annotations

import math
from collections import deque
from typing import Any, NamedTuple

from vnrec.events import ForeignEvent

SPEED_WINDOW_US = 5 * 60 * 1_000_000
_US_PER_MINUTE = 60 * 1_000_000


class ForeignFlow(NamedTuple):
    """The intraday flow of one `R` message; speeds are per minute, acceleration per
    minute per minute, None without a span (or without a speed at the span's start)."""

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
    buy_value_speed: float | None
    sell_value_speed: float | None
    net_value_acceleration: float | None


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
        # Running sums of the flows since the first message: net volume, net value, buy
        # value, sell value.
        self.totals: tuple[int, float, float, float] = (0, 0.0, 0.0, 0.0)
        # (event_ts, the totals, the net value speed then) of the last five minutes.
        self.window: deque[_Point] = deque()
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
        totals = (
            state.totals[0] + net_volume,
            state.totals[1] + net_value,
            state.totals[2] + buy_value,
            state.totals[3] + sell_value,
        )
        state.totals = totals
        speeds = _speeds(state.window, event.event_ts, totals)
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
            *speeds,
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


class _Point(NamedTuple):
    event_ts: int
    totals: tuple[int, float, float, float]
    value_speed: float | None


_NO_SPEED = (None, None, None, None, None)


def _speeds(
    window: deque[_Point], event_ts: int | None, totals: tuple[int, float, float, float]
) -> tuple[float | None, ...]:
    """Flows per minute between the oldest message of the last five minutes and now (net
    volume, net value, buy value, sell value), and the net value speed's change per
    minute over the same span."""
    if event_ts is None:
        return _NO_SPEED
    while window and window[0].event_ts < event_ts - SPEED_WINDOW_US:
        window.popleft()
    start = window[0] if window else None
    span = 0 if start is None else event_ts - start.event_ts
    if start is None or span <= 0:
        window.append(_Point(event_ts, totals, None))
        return _NO_SPEED
    minutes = span / _US_PER_MINUTE
    volume_speed, value_speed, buy_speed, sell_speed = (
        (now - then) / minutes for now, then in zip(totals, start.totals, strict=True)
    )
    acceleration = (
        None if start.value_speed is None else (value_speed - start.value_speed) / minutes
    )
    window.append(_Point(event_ts, totals, value_speed))
    return volume_speed, value_speed, buy_speed, sell_speed, acceleration
