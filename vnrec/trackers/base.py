"""`vnrec.Tracker`: what a user tracker can be given, and how the engine finds out what it
wants.

A tracker is any object with some of `on_start(day)`, `on_event(event)`, `on_trade(trade)`,
`on_gap(gap)`, `on_end()` and `result()`; subclassing `Tracker` is a convenience, not a
requirement. The engine calls only the methods a tracker defines (on a `Tracker` subclass,
only those it overrides), so a tracker of counted trades costs nothing per quote.

    class BigTrades(vnrec.Tracker):
        def __init__(self, threshold: int = 100_000) -> None:
            self.threshold = threshold
            self.rows = []

        def on_trade(self, trade: vnrec.Trade) -> None:
            if trade.volume >= self.threshold:
                self.rows.append({"seq": trade.seq, "symbol": trade.symbol,
                                  "volume": trade.volume, "side": trade.side})

        def result(self) -> list[dict]:
            return self.rows
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from vnrec.errors import VnrecError
from vnrec.events import Event, Gap, Trade
from vnrec.words import first_repeated

HOOKS = ("on_start", "on_event", "on_trade", "on_gap", "on_end", "result")


class Tracker:
    """A user tracker; override what you need. `name` (default: the class name) keys its
    result in the replay object; `event_types` (a tuple of event classes, e.g.
    `(TradeEvent,)`) limits the events `on_event` receives.

    Everything a tracker sees is in seq order and for one trading day: `on_start(day)`,
    then every event (`on_event`), each counted trade right after its message's events
    (`on_trade`), each recording gap before the first message after it (`on_gap`), then
    `on_end()`; `result()` returns JSON-able data (a list of flat dicts is also written as
    Parquet by `vnrec replay --out`). Trackers must be deterministic: no wall clock, no
    iteration over sets, so that a replay gives the same result every time, live or not."""

    event_types: tuple[type[Any], ...] | None = None

    @property
    def name(self) -> str:
        return type(self).__name__

    def on_start(self, day: dt.date) -> None:
        """A new trading day begins (state is per day)."""

    def on_event(self, event: Event) -> None:
        """Every event of the types in `event_types` (all types when None)."""

    def on_trade(self, trade: Trade) -> None:
        """Every counted trade, classified against the book just before it."""

    def on_gap(self, gap: Gap) -> None:
        """A recording gap; the built-in quote state is empty after it."""

    def on_end(self) -> None:
        """The day's last event was delivered."""

    def result(self) -> Any:
        """What the tracker computed, JSON-able."""
        return None


class TrackerError(VnrecError):
    """A user tracker raised: names the tracker, the day and the seq it was at."""


def tracker_name(tracker: object) -> str:
    name = getattr(tracker, "name", None)
    return name if isinstance(name, str) and name else type(tracker).__name__


def defines(tracker: object, hook: str) -> bool:
    """Whether `tracker` has `hook` of its own (not `Tracker`'s default that does nothing)."""
    method = getattr(tracker, hook, None)
    if not callable(method):
        return False
    return getattr(type(tracker), hook, None) is not getattr(Tracker, hook, None)


def check_names(trackers: Sequence[object]) -> list[str]:
    """The trackers' names, refusing two with the same name (results are keyed by name)."""
    names = [tracker_name(t) for t in trackers]
    repeated = first_repeated(names)
    if repeated is not None:
        raise VnrecError(
            f"two trackers are named {repeated!r}; give one a `name` of its own"
            " (results are keyed by name)"
        )
    return names
