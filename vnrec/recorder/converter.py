"""Journal segments into Parquet parts, in seq order, with the same normalizer and part
writer as `vnrec import`; then the segment is deleted.

Runs in its own thread so the message callback never waits on Parquet work. The backlog is
on disk (closed segments not yet converted), never in memory. A crash between writing the
parts and deleting the segment is harmless: records whose seq the day already holds are
skipped when the segment is converted again.
"""

from __future__ import annotations

import datetime as dt
import logging
import queue
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
import pyarrow as pa

from vnrec.recorder.journal import JournalRecord, list_segments, repair_segment, scan_segment
from vnrec.storage.layout import Layout
from vnrec.storage.normalize import build_tables, decode
from vnrec.storage.writer import PartWriter, fsync_dir, recover_day

log = logging.getLogger(__name__)

TablesSink = Callable[[Mapping[str, pa.Table]], None]
# Records decoded at once: bounds the converter's memory whatever the message rate.
CONVERT_BATCH = 50_000


@dataclass
class ConversionStats:
    segments: int = 0
    rows: int = 0
    skipped: int = 0  # records already in Parquet (a crash after commit, before delete)
    bad_content: int = 0  # kept in raw only: Content was not a JSON object
    torn: list[str] = field(default_factory=list)


def convert_segment(
    layout: Layout,
    day: dt.date,
    segment: Path,
    stats: ConversionStats,
    on_tables: TablesSink | None = None,
) -> None:
    """Convert one closed segment of `day` (the day's lock must be held) and delete it."""
    torn = repair_segment(segment)
    if torn is not None:
        message = (
            f"{segment}: torn tail cut after {torn.records_kept} records,"
            f" {torn.bytes_dropped} bytes kept aside in {torn.kept_aside}"
        )
        log.warning("%s", message)
        stats.torn.append(message)
    records = scan_segment(segment).records
    already = layout.last_seq(day)
    fresh = [r for r in records if r.seq > already]
    stats.skipped += len(records) - len(fresh)
    writer = PartWriter(layout)
    for start in range(0, len(fresh), CONVERT_BATCH):
        _convert_batch(writer, day, fresh[start : start + CONVERT_BATCH], stats, on_tables)
    segment.unlink()
    fsync_dir(segment.parent)
    stats.segments += 1


def _convert_batch(
    writer: PartWriter,
    day: dt.date,
    records: list[JournalRecord],
    stats: ConversionStats,
    on_tables: TablesSink | None,
) -> None:
    data_types = pl.Series([r.data_type for r in records], dtype=pl.String)
    contents = pl.Series([r.content for r in records], dtype=pl.String)
    decoded = decode(data_types, contents)
    stats.bad_content += len(decoded.bad_rows)
    for row, reason in sorted(decoded.bad_rows.items()):
        log.warning("seq %d of %s kept in raw only: %s", records[row].seq, day, reason)
    batches = build_tables(
        decoded,
        seq=pl.Series([r.seq for r in records], dtype=pl.Int64),
        recv_ns=pl.Series([r.recv_ns for r in records], dtype=pl.Int64),
        day=pl.Series([day] * len(records), dtype=pl.Date),
        data_types=data_types,
        contents=contents,
        keep=pl.Series([True] * len(records), dtype=pl.Boolean),
    )
    for batch in batches:
        writer.commit(batch)
        if on_tables is not None:
            on_tables(batch.tables)
    stats.rows += len(records)


def convert_pending(
    layout: Layout,
    day: dt.date,
    directory: Path,
    stats: ConversionStats,
    on_tables: TablesSink | None = None,
) -> None:
    """Convert every segment left in a day's journal directory, oldest first."""
    recover_day(layout, day)
    for segment in list_segments(directory):
        convert_segment(layout, day, segment, stats, on_tables)


DayTablesSink = Callable[[dt.date, Mapping[str, pa.Table]], None]


class BackgroundConverter:
    """Converts segments handed over by the journals, one at a time, in order."""

    def __init__(self, layout: Layout, on_tables: DayTablesSink | None = None) -> None:
        self._layout = layout
        self._on_tables = on_tables
        self._queue: queue.Queue[tuple[dt.date, Path] | None] = queue.Queue()
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

    def submit(self, day: dt.date, segment: Path) -> None:
        with self._lock:
            self._pending += 1
        self._queue.put((day, segment))

    def _sink(self, day: dt.date) -> TablesSink | None:
        on_tables = self._on_tables
        if on_tables is None:
            return None
        return lambda tables: on_tables(day, tables)

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            day, segment = item
            try:
                if self.error is None:
                    convert_segment(self._layout, day, segment, self.stats, self._sink(day))
            except (OSError, ValueError, pa.ArrowException) as exc:
                # The segment stays on disk and is converted on the next start; stop
                # converting so that seq order is kept.
                log.error("conversion of %s failed (kept for the next start): %s", segment, exc)
                self.error = exc
            finally:
                with self._lock:
                    self._pending -= 1

    def stop(self) -> None:
        """Finish every submitted segment, then stop."""
        self._queue.put(None)
        self._thread.join()
