"""`replay()`: run a recorded day from Parquet through the pipeline, as fast as possible or
paced by event time."""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa

from vnrec.calendar import warn_if_unlisted
from vnrec.errors import BadInputError
from vnrec.replay.columns import ENGINE_COLUMNS, PRICE_LIMITS, WIRE_SIDE
from vnrec.replay.filters import make_filter, make_window
from vnrec.replay.pacing import Clock, Pacer, Sleep
from vnrec.replay.sources import window_streams
from vnrec.replay.windows import ReadAhead, seq_windows
from vnrec.storage.closures import calendar_for
from vnrec.storage.gaps import recording_gaps
from vnrec.storage.layout import Layout

if TYPE_CHECKING:
    from vnrec.replay.columnar import TradesSink
    from vnrec.replay.feed import TrackerFeed
    from vnrec.replay.pipeline import ReplayResult

log = logging.getLogger(__name__)

WINDOW_ROWS = 131_072  # rows per table read at once: per-window costs vs peak memory
# Counted trades gathered before the alert rules run (their per-call costs, not their
# results, depend on it). Measured on the 3M-event bench day (5 runs each, interleaved):
# 32,768 is as fast as 65,536 and 262,144 and peaks ~30 and ~120 MB lower (a chunk's
# intermediates overlap the next windows' reading); 16,384 starts to cost time.
ALERT_CHUNK = 32_768
PACED_WINDOW_ROWS = 1_024  # a paced replay reports (and sleeps) window by window
MOST_OFTEN_SHOWN = 10  # symbols named in a warning line; the rest are counted
Progress = Callable[[int], None]  # called with the number of messages processed so far


def _as_day(day: str | dt.date) -> dt.date:
    if isinstance(day, dt.date):
        return day
    try:
        return dt.date.fromisoformat(day)
    except ValueError as exc:
        raise BadInputError(f"not a date (expected YYYY-MM-DD): {day!r}") from exc


def _columns(user: TrackerFeed | None, *, trade_frames: bool, alerts: bool) -> dict[str, list[str]]:
    """Per table, the columns the columnar trackers need plus those of the user's events.
    The wire side is read only for frames of counted trades (`trade_frames`: user trackers,
    trade sinks), the price limits only for the alert rules: a column is ~2% of a replay."""
    unused = set()
    if not trade_frames:
        unused.add(WIRE_SIDE)
    if not alerts:
        unused.update(PRICE_LIMITS)
    columns = {
        table: [name for name in names if table != "trades" or name not in unused]
        for table, names in ENGINE_COLUMNS.items()
    }
    if user is not None:
        for table, names in user.columns().items():
            columns[table] = list(dict.fromkeys([*columns[table], *names]))
    return columns


