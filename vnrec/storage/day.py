"""`DayWriter`: the one way to change a day of a data root.

Opening a day takes its lock and recovers it, so every writer (recorder, import,
compaction, `vnrec recover`) starts from the same clean, committed state:

1. an interrupted append at the end of the commit log is kept aside and cut off;
2. import transactions left pending are finished (their decision file exists) or dropped;
3. files the log does not name are invisible to readers: temporary files and parts whose
   seqs committed parts all hold (a compaction's, old or merged) are deleted; any other part (a
   crashed write's, or one whose record a damaged or truncated log lost) is moved to
   `_commits/aside/`, never deleted, since the log alone cannot tell which it is;
4. journal segments the recorder left are converted and committed, so that the day's seq
   authority, the commit log, covers every message ever journaled before anyone adds more.

A day whose parts were written before commit logs existed (vnrec 0.1) is refused until
adopted (`vnrec recover`), which checks them as 0.1 did and commits them as they are.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from collections.abc import Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import pyarrow as pa
import pyarrow.parquet as pq

from vnrec.errors import OverlapError, StorageError
from vnrec.ssi.channels import ALL_TABLES
from vnrec.storage.commits import (
    ASIDE_DIR,
    OP_ADOPT,
    OP_TX_COMMIT,
    DayLog,
    DayState,
    PartFile,
    commits_dir,
    make_record,
    tx_path,
)
from vnrec.storage.files import file_sha256, fsync_dir, make_dirs_durable
from vnrec.storage.journal import journal_dir, list_segments
from vnrec.storage.layout import PART_RE, Layout
from vnrec.storage.locks import DayLock
from vnrec.storage.normalize import BatchTables
from vnrec.storage.segments import ConversionStats, TablesSink, convert_segment
from vnrec.storage.verified import remember_parts
from vnrec.storage.writer import write_batch

log = logging.getLogger(__name__)


@dataclass
class RecoveryReport:
    day: dt.date
    removed: list[Path] = field(default_factory=list)
    aside: list[Path] = field(default_factory=list)  # where unnamed parts were moved
    torn_aside: Path | None = None
    finished_tx: list[str] = field(default_factory=list)
    dropped_tx: list[str] = field(default_factory=list)
    adopted: int = 0
    conversion: ConversionStats = field(default_factory=ConversionStats)

    def __bool__(self) -> bool:
        return bool(
            self.removed
            or self.aside
            or self.torn_aside
            or self.finished_tx
            or self.dropped_tx
            or self.adopted
            or self.conversion.segments
        )

    def lines(self) -> list[str]:
        day = self.day.isoformat()
        out = []
        if self.adopted:
            out.append(f"{day}: adopted {self.adopted} part files written by vnrec 0.1")
        if self.torn_aside:
            out.append(f"{day}: an interrupted commit was cut off (kept in {self.torn_aside})")
        for tx in self.finished_tx:
            out.append(f"{day}: finished import {tx} (it was decided before a crash)")
        for tx in self.dropped_tx:
            out.append(f"{day}: dropped import {tx} (interrupted before it committed)")
        if self.removed:
            out.append(f"{day}: removed {len(self.removed)} uncommitted files")
        if self.aside:
            out.append(
                f"{day}: moved {len(self.aside)} part files that no commit names to"
                f" {self.aside[0].parent.parent} (a crashed writer's, or those of a damaged"
                " commit log; check the day with `vnrec verify`, then delete them)"
            )
        stats = self.conversion
        if stats.segments:
            out.append(
                f"{day}: converted {stats.segments} journal segments ({stats.rows:,} messages"
                f" committed, {stats.skipped:,} already committed)"
            )
        out.extend(stats.torn)
        return out


class DayWriter:
    """Exclusive write access to one day: its lock and its commit log. Use `open_day`."""

    def __init__(self, layout: Layout, day: dt.date, lock: DayLock, day_log: DayLog) -> None:
        self.layout = layout
        self.day = day
        self._lock = lock
        self._log = day_log
        self.next_seq = day_log.state.last_seq + 1

    @property
    def state(self) -> DayState:
        return self._log.state

    def write(
        self, batch: BatchTables, *, fast: bool = False, raw_writer: Executor | None = None
    ) -> list[PartFile]:
        """Write a batch's part files (not yet committed); its seq range must continue the
        day exactly, so a day's seq stays gap-free and unique by construction."""
        if batch.day != self.day:
            raise StorageError(f"batch of {batch.day} given to the writer of {self.day}")
        if batch.first_seq != self.next_seq:
            raise OverlapError(
                f"seq {batch.first_seq}-{batch.last_seq} of {self.day} does not continue the"
                f" day's seq 1-{self.next_seq - 1}"
            )
        parts = write_batch(self.layout, batch, fast=fast, raw_writer=raw_writer)
        self.next_seq = batch.last_seq + 1
        return parts

    def commit(
        self,
        op: str,
        parts: Sequence[PartFile],
        *,
        source: str | None = None,
        tx: str | None = None,
        remove: Sequence[PartFile] = (),
    ) -> DayState:
        """Record `parts` (and the removal of `remove`) in one durable commit record."""
        raw = [p for p in parts if p.table == "raw"]
        seq = (min(p.first_seq for p in raw), max(p.last_seq for p in raw)) if raw else None
        if seq is not None and tx is None and not remove and seq[0] != self.state.last_seq + 1:
            raise OverlapError(
                f"commit of seq {seq[0]}-{seq[1]} does not continue {self.day}'s committed"
                f" seq 1-{self.state.last_seq}"
            )
        record = make_record(op, add=parts, remove=remove, source=source, seq=seq, tx=tx)
        state = self._log.append(record)
        remember_parts(self.layout.root, self.day, parts)
        return state

    def finish_tx(self, tx: str) -> DayState:
        """Make a decided transaction's records of this day visible without the decision."""
        return self._log.append(make_record(OP_TX_COMMIT, tx=tx))

    def checkpoint(self) -> None:
        """Rewrite the log as one record of the current state (after compaction)."""
        self._log.rewrite()

    def close(self) -> None:
        self._lock.release()

    def __enter__(self) -> DayWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def open_day(
    layout: Layout,
    day: dt.date,
    *,
    adopt: bool = False,
    on_tables: TablesSink | None = None,
    report: RecoveryReport | None = None,
) -> DayWriter:
    """Lock the day and recover it (see the module docstring). `on_tables` receives the
    tables of journal segments converted now; `report` is filled with what was done."""
    lock = DayLock(layout.root, day)
    lock.acquire()
    try:
        report = report if report is not None else RecoveryReport(day)
        return _recover(layout, day, lock, adopt, on_tables, report)
    except BaseException:
        lock.release()
        raise


