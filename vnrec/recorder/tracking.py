"""`vnrec record --track`: the replay pipeline run on the live stream.

The converter hands each committed micro-batch (the same normalized tables just written to
Parquet) to the day's `Pipeline`, in seq order, so the live result equals what
`vnrec replay` computes later from the recording, by construction."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

import pyarrow as pa

from vnrec.replay.pipeline import Pipeline, ReplayResult


class LiveTracking:
    def __init__(self) -> None:
        self._pipelines: dict[dt.date, Pipeline] = {}

    def on_tables(self, day: dt.date, tables: Mapping[str, pa.Table]) -> None:
        pipeline = self._pipelines.get(day)
        if pipeline is None:
            pipeline = self._pipelines[day] = Pipeline(day)
        pipeline.feed(tables)

    def results(self) -> list[ReplayResult]:
        """One result per recorded day, in day order."""
        return [self._pipelines[day].result() for day in sorted(self._pipelines)]
