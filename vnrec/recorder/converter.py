"""The converter thread: closed journal segments into committed Parquet parts, in order.

Runs in its own thread so the message callback never waits on Parquet work. The backlog is
on disk (closed segments not yet converted), never in memory. Conversion itself is the
storage layer's (`vnrec.storage.segments`): one commit per segment, the segment deleted
only once committed.
"""

from __future__ import annotations

import datetime as dt
import logging
import queue
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Protocol

import pyarrow as pa

from vnrec.storage.commits import DayState
from vnrec.storage.day import DayWriter
from vnrec.storage.gaps import ConnectionEvent
from vnrec.storage.normalize import Normalizer
from vnrec.storage.segments import ConversionStats, TablesSink, convert_segment

log = logging.getLogger(__name__)

DayTablesSink = Callable[[dt.date, Mapping[str, pa.Table]], None]


class LiveSink(Protocol):
    """What follows the conversion live (`vnrec record --track`)."""

    def start_day(self, state: DayState) -> None:
        """Before the first batch of a day: the day's committed state so far."""

    def on_tables(self, day: dt.date, tables: Mapping[str, pa.Table]) -> None:
        """Each converted batch, in seq order."""

    def on_connection(self, event: ConnectionEvent) -> None:
        """Each event of this run's `connections` log, as it is logged (another thread)."""


class BackgroundConverter:
    """Converts segments handed over by the journals, one at a time, in order. The first
    failure stops conversion (later segments would leave a seq gap) and is kept in `error`
    for the recorder's supervisor; the segments stay on disk for the next start."""

    def __init__(self, live: LiveSink | None = None) -> None:
        self._live = live
        self._started: set[dt.date] = set()
        self._queue: queue.Queue[tuple[DayWriter, Path] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="vnrec-convert", daemon=True)
        self.stats = ConversionStats()
        self.error: BaseException | None = None
        self._pending = 0
        self._lock = threading.Lock()

    @property
    def backlog(self) -> int:
        """Closed segments waiting for conversion."""
        with self._lock:
            return self._pending

    def start(self) -> None:
        self._thread.start()

    def submit(self, writer: DayWriter, segment: Path) -> None:
        with self._lock:
            self._pending += 1
        self._queue.put((writer, segment))

    def _sink(self, writer: DayWriter) -> TablesSink | None:
        live = self._live
        if live is None:
            return None
        if writer.day not in self._started:
            self._started.add(writer.day)
            live.start_day(writer.state)
        day = writer.day
        return lambda tables: live.on_tables(day, tables)

    def _run(self) -> None:
        normalizer: Normalizer | None = None
        try:
            normalizer = Normalizer(threads=1)
        except Exception as exc:  # noqa: BLE001 - handed to the supervisor, which stops
            log.error("cannot start converting (segments kept for the next start): %s", exc)
            self.error = exc
        try:
            self._convert_all(normalizer)
        finally:
            if normalizer is not None:
                normalizer.close()

    def _convert_all(self, normalizer: Normalizer | None) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            writer, segment = item
            try:
                if self.error is None and normalizer is not None:
                    convert_segment(writer, segment, self.stats, self._sink(writer), normalizer)
            except Exception as exc:  # noqa: BLE001 - handed to the supervisor, which stops
                log.error("conversion of %s failed (kept for the next start): %s", segment, exc)
                self.error = exc
            finally:
                with self._lock:
                    self._pending -= 1

    def stop(self) -> None:
        """Finish every submitted segment, then stop."""
        self._queue.put(None)
        self._thread.join()
