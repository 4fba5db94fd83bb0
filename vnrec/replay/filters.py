"""What a replay reads and reports: a symbol filter applied in Arrow before events are
built (exact, since every tracker's state is per symbol, and index messages have none), and
an event-time report window, which is not a filter (see vnrec.trackers.window)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pyarrow as pa

from vnrec.calendar import HCM_TZ
from vnrec.errors import BadInputError
from vnrec.events import to_event_ts
from vnrec.trackers.window import ReportWindow


@dataclass(frozen=True)
class EventFilter:
    """Which events reach the trackers: events that have a symbol (trades, quotes, foreign,
    bars, status, odd lots) only for `symbols`; index and unknown events carry no symbol
    and are kept."""

    symbols: frozenset[str] | None = None

    def mask(self, batch: pa.RecordBatch) -> pa.Array | None:
        """Rows of a normalized batch to keep; None when every row is kept."""
        if self.symbols is None or "symbol" not in batch.schema.names:
            return None
        import pyarrow.compute as pc  # not at import: a replay starts reading before it loads it

        wanted = pa.array(sorted(self.symbols), pa.string())
        return pc.fill_null(pc.is_in(batch.column("symbol"), value_set=wanted), False)

    def apply(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        keep = self.mask(batch)
        return batch if keep is None else batch.filter(keep)


def parse_hhmm(text: str) -> dt.time:
    try:
        return dt.time.fromisoformat(text)
    except ValueError as exc:
        raise BadInputError(f"not a time of day (expected HH:MM): {text!r}") from exc


def make_filter(symbols: str | list[str] | None = None) -> EventFilter:
    """A filter from user input: symbols as a comma list or a list."""
    if symbols is None:
        return EventFilter()
    names = symbols.split(",") if isinstance(symbols, str) else symbols
    chosen = frozenset(s.strip() for s in names if s.strip())
    if not chosen:
        raise BadInputError("--symbols names no symbol")
    return EventFilter(chosen)


def make_window(
    day: dt.date, start: str | dt.time | None = None, end: str | dt.time | None = None
) -> ReportWindow:
    """The report window of `day` from HH:MM Asia/Ho_Chi_Minh local times, [start, end)."""

    def instant(value: str | dt.time | None) -> int | None:
        if value is None:
            return None
        local = parse_hhmm(value) if isinstance(value, str) else value
        return to_event_ts(dt.datetime.combine(day, local, tzinfo=HCM_TZ))

    start_ts, end_ts = instant(start), instant(end)
    if start_ts is not None and end_ts is not None and end_ts <= start_ts:
        raise BadInputError("--to must be later than --from")
    return ReportWindow(start_ts, end_ts)