def _recover(
    layout: Layout,
    day: dt.date,
    lock: DayLock,
    adopt: bool,
    on_tables: TablesSink | None,
    report: RecoveryReport,
) -> DayWriter:
    day_log = DayLog(layout.root, day)
    if not day_log.state.exists:
        if layout.disk_parts(day):
            if not adopt:
                raise StorageError(
                    f"{day.isoformat()} in {layout.root} has part files but no commit log"
                    " (written by vnrec 0.1); run `vnrec recover` to check and adopt them"
                )
            _adopt(layout, day, day_log, report)
        else:
            # An empty log from the start: parts without a log can then only be vnrec 0.1's.
            day_log.rewrite()
    report.torn_aside = day_log.cut_torn_tail()
    _settle_transactions(layout, day_log, report)
    _remove_uncommitted(layout, day, day_log.state, report)
    writer = DayWriter(layout, day, lock, day_log)
    for segment in list_segments(journal_dir(layout.root, day)):
        convert_segment(writer, segment, report.conversion, on_tables)
    for line in report.lines():
        log.warning("recovery: %s", line)
    return writer


def _settle_transactions(layout: Layout, day_log: DayLog, report: RecoveryReport) -> None:
    pending = sorted(day_log.state.pending)
    decided = [tx for tx in pending if tx_path(layout.root, tx).exists()]
    for tx in decided:
        day_log.append(make_record(OP_TX_COMMIT, tx=tx))
        report.finished_tx.append(tx)
    dropped = [tx for tx in pending if tx not in decided]
    if dropped:
        day_log.rewrite()  # keeps the committed state, leaves the abandoned records out
        report.dropped_tx.extend(dropped)


