"""`vnrec import`: JSON Lines of SSI envelopes into the Parquet layout, through the same
normalizer and part writer as the recorder.

Lines are read in bounded batches. `seq` continues, per trading day, after what the day
already holds, in line order. A line that cannot be used is rejected (file, line, reason)
into `<root>/rejects/date=D/` and never reaches a data table; the lines around it are kept.

One command is one transaction: every part is written first, each day's commit log gets one
record for the import (invisible while pending), then the decision file makes all of them
visible at once (see vnrec.storage.commits). A failure or a kill before the decision leaves
the history as it was; running the same command again does the whole import. The decision
file also keeps the SHA-256 of every input file, so the same content is not imported twice
by mistake.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import gzip
import hashlib
import itertools
import logging
import os
import sys
import time
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import orjson
import polars as pl

from vnrec.calendar import HCM_UTC_OFFSET
from vnrec.defaults import IMPORT_BATCH_LINES
from vnrec.errors import AlreadyImportedError, BadInputError
from vnrec.ssi.envelope import EnvelopeError, parse_envelope_batch, parse_envelope_line
from vnrec.storage.commits import OP_IMPORT, PartFile, decided_transactions, write_tx
from vnrec.storage.day import DayWriter, open_day
from vnrec.storage.files import file_sha256, make_dirs_durable
from vnrec.storage.layout import Layout
from vnrec.storage.normalize import build_tables, decode

log = logging.getLogger(__name__)

DEFAULT_BATCH_LINES = IMPORT_BATCH_LINES

UNDATED = "no TradingDate, and neither recv_ns nor a dated line around it to place it by"
STDIN = "-"
_BOM = b"\xef\xbb\xbf"
_GZIP_MAGIC = b"\x1f\x8b"


@dataclass(frozen=True)
class Reject:
    source: str
    line: int
    reason: str
    text: str


@dataclass
class DayImport:
    day: dt.date
    first_seq: int
    last_seq: int
    rows: int


@dataclass
class ImportReport:
    lines: int = 0
    imported: int = 0
    rejected: int = 0
    days: dict[dt.date, DayImport] = field(default_factory=dict)
    rejects_files: list[Path] = field(default_factory=list)
    transaction: str = ""  # the id of the committed transaction ("" when nothing was stored)
    empty: list[str] = field(default_factory=list)  # inputs without a single line


@dataclass(frozen=True)
class SourceFile:
    """An input file as the import history keeps it."""

    path: str
    sha256: str
    bytes: int


RejectHandler = Callable[[Reject], None]


def _log_reject(reject: Reject) -> None:
    log.warning("%s:%d: rejected: %s", reject.source, reject.line, reject.reason)


class Importer:
    """One import transaction over a data root: holds the lock of every day it touches
    until `close()`, so seq numbers cannot interleave with another writer's. Nothing is
    visible until `commit()`; `close()` without it discards what was written."""

    def __init__(
        self,
        layout: Layout,
        *,
        append: bool = False,
        batch_lines: int = DEFAULT_BATCH_LINES,
        on_reject: RejectHandler = _log_reject,
    ) -> None:
        self.layout = layout
        self.append = append
        self.batch_lines = batch_lines
        self._on_reject = on_reject
        self._writers: dict[dt.date, DayWriter] = {}
        self._written: dict[dt.date, list[PartFile]] = {}
        self._next_seq: dict[dt.date, int] = {}
        self._sources: list[SourceFile] = []
        self._carry_day: dt.date | None = None
        self._rejects_sinks: dict[dt.date | None, Any] = {}
        self._import_id = f"{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}"
        self.report = ImportReport()

    # -- public ---------------------------------------------------------------------------

    def import_lines(self, lines: Iterable[bytes], source: str) -> ImportReport:
        for first_line, batch in _batches(lines, self.batch_lines):
            self._import_batch(first_line, batch, source)
        return self.report

    def add_source(self, source: SourceFile) -> None:
        """An input file of this import, for its history (and duplicate checks)."""
        self._sources.append(source)

    def commit(self, *, again: bool = True) -> ImportReport:
        """Make everything written visible at once (a no-op when nothing was written).
        Without `again`, content an earlier import stored is refused here, where the input
        of a pipe is known too."""
        days = sorted(day for day, parts in self._written.items() if parts)
        if not days:
            return self.report
        if not again:
            check_not_imported(self.layout, self._sources)
        tx = f"import-{self._import_id}"
        for day in days:
            self._writers[day].commit(OP_IMPORT, self._written[day], tx=tx)
        decision = {
            "tx": tx,
            "op": OP_IMPORT,
            "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "files": [dataclasses.asdict(f) for f in self._sources],
            "days": {
                day.isoformat(): {
                    "seq": [self.report.days[day].first_seq, self.report.days[day].last_seq],
                    "rows": self.report.days[day].rows,
                }
                for day in days
            },
        }
        write_tx(self.layout.root, tx, decision)  # the commit point
        self._written.clear()  # committed: never discarded from here on
        self.report.transaction = tx
        for day in days:
            self._writers[day].finish_tx(tx)
        return self.report

    def close(self) -> None:
        for sink in self._rejects_sinks.values():
            sink.flush()
            os.fsync(sink.fileno())
            sink.close()
        self._rejects_sinks.clear()
        try:
            self._discard()
        finally:
            for writer in self._writers.values():
                writer.close()
            self._writers.clear()

    def _discard(self) -> None:
        """Remove the parts of an import that did not commit (the next writer of the day
        would remove them anyway; this keeps a failed import from leaving files behind)."""
        for parts in self._written.values():
            for part in parts:
                part.path.unlink(missing_ok=True)
        self._written.clear()

    def __enter__(self) -> Importer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- one batch ------------------------------------------------------------------------

    def _import_batch(self, first_line: int, lines: list[bytes], source: str) -> None:
        rejects: list[Reject] = []
        line_numbers: list[int]
        line_texts: list[bytes]
        fast = parse_envelope_batch(b"".join(lines), len(lines))
        if fast is not None:
            self.report.lines += len(lines)
            line_numbers = list(range(first_line, first_line + len(lines)))
            line_texts = lines
            data_type_series, content_series, recv_ns = fast.data_types, fast.contents, fast.recv_ns
        else:
            line_numbers, line_texts = [], []
            data_types: list[str] = []
            contents: list[str] = []
            recv: list[int | None] = []
            for number, line in enumerate(lines, start=first_line):
                if not line.strip():
                    continue  # blank lines (a trailing newline) carry nothing
                self.report.lines += 1
                try:
                    envelope = parse_envelope_line(line)
                except EnvelopeError as exc:
                    rejects.append(Reject(source, number, str(exc), _text(line)))
                    continue
                line_numbers.append(number)
                line_texts.append(line)
                data_types.append(envelope.data_type)
                contents.append(envelope.content)
                recv.append(envelope.recv_ns)
            data_type_series = pl.Series(data_types, dtype=pl.String)
            content_series = pl.Series(contents, dtype=pl.String)
            recv_ns = pl.Series(recv, dtype=pl.Int64)
        decoded = decode(data_type_series, content_series)
        days = self._days(decoded.trading_dates, recv_ns)
        bad = dict(decoded.bad_rows)
        for row in days.is_null().arg_true().to_list():
            bad.setdefault(row, UNDATED)
        for row, reason in sorted(bad.items()):
            rejects.append(Reject(source, line_numbers[row], reason, _text(line_texts[row])))
        keep = pl.Series([row not in bad for row in range(decoded.rows)], dtype=pl.Boolean)
        tables = build_tables(
            decoded,
            seq=self._assign_seqs(days, keep),
            recv_ns=recv_ns,
            day=days,
            data_types=data_type_series,
            contents=content_series,
            keep=keep,
        )
        for day_batch in tables:
            self._written[day_batch.day] += self._writers[day_batch.day].write(day_batch)
            rows = day_batch.tables["raw"].num_rows
            self.report.imported += rows
            done = self.report.days.get(day_batch.day)
            if done is None:
                self.report.days[day_batch.day] = DayImport(
                    day_batch.day, day_batch.first_seq, day_batch.last_seq, rows
                )
            else:
                done.last_seq = day_batch.last_seq
                done.rows += rows
        for reject in sorted(rejects, key=lambda r: r.line):
            self._reject(reject)

    def _days(self, trading_dates: pl.Series, recv: pl.Series) -> pl.Series:
        """The trading day of each row: its TradingDate, else the day of the last dated
        line before it (the stream's current day), else its receive date in Ho Chi Minh
        City, else the day of the next dated line of the batch (see docs/design.md); null
        when none exists: such a line is rejected, never placed by the wall clock."""
        ns_per_day = 86_400 * 1_000_000_000
        hcm_offset_ns = int(HCM_UTC_OFFSET.total_seconds()) * 1_000_000_000
        recv_day = ((recv + hcm_offset_ns) // ns_per_day).cast(pl.Int32).cast(pl.Date)
        carried = trading_dates.forward_fill()
        if self._carry_day is not None:
            carried = carried.fill_null(self._carry_day)
        if trading_dates.drop_nulls().len():
            self._carry_day = trading_dates.drop_nulls()[-1]
        days = pl.DataFrame({"c": carried, "r": recv_day}).select(pl.coalesce("c", "r"))
        return days.to_series().fill_null(strategy="backward")

    def _assign_seqs(self, days: pl.Series, keep: pl.Series) -> pl.Series:
        """Consecutive seq numbers per day in row order, continuing the day's last seq;
        0 for rows that are not kept."""
        kept_days = days.filter(keep)
        for day in kept_days.unique().sort().to_list():
            self._open_day(day)
        frame = pl.DataFrame({"day": days, "keep": keep}).with_row_index("row")
        kept = frame.filter(pl.col("keep"))
        bases = pl.DataFrame(
            {"day": list(self._next_seq), "base": list(self._next_seq.values())},
            schema={"day": pl.Date, "base": pl.Int64},
        )
        numbered = kept.join(bases, on="day", how="left", maintain_order="left").with_columns(
            (pl.col("base") + pl.int_range(pl.len(), dtype=pl.Int64).over("day")).alias("seq")
        )
        for day, count in numbered.group_by("day").len().iter_rows():
            self._next_seq[day] += count
        return (
            frame.join(numbered.select("row", "seq"), on="row", how="left", maintain_order="left")
            .select(pl.col("seq").fill_null(0))
            .to_series()
        )

    def _open_day(self, day: dt.date) -> None:
        """First touch of a day: lock and recover it (the recorder's unconverted journal
        included, so its seqs are taken first), and refuse to add to a day that already
        holds data unless appending."""
        if day in self._writers:
            return
        writer = open_day(self.layout, day)
        self._writers[day] = writer
        self._written[day] = []
        last = writer.next_seq - 1
        if last and not self.append:
            raise AlreadyImportedError(
                f"{day} already holds seq 1-{last}; importing again would duplicate it."
                " Pass --append to add these lines after them."
            )
        self._next_seq[day] = writer.next_seq

    def _reject(self, reject: Reject) -> None:
        self.report.rejected += 1
        self._on_reject(reject)
        day = self._carry_day
        sink = self._rejects_sinks.get(day)
        if sink is None:
            directory = self.layout.rejects_dir(day)
            make_dirs_durable(directory)
            path = directory / f"import-{self._import_id}.jsonl"
            sink = open(path, "ab")  # noqa: SIM115 - kept open across batches, closed in close()
            self._rejects_sinks[day] = sink
            self.report.rejects_files.append(path)
        sink.write(orjson.dumps(dataclasses.asdict(reject)) + b"\n")


def _text(line: bytes) -> str:
    return line.rstrip(b"\r\n").decode("utf-8", errors="replace")


def _batches(lines: Iterable[bytes], size: int) -> Iterator[tuple[int, list[bytes]]]:
    """Lists of up to `size` lines with the number of their first line."""
    iterator = iter(lines)
    first = 1
    while batch := list(itertools.islice(iterator, size)):
        yield first, batch
        first += len(batch)


def describe_sources(paths: Iterable[Path]) -> list[SourceFile]:
    """Path, SHA-256 and size of each input file (stdin is described once read)."""
    sources = []
    for path in paths:
        if str(path) == STDIN:
            continue
        try:
            sources.append(SourceFile(str(path), file_sha256(path), path.stat().st_size))
        except IsADirectoryError:
            raise BadInputError(f"{path} is a directory, not a JSON Lines file") from None
        except OSError as exc:
            raise BadInputError(f"cannot read {path}: {exc.strerror}") from exc
    return sources


def check_not_imported(layout: Layout, sources: list[SourceFile]) -> None:
    """Refuse content that this command names twice or that an earlier import stored."""
    seen: dict[str, str] = {}
    for source in sources:
        if source.sha256 in seen:
            raise AlreadyImportedError(
                f"{source.path} has the same content as {seen[source.sha256]} in this"
                " command; pass --again to import it twice"
            )
        seen[source.sha256] = source.path
    for decision in decided_transactions(layout.root):
        for earlier in decision.get("files", ()):
            path = seen.get(str(earlier.get("sha256")))
            if path is not None:
                days = ", ".join(sorted(decision.get("days", {})))
                raise AlreadyImportedError(
                    f"{path} was already imported (same content as {earlier.get('path')},"
                    f" {decision.get('tx')} at {decision.get('at')}, into {days});"
                    " pass --again to import it again"
                )


class _Input:
    """The lines of one input: a file, gzip-compressed or not, or stdin (`-`); a UTF-8
    byte order mark at the start is skipped. Hashes what it reads when the source was not
    described beforehand (stdin)."""

    def __init__(self, path: str, described: SourceFile | None) -> None:
        self.path = path
        self._described = described
        self._hash = hashlib.sha256() if described is None else None
        self._size = 0
        self.lines = 0

    def read(self) -> Iterator[bytes]:
        with self._open() as handle:
            first = True
            for line in handle:
                if self._hash is not None:
                    self._hash.update(line)
                    self._size += len(line)
                if first:
                    line = line.removeprefix(_BOM)  # noqa: PLW2901 - the first line only
                    first = False
                self.lines += 1
                yield line

    def _open(self) -> BinaryIO:
        if self.path == STDIN:
            return contextlib.nullcontext(sys.stdin.buffer)  # type: ignore[return-value]
        try:
            raw = open(self.path, "rb")  # noqa: SIM115 - returned to the caller's with
            if raw.read(2) == _GZIP_MAGIC:
                raw.seek(0)
                return gzip.open(raw, "rb")  # type: ignore[return-value]
            raw.seek(0)
            return raw
        except OSError as exc:
            raise BadInputError(f"cannot read {self.path}: {exc.strerror}") from exc

    def source(self) -> SourceFile:
        if self._described is not None:
            return self._described
        assert self._hash is not None
        return SourceFile(self.path, self._hash.hexdigest(), self._size)


def import_files(
    layout: Layout,
    paths: Iterable[Path],
    *,
    append: bool = False,
    again: bool = False,
    on_reject: RejectHandler = _log_reject,
    batch_lines: int = DEFAULT_BATCH_LINES,
) -> ImportReport:
    """Import JSON Lines files (or `-`, stdin; `.gz` read as such) in order as one
    transaction (seq continues across files). Empty inputs are reported in
    `report.empty`; an import that stores nothing at all commits nothing."""
    paths = list(paths)
    described = {source.path: source for source in describe_sources(paths)}
    if not again:
        check_not_imported(layout, list(described.values()))
    with Importer(layout, append=append, on_reject=on_reject, batch_lines=batch_lines) as importer:
        for path in paths:
            given = _Input(str(path), described.get(str(path)))
            try:
                importer.import_lines(given.read(), given.path)
            except (OSError, EOFError, zlib.error) as exc:
                # a truncated or damaged .gz, or a read error in the middle of a file
                raise BadInputError(f"cannot read {given.path}: {exc}") from exc
            importer.add_source(given.source())
            if not given.lines:
                importer.report.empty.append(given.path)
        return importer.commit(again=again)


def import_envelopes(
    layout: Layout,
    envelopes: Iterable[Mapping[str, Any]],
    *,
    source: str = "<memory>",
    append: bool = False,
    on_reject: RejectHandler = _log_reject,
) -> ImportReport:
    """Import envelopes given as mappings (tests, the emulator's ground truth)."""
    lines = (orjson.dumps(dict(e)) for e in envelopes)
    with Importer(layout, append=append, on_reject=on_reject) as importer:
        importer.import_lines(lines, source)
        return importer.commit()
