"""Replay mode: a recorded day played by event time at N x real time, with pause, resume,
speed and jump.

The play clock is an event time. A message is released when the clock reaches the latest
event time up to it in seq order (a message without one goes with the message before it),
so the day is fed in its recorded order and never waits on a late-stamped message twice.
Jumping forward releases everything up to the new time at once; jumping back starts the day
again on a fresh board. The wall clock only decides when rows are released, never what the
trackers compute from them.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from vnrec.calendar import HCM_TZ, TradingCalendar
from vnrec.replay.pacing import check_speed
from vnrec.replay.sources import window_streams
from vnrec.replay.windows import seq_windows
from vnrec.serve.board import BOARD_COLUMNS, Board
from vnrec.serve.session import Feeder
from vnrec.storage.gaps import recording_gaps
from vnrec.storage.layout import Layout

WINDOW_ROWS = 4_096  # rows per table read at once: small, a paced window is cut anyway
TICK_SECONDS = 0.1  # how often a playing day releases what became due
STEP_SECONDS = 0.2  # the most feeding one step does before letting controls in
_NO_TIME = np.iinfo(np.int64).min

Window = Mapping[str, pa.Table]


def release_times(
    window: Window, floor: int
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """The window's seqs in order and, for each, the latest event time (µs) up to it, at
    least `floor` (the latest of the windows before)."""
    seqs, times = [], []
    for table in window.values():
        if not table.num_rows:
            continue
        seqs.append(np.asarray(table.column("seq").to_numpy(), np.int64))
        if "event_ts" in table.schema.names:
            stamps = table.column("event_ts").cast(pa.int64()).fill_null(_NO_TIME)
            times.append(np.asarray(stamps.to_numpy(), np.int64))
        else:
            times.append(np.full(table.num_rows, _NO_TIME, np.int64))
    if not seqs:
        empty = np.zeros(0, np.int64)
        return empty, empty
    seq, stamp = np.concatenate(seqs), np.concatenate(times)
    order = np.argsort(seq, kind="stable")
    released = np.maximum.accumulate(np.maximum(stamp[order], floor))
    return seq[order], released


def split_window(window: Window, cut_seq: int) -> tuple[dict[str, pa.Table], dict[str, pa.Table]]:
    """The rows before `cut_seq`, and the others."""
    head, tail = {}, {}
    for name, table in window.items():
        seq = np.asarray(table.column("seq").to_numpy(), np.int64)
        at = int(np.searchsorted(seq, cut_seq, side="left"))
        head[name], tail[name] = table.slice(0, at), table.slice(at)
    return head, tail


_MAX_ADVANCE_US = 7 * 86_400 * 1e6


class DayPlayer:
    """Feeds a board one recorded day, paced by event time. Its lock guards the clock and
    the controls only, and is never held while feeding (the session's lock is taken then):
    one lock order, no deadlock between a control and a step."""

    mode = "replay"

    def __init__(
        self,
        root: Path,
        day: dt.date,
        calendar: TradingCalendar,
        speed: float,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        check_speed(speed)
        self._layout = Layout(root)
        self.day = day
        self._calendar = calendar
        self._monotonic = monotonic
        self._lock = threading.Lock()  # controls come from the server's threads
        self._speed = speed
        self._paused = False
        self._jump_to: int | None = None
        self._restart = True
        self._windows: Iterator[Window] = iter(())
        self._pending: Window | None = None
        self._floor = _NO_TIME
        self._clock_us: int | None = None
        self._last_tick = 0.0
        self.finished = False
        self._layout.recorded_state(day)  # fail now, with the reason, on a day not recorded

    # -- controls ------------------------------------------------------------------------

    def pause(self) -> None:
        with self._lock:
            self._advance()
            self._paused = True

    def resume(self) -> None:
        with self._lock:
            self._advance()
            self._paused = False

    def set_speed(self, speed: float) -> None:
        check_speed(speed)
        with self._lock:
            self._advance()
            self._speed = speed

    def jump(self, local_time: dt.time) -> None:
        """Play from `local_time` (Asia/Ho_Chi_Minh) of the day."""
        instant = dt.datetime.combine(self.day, local_time, HCM_TZ)
        target = (instant - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)) // dt.timedelta(microseconds=1)
        with self._lock:
            self._advance()
            if self._clock_us is not None and target < self._clock_us:
                self._restart = True
            self._jump_to = target

    def _advance(self) -> None:
        """Move the play clock to now (under the lock)."""
        now = self._monotonic()
        if self._clock_us is not None and not self._paused and not self.finished:
            # A huge speed moves at most a week at a time: the clock stays an integer.
            advance = min((now - self._last_tick) * self._speed * 1e6, _MAX_ADVANCE_US)
            self._clock_us += int(advance)
        self._last_tick = now

    # -- playing -------------------------------------------------------------------------

    def step(self, feeder: Feeder) -> tuple[set[str], float | None]:
        with self._lock:
            restart, self._restart = self._restart, False
        if restart:  # outside the lock: feeding takes the session's lock
            self._start(feeder)
        with self._lock:
            self._advance()
            if self._jump_to is not None:
                self._clock_us, self._jump_to = self._jump_to, None
            clock = self._clock_us
        changed: set[str] = set()
        began = self._monotonic()
        busy = False
        while not self.finished:
            if self._monotonic() - began >= STEP_SECONDS:
                busy = True
                break
            window = self._pending if self._pending is not None else next(self._windows, None)
            self._pending = None
            if window is None:
                with self._lock:
                    self.finished = True
                changed.add("status")
                break
            seqs, times = release_times(window, self._floor)
            if clock is None:
                timed = times[times > _NO_TIME]
                if not len(timed):  # rows without an event time before the first: at once
                    changed |= feeder.feed(window)
                    continue
                with self._lock:  # the day starts playing at its first event time
                    self._clock_us = clock = int(timed[0])
                    self._last_tick = self._monotonic()
            due = int(np.searchsorted(times, clock, side="right"))
            if due < len(seqs):
                head, self._pending = split_window(window, int(seqs[due]))
                if due:
                    self._floor = int(times[due - 1])
                    changed |= feeder.feed(head)
                break
            if len(times):
                self._floor = int(times[-1])
            changed |= feeder.feed(window)
        with self._lock:
            if self.finished or self._paused:
                return changed, None
            return changed, 0.0 if busy else TICK_SECONDS

    def _start(self, feeder: Feeder) -> None:
        """(Re)start the day on a fresh board; the clock starts at its first event time."""
        state = self._layout.recorded_state(self.day)
        feeder.replace(Board(self.day, self._calendar, recording_gaps(state)))
        streams = window_streams(self._layout, state, BOARD_COLUMNS, batch_rows=WINDOW_ROWS)
        self._windows = seq_windows(streams)
        self._pending = None
        self._floor = _NO_TIME
        with self._lock:
            self.finished = False
            self._clock_us = None
            self._last_tick = self._monotonic()

    def status(self) -> dict[str, object]:
        with self._lock:
            self._advance()
            state = "finished" if self.finished else "paused" if self._paused else "playing"
            clock = self._clock_us
            return {
                "state": state,
                "speed": self._speed,
                "clock": None
                if clock is None or clock <= 0
                else dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=clock),
                "lag_ms": None,
                "stale": False,
            }