def replay(
    day: str | dt.date,
    data: str | Path = "data",
    trackers: Sequence[object] = (),
    *,
    symbols: str | list[str] | None = None,
    start: str | dt.time | None = None,
    end: str | dt.time | None = None,
    speed: float | None = None,
    clock: Clock = time.monotonic,
    sleep: Sleep = time.sleep,
    progress: Progress | None = None,
    trade_sinks: Sequence[TradesSink] = (),
    book_levels: int = 1,
    keep_series: bool = False,
    candles: bool = False,
    alerts: bool = True,
    batch_rows: int = WINDOW_ROWS,
) -> ReplayResult:
    """Replay one recorded day through the built-in trackers and `trackers`.

    The built-in trackers run as batch operators over seq windows of the day's Parquet
    batches (vnrec.replay.columnar). User trackers (vnrec.Tracker) get, in seq order, the
    events of the types they declare, the counted trades and the recording gaps; their
    `result()` lands in `result.tracker_results` by name.

    `symbols` keeps the events of those symbols (and every index message); `start`/`end`
    (HH:MM local time, [start, end)) select what is reported, while every tracker, user
    trackers included, sees the whole day so that its state is the day's (SPEC.md 7.2);
    `speed` paces events at that multiple of real time by event time (None: as fast as
    possible); `progress` is called after each window with the messages so far;
    `trade_sinks` receive each window's reported counted trades as an Arrow table;
    `book_levels` > 1 fills `QuoteEvent.levels` with that many levels; `keep_series`
    keeps the intraday series for `result.trackers.series()`, `candles` the candles for
    `result.trackers.candles(interval)`; `alerts=False` skips the alert rules (their
    list is then empty), a third of a replay's time."""
    the_day = _as_day(day)
    layout = Layout(Path(data))
    state = layout.recorded_state(the_day)
    event_filter = make_filter(symbols)
    window = make_window(the_day, start, end)
    warn_if_unlisted(the_day.year)
    gaps = recording_gaps(state)
    user = None
    if trackers:
        # The per-event path (and the polars it uses) is loaded only for user trackers.
        from vnrec.replay.feed import TrackerFeed

        user = TrackerFeed(the_day, trackers, gaps=gaps, book_levels=book_levels)
    pacer = None if speed is None else Pacer(speed, clock, sleep)
    if pacer is not None:
        batch_rows = PACED_WINDOW_ROWS
    trade_frames = bool(trade_sinks) or (user is not None and user.wants_trades)
    columns = _columns(user, trade_frames=trade_frames, alerts=alerts)
    streams = window_streams(layout, state, columns, event_filter, batch_rows)
    # The reader starts before the trackers' modules are imported (pyarrow.compute, numpy
    # code, the C loops: ~0.05-0.1 s of a command's start), which then overlaps the reading
    # of the first windows; this module imports none of them.
    with ReadAhead(seq_windows(streams)) as windows:
        from vnrec.replay.columnar import ColumnarDay
        from vnrec.replay.pipeline import ReplayResult, paused_gc

        engine = ColumnarDay(
            the_day,
            calendar=calendar_for(layout.root),
            window=window,
            keep_series=keep_series,
            trade_sinks=trade_sinks,
            gaps=gaps,
            keep_trades=user is not None and user.wants_trades,
            candles=candles,
            alerts=alerts,
            alert_chunk=ALERT_CHUNK,
        )
        if user is not None:
            if pacer is not None:
                user.pace = pacer.wait
            user.start()
        # A paced replay can run for hours and is not CPU-bound: leave the collector alone.
        with paused_gc() if pacer is None else contextlib.nullcontext():
            for rows in windows:
                if pacer is not None:
                    _pace(pacer, rows)
                engine.feed(rows)
                if user is not None:
                    user.feed(rows, engine.counted_trades(), engine.symbol_names(), engine.last_seq)
                if progress is not None:
                    progress(engine.events)
    engine.fed_all()
    results = None
    if user is not None:
        user.end(engine.last_seq)
        results = user.results()
    rebaselined = engine.rebaselined()
    if rebaselined:
        log.warning(
            "%s: foreign cumulative figures went down (re-baselined) %d times: %s",
            the_day.isoformat(),
            sum(rebaselined.values()),
            most_often(rebaselined),
        )
    return ReplayResult.of(the_day, engine.events, engine, tracker_results=results)


def most_often(counts: Mapping[str, int], shown: int = MOST_OFTEN_SHOWN) -> str:
    """`counts` as "SYM xN" from the most often (ties by name), `shown` of them at most:
    a day of real data can re-baseline hundreds of symbols, which one log line must not list."""
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    listed = ", ".join(f"{symbol} x{count}" for symbol, count in ranked[:shown])
    rest = len(ranked) - shown
    return f"{listed} and {rest} more symbol{'s' if rest > 1 else ''}" if rest > 0 else listed


def _pace(pacer: Pacer, rows: Mapping[str, pa.Table]) -> None:
    """Wait until the window's first event time is due (windows are small when paced)."""
    first: int | None = None
    first_seq: int | None = None
    for table in rows.values():
        if "event_ts" not in table.schema.names or not table.num_rows:
            continue
        seq = table.column("seq")[0].as_py()
        if first_seq is None or seq < first_seq:
            stamp = table.column("event_ts")[0]
            first_seq, first = seq, None if not stamp.is_valid else stamp.value
    pacer.wait(first)
