"""`vnrec record --track`: the replay pipeline run on the live stream.

The converter thread hands each committed micro-batch (the same normalized tables just
written to Parquet, one seq range) to the day's columnar trackers as one window, in seq
order: the code that `vnrec replay` runs on Parquet windows. When a recording starts on a
day that already holds data (an earlier run, maybe killed), the day's pipeline is first
fed what is committed, from Parquet, as `vnrec replay` reads it; so the live result equals
what a replay of the whole day computes later, by construction.

Recording gaps come from the same `connections` events a replay reads (vnrec.storage.gaps):
the finished runs' files of the day, plus this run's events as the recorder logs them. A
gap closed by a connect is placed before the first message received at or after it, as a
replay places it, and reaches the trackers before that message.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from vnrec.events import Gap
from vnrec.replay.columnar import ColumnarDay
from vnrec.replay.columns import ENGINE_COLUMNS
from vnrec.replay.pipeline import ReplayResult
from vnrec.replay.sources import unknown_only, window_streams
from vnrec.replay.windows import seq_windows
from vnrec.storage.closures import calendar_for
from vnrec.storage.commits import DayState
from vnrec.storage.gaps import (
    ConnectionEvent,
    connection_files,
    gap_spans,
    place_span,
    read_connection_events,
    recording_gaps,
)
from vnrec.storage.layout import Layout


class _LiveDay:
    """One day's trackers and what is known of its connections."""

    def __init__(self, trackers: ColumnarDay, finished: list[ConnectionEvent]) -> None:
        self.trackers = trackers
        self.finished = finished  # the day's events of runs that ended before this one
        self.placed: set[int] = set()  # end_ns of the spans already placed as gaps
        self.last_recv_ns = -1  # receive time of the last message fed


class LiveTracking:
    def __init__(self, root: Path) -> None:
        self._layout = Layout(root)
        self._calendar = calendar_for(root)
        self._days: dict[dt.date, _LiveDay] = {}
        self._lock = threading.Lock()
        self._run_events: list[ConnectionEvent] = []  # this run's, in logging order

    def _day(self, day: dt.date, state: DayState | None = None) -> _LiveDay:
        live = self._days.get(day)
        if live is None:
            gaps = recording_gaps(state) if state is not None else []
            trackers = ColumnarDay(day, calendar=self._calendar, gaps=gaps)
            finished = read_connection_events(connection_files(self._layout.root, day))
            live = self._days[day] = _LiveDay(trackers, finished)
            live.placed.update(gap.end_ns for gap in gaps)
        return live

    def start_day(self, state: DayState) -> None:
        """Feed what the day already holds (before this run's first batch of it)."""
        live = self._day(state.day, state)
        if state.empty:
            return
        columns = {table: list(names) for table, names in ENGINE_COLUMNS.items()}
        for window in seq_windows(window_streams(self._layout, state, columns)):
            live.trackers.feed(window)
        last = state.table_parts("raw")[-1]
        stamps = pq.read_table(last.path, columns=["recv_ns"]).column("recv_ns")
        if len(stamps) and stamps[len(stamps) - 1].is_valid:
            live.last_recv_ns = int(stamps[len(stamps) - 1].as_py())

    def on_connection(self, event: ConnectionEvent) -> None:
        with self._lock:
            self._run_events.append(event)

    def on_tables(self, day: dt.date, tables: Mapping[str, pa.Table]) -> None:
        live = self._day(day)
        for gap in self._new_gaps(live, tables):
            live.trackers.add_gap(gap)
        self._note_received(live, tables)
        live.trackers.feed(unknown_only(tables))

    def _new_gaps(self, live: _LiveDay, tables: Mapping[str, pa.Table]) -> list[Gap]:
        """The gaps closed before a message of this batch, not placed yet."""
        with self._lock:
            run = list(self._run_events)
        events = sorted([*live.finished, *run], key=lambda e: e.ts_ns)
        running = {e.run_id for e in run}
        spans = [s for s in gap_spans(events, running) if s.end_ns not in live.placed]
        raw = tables.get("raw")
        if not spans or raw is None or not raw.num_rows:
            return []
        seq = np.asarray(raw.column("seq").to_numpy(), np.int64)
        recv = np.asarray(raw.column("recv_ns").fill_null(-1).to_numpy(), np.int64)
        gaps = []
        for span in spans:
            gap = place_span(span, seq, recv, live.last_recv_ns)
            if gap is not None:
                live.placed.add(span.end_ns)
                gaps.append(gap)
        return sorted(gaps)

    @staticmethod
    def _note_received(live: _LiveDay, tables: Mapping[str, pa.Table]) -> None:
        raw = tables.get("raw")
        if raw is not None and raw.num_rows and "recv_ns" in raw.schema.names:
            last = raw.column("recv_ns")[raw.num_rows - 1].as_py()
            live.last_recv_ns = -1 if last is None else int(last)

    def results(self) -> list[ReplayResult]:
        """One result per recorded day, in day order."""
        return [
            ReplayResult.of(day, self._days[day].trackers.events, self._days[day].trackers)
            for day in sorted(self._days)
        ]
