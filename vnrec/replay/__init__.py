"""Replay a recorded day through the deterministic tracker pipeline, or feed it live batches.

from vnrec.replay import replay
result = replay("2026-02-06", data="./data", trackers=[MyTracker()])
"""

from vnrec.replay.engine import Progress, replay
from vnrec.replay.filters import EventFilter, make_filter, make_window
from vnrec.replay.merge import merge_by_seq
from vnrec.replay.pacing import Pacer
from vnrec.replay.pipeline import (
    OutOfOrderError,
    Pipeline,
    ReplayResult,
    Tracker,
    events_from_tables,
    paused_gc,
)
from vnrec.replay.sources import parquet_streams, table_streams

__all__ = [
    "EventFilter",
    "OutOfOrderError",
    "Pacer",
    "Pipeline",
    "Progress",
    "ReplayResult",
    "Tracker",
    "events_from_tables",
    "make_filter",
    "make_window",
    "merge_by_seq",
    "parquet_streams",
    "paused_gc",
    "replay",
    "table_streams",
]
