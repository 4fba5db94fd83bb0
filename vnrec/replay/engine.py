"""`replay()`: run a recorded day from Parquet through the pipeline, as fast as possible or
paced by event time."""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from vnrec.calendar import warn_if_unlisted
from vnrec.errors import BadInputError
from vnrec.replay.filters import make_filter, make_window
from vnrec.replay.merge import merge_by_seq
from vnrec.replay.pacing import Clock, Pacer, Sleep
from vnrec.replay.pipeline import Pipeline, ReplayResult, Tracker, paused_gc
from vnrec.replay.sources import DEFAULT_BATCH_ROWS, parquet_streams
from vnrec.storage.closures import calendar_for
from vnrec.storage.layout import Layout
from vnrec.trackers.day import DayTrackers, TradeSink

log = logging.getLogger(__name__)

Progress = Callable[[int], None]  # called with the number of messages processed so far


def _as_day(day: str | dt.date) -> dt.date:
    if isinstance(day, dt.date):
        return day
    try:
        return dt.date.fromisoformat(day)
    except ValueError as exc:
        raise BadInputError(f"not a date (expected YYYY-MM-DD): {day!r}") from exc


def replay(
    day: str | dt.date,
    data: str | Path = "data",
    trackers: Sequence[Tracker] = (),
    *,
    symbols: str | list[str] | None = None,
    start: str | dt.time | None = None,
    end: str | dt.time | None = None,
    speed: float | None = None,
    clock: Clock = time.monotonic,
    sleep: Sleep = time.sleep,
    progress: Progress | None = None,
    trade_sinks: Sequence[TradeSink] = (),
    book_levels: int = 1,
    keep_series: bool = True,
    batch_rows: int = DEFAULT_BATCH_ROWS,
) -> ReplayResult:
    """Replay one recorded day through the built-in trackers and `trackers`.

    `symbols` keeps the events of those symbols (and every index message); `start`/`end`
    (HH:MM local time, [start, end)) select what is reported, while every tracker, user
    trackers included, sees the whole day so that its state is the day's (SPEC.md 7.2);
    `speed` paces events at that multiple of real time by event time (None: as fast as
    possible); `progress` is called after each merged chunk; `trade_sinks` receive each
    reported counted trade; `book_levels` > 1 fills `QuoteEvent.levels` with that many
    levels."""
    the_day = _as_day(day)
    layout = Layout(Path(data))
    state = layout.recorded_state(the_day)
    event_filter = make_filter(symbols)
    window = make_window(the_day, start, end)
    warn_if_unlisted(the_day.year)
    day_trackers = DayTrackers(
        the_day,
        calendar=calendar_for(layout.root),
        trade_sinks=trade_sinks,
        keep_series=keep_series,
        window=window,
    )
    pipeline = Pipeline(the_day, trackers, day_trackers=day_trackers, book_levels=book_levels)
    pacer = None if speed is None else Pacer(speed, clock, sleep)
    chunks = merge_by_seq(parquet_streams(layout, state, event_filter, book_levels, batch_rows))
    # A paced replay can run for hours and is not CPU-bound: leave the collector alone.
    with paused_gc() if pacer is None else contextlib.nullcontext():
        for chunk in chunks:
            if pacer is None:
                pipeline.on_chunk(chunk)
            else:
                for event in chunk.events:
                    pacer.wait(event[2])
                    pipeline.on_event(event)
            if progress is not None:
                progress(pipeline.events)
    rebaselined = day_trackers.foreign.rebaselined()
    if rebaselined:
        log.warning(
            "%s: foreign cumulative figures went down (re-baselined) %d times: %s",
            the_day.isoformat(),
            sum(rebaselined.values()),
            ", ".join(f"{symbol} x{count}" for symbol, count in rebaselined.items()),
        )
    return pipeline.result()
