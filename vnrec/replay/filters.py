"""Event filters applied in Arrow before events are built: symbols and an event-time window."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from vnrec.calendar import HCM_TZ
from vnrec.errors import BadInputError
from vnrec.events import to_event_ts


@dataclass(frozen=True)
class EventFilter:
    """Which events reach the trackers.

    `symbols`: events that have a symbol (trades, quotes, foreign, bars, status, odd lots)
    are kept only for these symbols; index and unknown events carry no symbol and are kept.
    `start_ts`/`end_ts`: event time window [start, end) in UTC microseconds; an event
    without an event time is dropped when a window is set."""

    symbols: frozenset[str] | None = None
    start_ts: int | None = None
    end_ts: int | None = None

    @property
    def has_window(self) -> bool:
        return self.start_ts is not None or self.end_ts is not None

    def mask(self, batch: pa.RecordBatch) -> pa.Array | None:
        """Rows of a normalized batch to keep; None when every row is kept."""
        conditions = []
        if self.symbols is not None and "symbol" in batch.schema.names:
            wanted = pa.array(sorted(self.symbols), pa.string())
            conditions.append(pc.is_in(batch.column("symbol"), value_set=wanted))
        if self.has_window:
            if "event_ts" not in batch.schema.names:
                return pa.repeat(False, batch.num_rows)
            ts = batch.column("event_ts").cast(pa.int64())
            if self.start_ts is not None:
                conditions.append(pc.greater_equal(ts, self.start_ts))
            if self.end_ts is not None:
                conditions.append(pc.less(ts, self.end_ts))
        if not conditions:
            return None
        keep = conditions[0]
        for condition in conditions[1:]:
            keep = pc.and_(keep, condition)
        return pc.fill_null(keep, False)

    def apply(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        keep = self.mask(batch)
        return batch if keep is None else batch.filter(keep)


def parse_hhmm(text: str) -> dt.time:
    try:
        return dt.time.fromisoformat(text)
    except ValueError as exc:
        raise BadInputError(f"not a time of day (expected HH:MM): {text!r}") from exc


def make_filter(
    day: dt.date,
    symbols: str | list[str] | None = None,
    start: str | dt.time | None = None,
    end: str | dt.time | None = None,
) -> EventFilter:
    """A filter for `day` from user input: symbols as a comma list or a list, times as HH:MM
    Asia/Ho_Chi_Minh local time."""
    chosen: frozenset[str] | None = None
    if symbols is not None:
        names = symbols.split(",") if isinstance(symbols, str) else symbols
        chosen = frozenset(s.strip() for s in names if s.strip())
        if not chosen:
            raise BadInputError("--symbols names no symbol")

    def instant(value: str | dt.time | None) -> int | None:
        if value is None:
            return None
        local = parse_hhmm(value) if isinstance(value, str) else value
        return to_event_ts(dt.datetime.combine(day, local, tzinfo=HCM_TZ))

    start_ts, end_ts = instant(start), instant(end)
    if start_ts is not None and end_ts is not None and end_ts <= start_ts:
        raise BadInputError("--to must be later than --from")
    return EventFilter(chosen, start_ts, end_ts)
