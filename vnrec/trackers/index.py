"""Index values per index id from `MI` messages; a value that is not > 0 is ignored."""

from __future__ import annotations

from typing import Any, NamedTuple

from vnrec.events import IndexEvent
from vnrec.results import advance_ratio


class IndexPoint(NamedTuple):
    """One point of an index's intraday series."""

    seq: int
    event_ts: int | None
    index_id: str
    value: float


class IndexTracker:
    """The latest `MI` message with `IndexValue > 0` per index, and the intraday series."""

    def __init__(self, keep_series: bool = True) -> None:
        self._latest: dict[str, IndexEvent] = {}
        self._keep_series = keep_series
        self.series: list[IndexPoint] = []

    def on_index(self, event: IndexEvent) -> None:
        value = event.value
        index_id = event.index_id
        if value is None or not value > 0 or index_id is None:
            return
        self._latest[index_id] = event
        if self._keep_series:
            self.series.append(IndexPoint(event.seq, event.event_ts, index_id, value))

    def rows(self) -> list[dict[str, Any]]:
        """One object per index id (sorted), keys as INDEX_KEYS."""
        rows = []
        for index_id in sorted(self._latest):
            e = self._latest[index_id]
            rows.append(
                {
                    "index_id": index_id,
                    "value": e.value,
                    "prior_value": e.prior_value,
                    "change": e.change,
                    "ratio_change": e.ratio_change,
                    "advances": e.advances,
                    "declines": e.declines,
                    "no_changes": e.no_changes,
                    "total_qtty": e.total_qtty,
                    "total_value": e.total_value,
                    "advance_ratio": advance_ratio(e.advances, e.declines),
                }
            )
        return rows
