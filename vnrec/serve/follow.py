"""Live mode: follow a day's recording from another process, read-only.

The recorder commits a micro-batch of normalized tables (one seq range) several times a
second. The follower watches the day's commit log, reads the rows committed since it last
looked, window by window, and feeds them to the board: the recording's own files and the
replay's own reader, so a crash or a slow browser here never touches the recorder.

Gaps come from the `connections` events that `vnrec replay` reads: the day's finished runs
and the pending logs of the runs still recording. A gap closed by a connect is placed before
the first message received at or after it (vnrec.storage.gaps.place_span), as the recorder's
own `--track` places it.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from vnrec.calendar import HCM_TZ, TradingCalendar
from vnrec.errors import StorageError
from vnrec.events import Gap
from vnrec.replay.sources import window_streams
from vnrec.replay.windows import seq_windows
from vnrec.serve.board import BOARD_COLUMNS, Board
from vnrec.serve.session import Feeder
from vnrec.storage.commits import DayState, log_path, read_state
from vnrec.storage.gaps import (
    connection_files,
    distinct_gaps,
    gap_spans,
    place_span,
    read_connection_events,
    read_running_events,
)
from vnrec.storage.layout import Layout

log = logging.getLogger(__name__)

POLL_SECONDS = 0.25
STALE_MS = 10_000  # no message received for this long: the page says the feed is stale
WINDOW_ROWS = 16_384


def today_in_vietnam(now_ns: int) -> dt.date:
    return dt.datetime.fromtimestamp(now_ns / 1e9, HCM_TZ).date()


class LiveFollower:
    """Feeds a board what the recording of `day` (default: today in Vietnam) commits."""

    mode = "live"

    def __init__(
        self,
        root: Path,
        calendar: TradingCalendar,
        day: dt.date | None = None,
        clock_ns: Callable[[], int] = time.time_ns,
    ) -> None:
        self._layout = Layout(root)
        self._calendar = calendar
        self._fixed_day = day
        self._clock_ns = clock_ns
        self._day: dt.date | None = None
        self._log_stamp: tuple[int, int] | None = None
        self._placed: set[int] = set()  # end_ns of the spans placed as gaps
        self._last_recv_ns = -1

    def day(self) -> dt.date:
        return self._fixed_day or today_in_vietnam(self._clock_ns())

    def step(self, feeder: Feeder) -> tuple[set[str], float | None]:
        """Feed what was committed since the last step: (channels changed, seconds until
        the next step)."""
        day = self.day()
        if day != self._day:
            self._day, self._log_stamp, self._placed, self._last_recv_ns = day, None, set(), -1
            feeder.replace(Board(day, self._calendar))
            log.info("following the recording of %s in %s", day, self._layout.root)
        stamp = _stamp(log_path(self._layout.root, day))
        if stamp is None or stamp == self._log_stamp:
            return set(), POLL_SECONDS
        state = read_state(self._layout.root, day)
        next_seq = max(feeder.last_seq, 0) + 1
        if state.last_seq < next_seq:
            self._log_stamp = stamp
            return set(), POLL_SECONDS
        try:
            seq, recv = _received(state, next_seq)
        except FileNotFoundError:
            return set(), 0.0  # compacted under us: read the log again at once
        gaps = self._new_gaps(day, seq, recv)
        changed: set[str] = set()
        for gap in gaps:
            feeder.add_gap(gap)
        streams = window_streams(
            self._layout, state, BOARD_COLUMNS, batch_rows=WINDOW_ROWS, from_seq=next_seq
        )
        for window in seq_windows(streams):
            changed |= feeder.feed(window)
        if len(recv):
            self._last_recv_ns = int(recv[-1])
        self._log_stamp = stamp
        return changed, POLL_SECONDS

    def _new_gaps(self, day: dt.date, seq: np.ndarray, recv: np.ndarray) -> list[Gap]:
        finished = read_connection_events(connection_files(self._layout.root, day))
        running_events, running = read_running_events(self._layout.root)
        events = sorted([*finished, *running_events], key=lambda e: e.ts_ns)
        gaps = []
        for span in gap_spans(events, running):
            if span.end_ns in self._placed or not len(seq):
                continue
            gap = place_span(span, seq, recv, self._last_recv_ns)
            if gap is not None:
                self._placed.add(span.end_ns)
                gaps.append(gap)
        return distinct_gaps(gaps)

    def status(self) -> dict[str, object]:
        lag_ms = None
        if self._last_recv_ns >= 0:
            lag_ms = max(0, (self._clock_ns() - self._last_recv_ns) // 1_000_000)
        return {
            "state": "following" if self._last_recv_ns >= 0 else "waiting",
            "lag_ms": lag_ms,
            "stale": lag_ms is None or lag_ms > STALE_MS,
        }


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        info = path.stat()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StorageError(f"cannot read the commit log {path}: {exc.strerror}") from exc
    return info.st_size, info.st_mtime_ns


def _received(state: DayState, from_seq: int) -> tuple[np.ndarray, np.ndarray]:
    """`seq` and `recv_ns` (-1 when null) of the day's messages from `from_seq` on, in seq
    order: where gaps are placed and how late the view is."""
    seqs, stamps = [], []
    for part in state.table_parts("raw"):
        if part.last_seq < from_seq:
            continue
        try:
            table = pq.read_table(part.path, columns=["seq", "recv_ns"])
        except FileNotFoundError:
            raise
        except (OSError, pa.ArrowException) as exc:
            raise StorageError(f"cannot read {part.path}: {exc}") from exc
        seq = np.asarray(table.column("seq").to_numpy(), np.int64)
        keep = seq >= from_seq
        seqs.append(seq[keep])
        recv = np.asarray(table.column("recv_ns").fill_null(-1).to_numpy(), np.int64)
        stamps.append(recv[keep])
    if not seqs:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(seqs), np.concatenate(stamps)