def _remove_uncommitted(
    layout: Layout, day: dt.date, state: DayState, report: RecoveryReport
) -> None:
    """Temporary files go, and so do parts whose seqs the committed parts of their table
    all hold (a compaction's old parts, or its merged file when it was killed before its
    commit). Any other part no commit names may hold rows stored nowhere else (its record
    lost to a damaged or truncated log): it is moved aside, never deleted."""
    for path in layout.disk_leftovers(day):
        path.unlink()
        report.removed.append(path)
    for table, paths in layout.disk_parts(day).items():
        committed = state.table_parts(table)
        names = {part.name for part in committed}
        stale = [path for path in paths if path.name not in names]
        for path in stale:
            if _covered(path, committed):
                path.unlink()
                report.removed.append(path)
            else:
                report.aside.append(_move_aside(layout, day, table, path))
        if stale:
            fsync_dir(layout.day_dir(table, day))


def _covered(path: Path, committed: list[PartFile]) -> bool:
    """Every seq of the part's range is in the range of some committed part."""
    match = PART_RE.match(path.name)
    if match is None:
        return False
    needed, last = int(match.group(1)), int(match.group(2))
    for part in sorted(committed, key=lambda p: p.first_seq):
        if part.first_seq > needed:
            break
        needed = max(needed, part.last_seq + 1)
        if needed > last:
            return True
    return False


def _move_aside(layout: Layout, day: dt.date, table: str, path: Path) -> Path:
    directory = commits_dir(layout.root) / ASIDE_DIR / f"date={day.isoformat()}" / table
    make_dirs_durable(directory)
    target = directory / path.name
    copies = 0
    while target.exists():  # the same seq range moved aside before
        copies += 1
        target = directory / f"{path.name}.{copies}"
    os.rename(path, target)
    fsync_dir(directory)
    return target


# -- adopting vnrec 0.1 days --------------------------------------------------------------


def _adopt(layout: Layout, day: dt.date, day_log: DayLog, report: RecoveryReport) -> None:
    """Commit a 0.1 day's parts as 0.1's readers saw them: parts inside a wider part were
    superseded by a compaction, normalized parts no raw part covers belong to a batch that
    never committed; both are removed with the temporary files."""
    on_disk = layout.disk_parts(day)
    raw = _visible(day, on_disk.get("raw", []))
    keep: list[PartFile] = []
    for table in ALL_TABLES:
        visible = raw if table == "raw" else _visible(day, on_disk.get(table, []))
        for part in visible:
            if any(r.first_seq <= part.first_seq and part.last_seq <= r.last_seq for r in raw):
                keep.append(_describe(table, part))
    if keep:
        record = make_record(OP_ADOPT, add=keep, note={"from": "vnrec 0.1 layout"})
        day_log.rewrite()
        day_log.append(record)
    report.adopted = len(keep)


def _visible(day: dt.date, paths: list[Path]) -> list[PartFile]:
    parts = []
    for path in paths:
        match = PART_RE.match(path.name)
        if match:
            parts.append(PartFile(int(match.group(1)), int(match.group(2)), path))
    visible: list[PartFile] = []
    for part in sorted(parts, key=lambda p: (p.first_seq, -p.last_seq)):
        if visible and part.last_seq <= visible[-1].last_seq:
            continue  # inside the previous (wider or equal) part: superseded
        if visible and part.first_seq <= visible[-1].last_seq:
            raise StorageError(
                f"{day}: overlapping part files {visible[-1].path} and {part.path};"
                " cannot adopt the day"
            )
        visible.append(part)
    return visible


def _describe(table: str, part: PartFile) -> PartFile:
    try:
        rows = pq.ParquetFile(part.path).metadata.num_rows
    except (OSError, pa.ArrowException) as exc:
        raise StorageError(f"cannot adopt {part.path}: unreadable ({exc})") from exc
    return PartFile(
        part.first_seq,
        part.last_seq,
        part.path,
        table,
        rows,
        part.path.stat().st_size,
        file_sha256(part.path),
    )
