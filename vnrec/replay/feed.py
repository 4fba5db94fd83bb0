"""User trackers fed one trading day in seq order: events, counted trades and gaps.

Per seq window the feed takes the window's tables (for the events of the types some
tracker declares) and the counted trades the columnar engine classified in it, and
delivers, in seq order, each recording gap before the first message after it, a message's
events, then its counted trade. Only what some tracker defines is built: a day whose
trackers only take trades builds no event object, one whose trackers take nothing but
`on_start`/`result` builds neither.

A tracker that raises stops the replay with a `TrackerError` naming the tracker, the day
and the seq it was given.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Mapping, Sequence
from functools import partial
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa

from vnrec.events import EVENT_TYPES, Event, Gap, Trade
from vnrec.replay.convert import EVENT_TABLES, columns_needed, to_events
from vnrec.replay.merge import merge_by_seq
from vnrec.trackers.base import TrackerError, check_names, defines, tracker_name

Handler = Callable[[Any], Any]
TABLE_OF_EVENT: dict[type[Event], str] = dict(zip(EVENT_TYPES, EVENT_TABLES, strict=True))
_new_trade = partial(tuple.__new__, Trade)
_NO_GAP = np.iinfo(np.int64).max


class TrackerFeed:
    """The user trackers of one day: `start()`, `feed(window, trades)` per seq window,
    `end()`, then `results()`."""

    def __init__(
        self,
        day: dt.date,
        trackers: Sequence[object],
        *,
        gaps: Sequence[Gap] = (),
        book_levels: int = 1,
    ) -> None:
        self.day = day
        self.trackers = tuple(trackers)
        self.names = check_names(self.trackers)
        self.book_levels = book_levels
        self._on_event = {
            kind: tuple(
                t.on_event  # type: ignore[attr-defined]
                for t in self.trackers
                if defines(t, "on_event")
                and kind in (getattr(t, "event_types", None) or EVENT_TYPES)
            )
            for kind in EVENT_TYPES
        }
        self._on_trade: tuple[Handler, ...] = tuple(
            t.on_trade  # type: ignore[attr-defined]
            for t in self.trackers
            if defines(t, "on_trade")
        )
        self._on_gap: tuple[Handler, ...] = tuple(
            t.on_gap  # type: ignore[attr-defined]
            for t in self.trackers
            if defines(t, "on_gap")
        )
        self.tables = tuple(TABLE_OF_EVENT[kind] for kind in EVENT_TYPES if self._on_event[kind])
        self._gaps = sorted(gaps)
        self._next_gap = 0
        self._seq: int | None = None  # what the trackers were last given, for errors
        # Called with each event's (or trade's) event_ts before it is delivered: a paced
        # replay waits there until that event time is due.
        self.pace: Callable[[int | None], None] | None = None

    @property
    def wants_trades(self) -> bool:
        return bool(self._on_trade)

    def columns(self) -> dict[str, list[str]]:
        """The stored columns the wanted events are built from, per table."""
        return {table: columns_needed(table, self.book_levels) for table in self.tables}

    # -- the day ------------------------------------------------------------------------

    def start(self) -> None:
        for tracker in self.trackers:
            if defines(tracker, "on_start"):
                self._call(tracker.on_start, self.day)  # type: ignore[attr-defined]

    def end(self, last_seq: int) -> None:
        """After the day's last window: the gaps not delivered yet, then `on_end`."""
        self._deliver_gaps(last_seq)
        self._seq = None
        for tracker in self.trackers:
            if defines(tracker, "on_end"):
                self._call(tracker.on_end)  # type: ignore[attr-defined]

    def results(self) -> dict[str, Any]:
        """Each tracker's `result()` (None without one), by name in the given order."""
        results: dict[str, Any] = {}
        for name, tracker in zip(self.names, self.trackers, strict=True):
            method = getattr(tracker, "result", None)
            results[name] = self._call(method) if callable(method) else None
        return results

    # -- one window ---------------------------------------------------------------------

    def feed(
        self,
        window: Mapping[str, pa.Table],
        trades: pl.DataFrame | None,
        names: Sequence[str | None],
        last_seq: int,
    ) -> None:
        """Deliver a window: its events (tables of one seq range), the counted trades the
        engine found in it (`names` names their symbol ids) and the gaps up to
        `last_seq`, the window's last seq."""
        counted = self._trades(trades, names) if self._on_trade else []
        try:
            if self.tables:
                self._with_events(self.events(window), counted)
            else:
                self._without_events(counted)
            self._deliver_gaps(last_seq)
        except TrackerError:
            raise
        except Exception as exc:
            raise self._error(exc) from exc

    def events(self, window: Mapping[str, pa.Table]) -> Iterator[Event]:
        """The wanted events of one window, in seq order (a snapshot's trade part first)."""
        streams = []
        for table in self.tables:
            data = window.get(table)
            if data is None or not data.num_rows:
                continue
            chunks = [to_events(table, b, self.book_levels) for b in data.to_batches()]
            streams.append((table, iter(chunks)))
        for chunk in merge_by_seq(streams):
            yield from chunk.events

    def _with_events(self, events: Iterator[Event], trades: list[Trade]) -> None:
        handlers = self._on_event
        on_trade = self._on_trade
        pace = self.pace
        next_gap = self._gap_seq()
        pending = iter(trades)
        trade = next(pending, None)
        for event in events:
            seq = event[0]
            self._seq = seq
            while trade is not None and trade[0] < seq:
                self._seq = trade[0]
                if trade[0] >= next_gap:
                    next_gap = self._deliver_gaps(trade[0])
                for handler in on_trade:
                    handler(trade)
                trade = next(pending, None)
            if seq >= next_gap:
                self._seq = seq
                next_gap = self._deliver_gaps(seq)
            self._seq = seq
            if pace is not None:
                pace(event[2])
            for handler in handlers[type(event)]:
                handler(event)
        while trade is not None:
            self._seq = trade[0]
            if trade[0] >= next_gap:
                next_gap = self._deliver_gaps(trade[0])
            for handler in on_trade:
                handler(trade)
            trade = next(pending, None)

    def _without_events(self, trades: list[Trade]) -> None:
        on_trade = self._on_trade
        pace = self.pace
        next_gap = self._gap_seq()
        for trade in trades:
            self._seq = trade[0]
            if trade[0] >= next_gap:
                next_gap = self._deliver_gaps(trade[0])
            if pace is not None:
                pace(trade[1])
            for handler in on_trade:
                handler(trade)

    def _gap_seq(self) -> int:
        return self._gaps[self._next_gap].seq if self._next_gap < len(self._gaps) else _NO_GAP

    def _deliver_gaps(self, seq: int) -> int:
        """Every gap up to `seq` not delivered yet; the seq of the next one."""
        while self._next_gap < len(self._gaps) and self._gaps[self._next_gap].seq <= seq:
            gap = self._gaps[self._next_gap]
            self._next_gap += 1
            self._seq = gap.seq
            for handler in self._on_gap:
                try:
                    handler(gap)
                except Exception as exc:
                    raise self._error(exc, handler) from exc
        return self._gap_seq()

    def _trades(self, trades: pl.DataFrame | None, names: Sequence[str | None]) -> list[Trade]:
        if trades is None or not trades.height:
            return []
        symbols = np.array(names, dtype=object)[trades.get_column("sym").to_numpy()]
        return list(
            map(
                _new_trade,
                zip(
                    trades.get_column("seq").to_list(),
                    trades.get_column("event_ts").to_list(),
                    symbols.tolist(),
                    trades.get_column("price").to_list(),
                    trades.get_column("volume").to_list(),
                    trades.get_column("value").to_list(),
                    trades.get_column("side").to_list(),
                    trades.get_column("phase").to_list(),
                    trades.get_column("wire_side").to_list(),
                    trades.get_column("basis").to_list(),
                    strict=True,
                ),
            )
        )

    # -- failures -----------------------------------------------------------------------

    def _call(self, method: Handler, *args: Any) -> Any:
        try:
            return method(*args)
        except Exception as exc:
            raise self._error(exc, method) from exc

    def _error(self, exc: Exception, handler: Handler | None = None) -> TrackerError:
        """The failure as one line: which tracker, which day, where."""
        tracker = getattr(handler, "__self__", None) if handler is not None else None
        if tracker is None:
            tracker = _failing_tracker(exc, self.trackers)
        name = tracker_name(tracker) if tracker is not None else "a tracker"
        where = "at the start" if self._seq is None else f"at seq {self._seq}"
        if handler is not None and getattr(handler, "__name__", "") in ("on_end", "result"):
            where = f"in {handler.__name__}()"
        return TrackerError(
            f"tracker {name} failed on {self.day.isoformat()} {where}: {type(exc).__name__}: {exc}"
        )


def _failing_tracker(exc: BaseException, trackers: Sequence[object]) -> object | None:
    """The tracker whose method raised `exc`, from the frames of its traceback."""
    traceback = exc.__traceback__
    found = None
    while traceback is not None:
        owner = traceback.tb_frame.f_locals.get("self")
        if any(owner is t for t in trackers):
            found = owner
        traceback = traceback.tb_next
    return found
