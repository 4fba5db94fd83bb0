"""The tracker pipeline: built-in trackers of SPEC.md section 4 plus user trackers, fed
events in seq order, one by one (`on_event`), a chunk at a time (`on_chunk`, the replay)
or as normalized Arrow tables (`feed`, what the live recorder does with its micro-batches)."""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import pyarrow as pa

from vnrec.errors import VnrecError
from vnrec.events import EVENT_TYPES, Event
from vnrec.replay.convert import Chunk
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


@dataclass(frozen=True)
class ReplayResult:
    """What a day's pipeline computed; `to_dict()` is the JSON object of SPEC.md section 5."""

    date: dt.date
    events: int
    stats: list[dict[str, Any]]
    foreign: list[dict[str, Any]]
    index: list[dict[str, Any]]
    basis: list[dict[str, Any]]
    trackers: DayTrackers = field(compare=False, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "date": self.date.isoformat(),
            "events": self.events,
            "stats": self.stats,
            "foreign": self.foreign,
            "index": self.index,
            "basis": self.basis,
        }


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


class Pipeline:
    """One trading day's trackers. Feed events in seq order, then read `result()`."""

    def __init__(
        self,
        day: dt.date,
        trackers: Sequence[Tracker] = (),
        *,
        day_trackers: DayTrackers | None = None,
        book_levels: int = 1,
    ) -> None:
        self.day = day
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
        self._dispatch(chunk.events)

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
        summary = self.day_trackers.summary()
        return ReplayResult(
            self.day,
            self._events,
            summary["stats"],
            summary["foreign"],
            summary["index"],
            summary["basis"],
            self.day_trackers,
        )
