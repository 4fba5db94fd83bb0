"""The standard set of trackers of SPEC.md section 4 for one trading day, wired together.

`DayTrackers.handlers` maps each event type to the one function that updates every
built-in tracker for it, so the engine dispatches with a single dict lookup per event.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any, cast

from vnrec.calendar import DEFAULT_CALENDAR, TradingCalendar
from vnrec.events import (
    EVENT_TYPES,
    Event,
    ForeignEvent,
    Gap,
    IndexEvent,
    QuoteEvent,
    TradeEvent,
)
from vnrec.trackers.alerts import AlertTracker, alert_rows
from vnrec.trackers.basis import BasisTracker
from vnrec.trackers.book import QuoteBook
from vnrec.trackers.foreign import ForeignTracker
from vnrec.trackers.index import IndexTracker
from vnrec.trackers.stats import SessionStats
from vnrec.trackers.trades import (
    VALUE_SCALE,
    CountedTrade,
    TradeCounter,
    classify,
    phase_of,
)
from vnrec.trackers.window import WHOLE_DAY, ReportWindow

TradeSink = Callable[[CountedTrade], None]
# tuple.__new__ skips NamedTuple's Python-level __new__ (with --out it runs once per trade).
_new_counted = cast(Any, partial(tuple.__new__, CountedTrade))


def _ignore(event: Any) -> None:
    """Handler of the event types no built-in tracker uses (bars, status, odd lots, ...)."""


class DayTrackers:
    """Quote book, trade counter, session stats, foreign flow, index and basis of a day.

    `trade_sinks` receive every counted trade after the trackers (e.g. a Parquet writer);
    `keep_series=False` drops the intraday series when only the summary is wanted;
    `window` selects what is reported while every event updates the state (see
    vnrec.trackers.window)."""

    def __init__(
        self,
        day: dt.date,
        *,
        calendar: TradingCalendar = DEFAULT_CALENDAR,
        trade_sinks: Sequence[TradeSink] = (),
        keep_series: bool = True,
        window: ReportWindow = WHOLE_DAY,
    ) -> None:
        self.day = day
        self.window = window
        self.book = QuoteBook()
        self.counter = TradeCounter(window.contains)
        self.stats = SessionStats()
        self.foreign = ForeignTracker(keep_series)
        self.index = IndexTracker(keep_series)
        self.basis = BasisTracker(day, calendar, keep_series)
        self.alerts = AlertTracker(day, calendar)
        self._trade_sinks = tuple(trade_sinks)
        self._books = self.book.books
        self._volume = self.counter.volume
        self._add = self.stats.add
        self._windowed = window.bounded
        # Per symbol: does anything need the counted trade as an object (basis, sinks)?
        self._wanted: dict[str | None, bool] = {}
        self.handlers: dict[type[Event], Callable[[Any], None]] = dict.fromkeys(
            EVENT_TYPES, _ignore
        )
        self.handlers[TradeEvent] = self.on_trade
        self.handlers[QuoteEvent] = self.book.on_quote
        self.handlers[ForeignEvent] = self.on_foreign
        self.handlers[IndexEvent] = self.on_index

    def on_event(self, event: Event) -> None:
        self.handlers[type(event)](event)

    def on_gap(self, gap: Gap) -> None:
        """A recording gap: the quote state is empty after it; the trade alerts start
        afresh."""
        self.book.reset()
        self.alerts.on_gap(gap)

    def on_trade(self, event: TradeEvent) -> None:
        """Count, classify against the book before the trade, and pass the trade on."""
        # The per-trade path of a replay: one unpack, no object unless someone needs it.
        seq, _, event_ts, kind, symbol, price, last_vol, total_vol, _, session, side, *limits = (
            event
        )
        volume = self._volume(kind, symbol, price, last_vol, total_vol, event_ts)
        if not volume:
            return
        book = self._books.get(symbol)
        if book is None:
            bid1 = ask1 = 0.0  # no quote yet: both sides empty
        else:
            bid1 = book.bid1
            ask1 = book.ask1
        classified = classify(price, bid1, ask1, session)
        phase = phase_of(session)
        ceiling, floor = limits
        basis = self.basis.basis_of(symbol, price)
        self.alerts.on_trade(
            seq, event_ts, symbol, price, volume, classified, phase, ceiling, floor, basis
        )
        if self._windowed and not self.window.contains(event_ts):
            # Counted (it raised the symbol's TotalVol), but not reported. The book is the
            # quotes', which the trade does not change.
            return
        units = int(price * VALUE_SCALE + 0.5) * volume  # exact: price rounded half up to 1e-4
        self._add(symbol, price, volume, units, classified, phase)
        wanted = self._wanted.get(symbol)
        if wanted is None:
            wanted = self._wanted[symbol] = bool(self._trade_sinks) or self.basis.covers(symbol)
        if wanted:
            value = units / VALUE_SCALE
            trade: CountedTrade = _new_counted(
                (seq, event_ts, symbol, price, volume, value, classified, phase, bid1, ask1, side)
            )
            self.basis.on_trade(trade)
            for sink in self._trade_sinks:
                sink(trade)

    def on_foreign(self, event: ForeignEvent) -> None:
        self.alerts.on_foreign(
            event.seq, event.event_ts, event.symbol, event.buy_val, event.sell_val
        )
        if self.window.before_end(event.event_ts):
            self.foreign.on_foreign(event)

    def on_index(self, event: IndexEvent) -> None:
        if self.window.before_end(event.event_ts):
            self.index.on_index(event)
        self.basis.on_index(event)  # the VN30 value behind a reported basis may come earlier

    def series(self) -> dict[str, list[Any]]:
        """The intraday series of the report window: basis points of the reported trades,
        and the foreign flow and index points whose event time is in the window."""
        contains = self.window.contains
        return {
            "basis": self.basis.series,
            "foreign": [p for p in self.foreign.series if contains(p.event_ts)],
            "index": [p for p in self.index.series if contains(p.event_ts)],
        }

    def summary(self) -> dict[str, list[dict[str, Any]]]:
        """The `stats`, `foreign`, `index` and `basis` lists of the replay result."""
        return {
            "stats": self.stats.rows(self.counter.duplicates, self.counter.unpriced),
            "foreign": self.foreign.rows(),
            "index": self.index.rows(),
            "basis": self.basis.rows(),
            "alerts": alert_rows(
                [a for a in self.alerts.alerts if self.window.contains(a.event_ts)]
            ),
        }
