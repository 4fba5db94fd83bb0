"""`Pipeline`, the per-event implementation of the built-in trackers (vnrec.trackers.day),
kept as the reference the columnar engine (vnrec.replay.columnar) is tested against, and
`ReplayResult`, what a replayed day computed. User trackers are fed by
vnrec.replay.feed."""

from __future__ import annotations

import collections
import contextlib
import datetime as dt
import gc
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import pyarrow as pa

from vnrec.errors import VnrecError
from vnrec.events import EVENT_TYPES, Event, Gap
from vnrec.replay.convert import EVENT_TABLES, Chunk
from vnrec.replay.filters import EventFilter
from vnrec.replay.merge import merge_by_seq
from vnrec.replay.sources import NO_FILTER, table_streams
from vnrec.trackers.day import DayTrackers

Handler = Callable[[Any], None]


class Tracker(Protocol):
    """A user tracker: any object with `on_event`, called with every event in seq order.

    An optional attribute `event_types` (a tuple of event classes, e.g. `(TradeEvent,)`)
    limits the events it receives to those types, which saves a call per other event."""

    def on_event(self, event: Event) -> None: ...


def _user_handlers(trackers: Sequence[Tracker]) -> dict[type[Event], tuple[Handler, ...]]:
    """Per event type, the `on_event` of every user tracker that wants it, in given order."""
    table: dict[type[Event], tuple[Handler, ...]] = {}
    for event_type in EVENT_TYPES:
        table[event_type] = tuple(
            tracker.on_event
            for tracker in trackers
            if event_type in getattr(tracker, "event_types", EVENT_TYPES)
        )
    return table


class OutOfOrderError(VnrecError):
    """An event arrived with a seq lower than one already processed."""


class DaySource(Protocol):
    def series(self) -> dict[str, Any]: ...

    def summary(self) -> dict[str, list[dict[str, Any]]]: ...


@dataclass(frozen=True)
class ReplayResult:
    """What a day's pipeline computed; `to_dict()` is the JSON object of SPEC.md section 5.
    `trackers` (the columnar day, or the per-event reference) gives the intraday series."""

    date: dt.date
    events: int
    stats: list[dict[str, Any]]
    foreign: list[dict[str, Any]]
    index: list[dict[str, Any]]
    basis: list[dict[str, Any]]
    alerts: list[dict[str, Any]]
    trackers: DaySource = field(compare=False, repr=False)
    # User trackers' results by name; None when the replay ran none.
    tracker_results: dict[str, Any] | None = None

    @classmethod
    def of(
        cls,
        day: dt.date,
        events: int,
        trackers: DaySource,
        *,
        tracker_results: dict[str, Any] | None = None,
    ) -> ReplayResult:
        """The result of a day's trackers after `events` messages."""
        summary = trackers.summary()
        return cls(
            day,
            events,
            summary["stats"],
            summary["foreign"],
            summary["index"],
            summary["basis"],
            summary["alerts"],
            trackers,
            tracker_results,
        )

    def to_dict(self, *, trackers: bool = True) -> dict[str, Any]:
        """SPEC.md section 5's object; after user trackers, their results as `trackers`
        (unless `trackers` is false)."""
        data: dict[str, Any] = {
            "date": self.date.isoformat(),
            "events": self.events,
            "stats": self.stats,
            "foreign": self.foreign,
            "index": self.index,
            "basis": self.basis,
            "alerts": self.alerts,
        }
        if trackers and self.tracker_results is not None:
            data["trackers"] = self.tracker_results
        return data


@contextlib.contextmanager
def paused_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while millions of short-lived event tuples are
    made: events hold no cycles (reference counting frees them), and without the pause the
    collector's passes take most of a replay's time."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def events_from_tables(
    tables: Mapping[str, pa.Table],
    event_filter: EventFilter = NO_FILTER,
    book_levels: int = 1,
) -> Iterator[Event]:
    """The events of in-memory normalized tables (and `raw` for unknown types), in seq order."""
    for chunk in merge_by_seq(table_streams(tables, event_filter, book_levels)):
        yield from chunk.events


TABLE_OF_EVENT: dict[type[Event], str] = dict(zip(EVENT_TYPES, EVENT_TABLES, strict=True))


class Pipeline:
    """The per-event reference: one trading day's built-in trackers (and user trackers),
    fed events in seq order, one by one, a chunk at a time, or as normalized tables."""

    def __init__(
        self,
        day: dt.date,
        trackers: Sequence[Tracker] = (),
        *,
        day_trackers: DayTrackers | None = None,
        book_levels: int = 1,
        gaps: Sequence[Gap] = (),
    ) -> None:
        self.day = day
        self._gaps = collections.deque(sorted(gaps))
        self.day_trackers = DayTrackers(day) if day_trackers is None else day_trackers
        self.trackers = tuple(trackers)
        self._book_levels = book_levels
        self._handlers = self.day_trackers.handlers
        self._user = _user_handlers(self.trackers) if self.trackers else None
        self._events = 0
        self._last_seq = 0

    @property
    def events(self) -> int:
        """Messages seen so far (distinct seqs: an `X` is one message, two events)."""
        return self._events

    def on_event(self, event: Event) -> None:
        """Process one event; its seq must not be lower than any seen before."""
        seq = event[0]
        if seq != self._last_seq:
            if seq < self._last_seq:
                raise OutOfOrderError(f"event seq {seq} after seq {self._last_seq}")
            self._events += 1
            self._last_seq = seq
            while self._gaps and seq >= self._gaps[0].seq:
                self.day_trackers.on_gap(self._gaps.popleft())
        kind = type(event)
        self._handlers[kind](event)
        if self._user is not None:
            for on_event in self._user[kind]:
                on_event(event)

    def on_chunk(self, chunk: Chunk) -> None:
        """Process a chunk of `merge_by_seq` (the replay's hot path): the order check and
        the message count are done on the seq array, not per event."""
        seqs = chunk.seqs
        if not len(seqs):
            return
        first = int(seqs[0])
        if first < self._last_seq:
            raise OutOfOrderError(f"event seq {first} after seq {self._last_seq}")
        changes = int(np.count_nonzero(seqs[1:] != seqs[:-1]))
        self._events += changes + (first != self._last_seq)
        self._last_seq = int(seqs[-1])
        events = chunk.events
        done = 0
        while self._gaps and self._last_seq >= self._gaps[0].seq:
            gap = self._gaps.popleft()
            cut = int(np.searchsorted(seqs, gap.seq, side="left"))
            self._dispatch(events[done:cut])
            self.day_trackers.on_gap(gap)
            done = max(done, cut)
        self._dispatch(events[done:] if done else events)

    def _dispatch(self, events: Iterable[Event]) -> None:
        handlers = self._handlers
        user = self._user
        # Two copies of the loop: without user trackers the inner loop would cost a
        # noticeable share of a replay.
        if user is None:
            for event in events:
                handlers[type(event)](event)
        else:
            for event in events:
                kind = type(event)
                handlers[kind](event)
                for on_event in user[kind]:
                    on_event(event)

    def feed(self, tables: Mapping[str, pa.Table]) -> None:
        """Process a micro-batch of normalized tables (as written by the recorder)."""
        with paused_gc():
            for chunk in merge_by_seq(table_streams(tables, NO_FILTER, self._book_levels)):
                self.on_chunk(chunk)

    def result(self) -> ReplayResult:
        return ReplayResult.of(self.day, self._events, self.day_trackers)
