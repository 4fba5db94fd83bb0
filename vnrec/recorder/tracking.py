"""`vnrec record --track`: the replay pipeline run on the live stream.

The converter thread hands each committed micro-batch (the same normalized tables just
written to Parquet, one seq range) to the day's columnar trackers as one window, in seq
order: the code that `vnrec replay` runs on Parquet windows. When a recording starts on a
day that already holds data (an earlier run, maybe killed), the day's pipeline is first
fed what is committed, from Parquet, as `vnrec replay` reads it; so the live result equals
what a replay of the whole day computes later, by construction."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from pathlib import Path

import pyarrow as pa

from vnrec.replay.columnar import ENGINE_COLUMNS, ColumnarDay
from vnrec.replay.pipeline import ReplayResult
from vnrec.replay.sources import unknown_only, window_streams
from vnrec.replay.windows import seq_windows
from vnrec.storage.closures import calendar_for
from vnrec.storage.commits import DayState
from vnrec.storage.layout import Layout


class LiveTracking:
    def __init__(self, root: Path) -> None:
        self._layout = Layout(root)
        self._calendar = calendar_for(root)
        self._days: dict[dt.date, ColumnarDay] = {}

    def _day(self, day: dt.date) -> ColumnarDay:
        trackers = self._days.get(day)
        if trackers is None:
            trackers = self._days[day] = ColumnarDay(day, calendar=self._calendar)
        return trackers

    def start_day(self, state: DayState) -> None:
        """Feed what the day already holds (before this run's first batch of it)."""
        trackers = self._day(state.day)
        if state.empty:
            return
        columns = {table: list(names) for table, names in ENGINE_COLUMNS.items()}
        for window in seq_windows(window_streams(self._layout, state, columns)):
            trackers.feed(window)

    def on_tables(self, day: dt.date, tables: Mapping[str, pa.Table]) -> None:
        self._day(day).feed(unknown_only(tables))

    def results(self) -> list[ReplayResult]:
        """One result per recorded day, in day order."""
        return [
            ReplayResult.of(day, self._days[day].events, self._days[day])
            for day in sorted(self._days)
        ]
