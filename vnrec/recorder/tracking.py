"""`vnrec record --track`: the replay pipeline run on the live stream.

The converter thread hands each committed micro-batch (the same normalized tables just
written to Parquet) to the day's `Pipeline`, in seq order. When a recording starts on a
day that already holds data (an earlier run, maybe killed), the day's pipeline is first
fed what is committed, from Parquet, as `vnrec replay` reads it; so the live result equals
what a replay of the whole day computes later, by construction."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from pathlib import Path

import pyarrow as pa

from vnrec.replay.merge import merge_by_seq
from vnrec.replay.pipeline import Pipeline, ReplayResult, paused_gc
from vnrec.replay.sources import parquet_streams
from vnrec.storage.closures import calendar_for
from vnrec.storage.commits import DayState
from vnrec.storage.layout import Layout
from vnrec.trackers.day import DayTrackers


class LiveTracking:
    def __init__(self, root: Path) -> None:
        self._layout = Layout(root)
        self._calendar = calendar_for(root)
        self._pipelines: dict[dt.date, Pipeline] = {}

    def _pipeline(self, day: dt.date) -> Pipeline:
        pipeline = self._pipelines.get(day)
        if pipeline is None:
            trackers = DayTrackers(day, calendar=self._calendar)
            pipeline = self._pipelines[day] = Pipeline(day, day_trackers=trackers)
        return pipeline

    def start_day(self, state: DayState) -> None:
        """Feed what the day already holds (before this run's first batch of it)."""
        pipeline = self._pipeline(state.day)
        if state.empty:
            return
        with paused_gc():
            for chunk in merge_by_seq(parquet_streams(self._layout, state)):
                pipeline.on_chunk(chunk)

    def on_tables(self, day: dt.date, tables: Mapping[str, pa.Table]) -> None:
        self._pipeline(day).feed(tables)

    def results(self) -> list[ReplayResult]:
        """One result per recorded day, in day order."""
        return [self._pipelines[day].result() for day in sorted(self._pipelines)]
