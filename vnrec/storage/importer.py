"""`vnrec import`: JSON Lines of SSI envelopes into the Parquet layout, through the same
normalizer and part writer as the recorder.

Input is read in blocks of lines by a reader thread; each block is decoded in columns by
DuckDB (envelopes, then Content), numbered, and handed to a writer thread that writes its
parts while the next block is decoded, so reading, decoding and writing overlap on the
machine's cores. Parts are written with fast compression; compaction recompresses them.
`seq` continues, per trading day, after what the day already holds, in line order. A line
that cannot be used is rejected (file, line, reason) into `<root>/rejects/date=D/` and
never reaches a data table; the lines around it are kept.

One command is one transaction: every part is written first, each day's commit log gets one
record for the import (invisible while pending), then the decision file makes all of them
visible at once (see vnrec.storage.commits). A failure or a kill before the decision leaves
the history as it was; running the same command again does the whole import. The decision
file also keeps the SHA-256 of every input file (hashed on another thread while the import
runs), so the same content is not imported twice by mistake.
"""

from __future__ import annotations

import base64
import collections
import contextlib
import dataclasses
import datetime as dt
import functools
import gzip
import hashlib
import itertools
import logging
import os
import queue
import sys
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, TypeVar

import numpy as np
import numpy.typing as npt
import orjson
import polars as pl
import pyarrow as pa

from vnrec.calendar import HCM_UTC_OFFSET
from vnrec.defaults import IMPORT_BATCH_LINES
from vnrec.errors import AlreadyImportedError, BadInputError
from vnrec.ssi.envelope import EnvelopeError, parse_envelope_line
from vnrec.storage.commits import OP_IMPORT, PartFile, decided_transactions, write_tx
from vnrec.storage.day import DayWriter, open_day
from vnrec.storage.envelopes import LineBlock, decode_envelopes, newline_ends
from vnrec.storage.files import file_sha256, make_dirs_durable
from vnrec.storage.layout import Layout
from vnrec.storage.normalize import BatchTables, Normalizer, build_tables

if TYPE_CHECKING:
    import duckdb

log = logging.getLogger(__name__)

DEFAULT_BATCH_LINES = IMPORT_BATCH_LINES

UNDATED = "no TradingDate, and neither recv_ns nor a dated line around it to place it by"
STDIN = "-"
_BOM = b"\xef\xbb\xbf"
_GZIP_MAGIC = b"\x1f\x8b"
READ_BYTES = 16 << 20  # one read of the input
BLOCK_BYTES = 96 << 20  # a block is cut here even when it has fewer lines (bounds memory)
_WRITES_AHEAD = 2  # batches handed to the writer thread and not yet written
_BLOCKS_AHEAD = 2  # blocks read ahead of the decoder


@dataclass(frozen=True)
class Reject:
    source: str
    line: int
    reason: str
    text: str  # the line as text (invalid UTF-8 shown as U+FFFD)
    # The line's exact bytes (newline excluded), when `text` cannot hold them: not UTF-8.
    bytes_base64: str | None = None

    @staticmethod
    def of(source: str, line_number: int, reason: str, line: bytes) -> Reject:
        raw = line.rstrip(b"\r\n")
        try:
            return Reject(source, line_number, reason, raw.decode("utf-8"))
        except UnicodeDecodeError:
            exact = base64.b64encode(raw).decode("ascii")
            return Reject(source, line_number, reason, raw.decode("utf-8", "replace"), exact)


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
T = TypeVar("T")


@dataclass(frozen=True)
class _Lines:
    """The envelopes of a block's lines, in line order: `index` is each one's line index
    in the block."""

    index: npt.NDArray[np.int64]
    data_types: pa.Array
    contents: pa.ChunkedArray
    recv_ns: pa.Array

    def merged(self, exact: list[tuple[int, str, str, int | None]]) -> _Lines:
        """With the lines the per-line reader read, in line order."""
        index = np.concatenate([self.index, np.array([e[0] for e in exact], dtype=np.int64)])
        order = pa.array(np.argsort(index, kind="stable"))
        contents = pa.chunked_array(
            [*self.contents.chunks, pa.array([e[2] for e in exact], self.contents.type)],
            self.contents.type,
        )
        return _Lines(
            index[order.to_numpy()],
            pa.concat_arrays([self.data_types, pa.array([e[1] for e in exact], pa.string())]).take(
                order
            ),
            contents.take(order),
            pa.concat_arrays([self.recv_ns, pa.array([e[3] for e in exact], pa.int64())]).take(
                order
            ),
        )


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
        threads: int | None = None,
    ) -> None:
        self.layout = layout
        self.append = append
        self.batch_lines = batch_lines
        self._on_reject = on_reject
        # One DuckDB thread per connection: the import's own threads (reading, envelopes,
        # Content, writing) keep the cores busy, and measured faster than two each.
        self._normalizer = Normalizer(threads=threads or 1)
        self._writer_thread = ThreadPoolExecutor(1, thread_name_prefix="vnrec-import-write")
        self._raw_writer_thread = ThreadPoolExecutor(1, thread_name_prefix="vnrec-import-raw")
        self._cursors: list[duckdb.DuckDBPyConnection] = []
        self._pending_writes: collections.deque[tuple[dt.date, Future[list[PartFile]]]] = (
            collections.deque()
        )
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
        """Import lines given one by one (each with or without its newline); returns once
        their parts are written (not committed)."""
        iterator = iter(lines)
        first = 1
        while batch := list(itertools.islice(iterator, self.batch_lines)):
            data = b"".join(line if line.endswith(b"\n") else line + b"\n" for line in batch)
            self.import_block(LineBlock.of(first, data), source)
            first += len(batch)
        self._wait_for_writes(0)
        return self.report

    def import_block(self, block: LineBlock, source: str) -> None:
        """Decode, number and hand one block of lines to the writer thread."""
        self.import_envelopes(read_envelopes(self._normalizer.connection, block, source))

    def envelope_reader(self) -> Callable[[LineBlock, str], BlockEnvelopes]:
        """`read_envelopes` on a connection of its own, for a thread other than this one's
        (closed with the importer)."""
        cursor = self._normalizer.connection.cursor()
        self._cursors.append(cursor)
        return functools.partial(read_envelopes, cursor)

    def import_envelopes(self, read: BlockEnvelopes) -> None:
        """Number the envelopes of a block and hand them to the writer thread."""
        self.report.lines += read.counted
        rejects = list(read.rejects)
        if read.lines is not None:
            self._import_envelopes(read.block, read.lines, read.source, rejects)
        for reject in sorted(rejects, key=lambda r: r.line):
            self._reject(reject)

    def add_source(self, source: SourceFile) -> None:
        """An input file of this import, for its history (and duplicate checks)."""
        self._sources.append(source)

    def commit(self, *, again: bool = True) -> ImportReport:
        """Make everything written visible at once (a no-op when nothing was written).
        Without `again`, content an earlier import stored is refused here, where the input
        of a pipe is known too."""
        self._wait_for_writes(0)
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
        try:
            with contextlib.suppress(Exception):  # the failure that got us here is raised
                self._wait_for_writes(0)
            self._writer_thread.shutdown(wait=True)
            self._raw_writer_thread.shutdown(wait=True)
            for cursor in self._cursors:
                cursor.close()
            self._normalizer.close()
            for sink in self._rejects_sinks.values():
                sink.flush()
                os.fsync(sink.fileno())
                sink.close()
            self._rejects_sinks.clear()
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

    # -- one block ------------------------------------------------------------------------

    def _import_envelopes(
        self,
        block: LineBlock,
        lines: _Lines,
        source: str,
        rejects: list[Reject],
    ) -> None:
        decoded = self._normalizer.decode(lines.data_types, lines.contents)
        recv_ns = pl.Series(lines.recv_ns, dtype=pl.Int64)
        days = self._days(decoded.trading_dates, recv_ns)
        bad = dict(decoded.bad_rows)
        for row in days.is_null().arg_true().to_list():
            bad.setdefault(row, UNDATED)
        for row, reason in sorted(bad.items()):
            index = int(lines.index[row])
            line = block.line(index)
            rejects.append(Reject.of(source, block.first_line + index, reason, line))
        keep = np.ones(decoded.rows, dtype=bool)
        keep[list(bad)] = False
        keep_series = pl.Series(keep)
        tables = build_tables(
            decoded,
            seq=self._assign_seqs(days, keep_series),
            recv_ns=recv_ns,
            day=days,
            data_types=lines.data_types,
            contents=lines.contents,
            keep=keep_series,
        )
        for day_batch in tables:
            self._write(day_batch)
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

    def _write(self, batch: BatchTables) -> None:
        """Hand the batch to the writer thread, after the oldest write when too many are
        pending (bounds memory; a failed write is raised here, or at commit or close)."""
        self._wait_for_writes(_WRITES_AHEAD - 1)
        writer = self._writers[batch.day]
        future = self._writer_thread.submit(
            writer.write, batch, fast=True, raw_writer=self._raw_writer_thread
        )
        self._pending_writes.append((batch.day, future))

    def _wait_for_writes(self, pending: int) -> None:
        while len(self._pending_writes) > pending:
            day, future = self._pending_writes.popleft()
            self._written[day] += future.result()

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
        dated = trading_dates.drop_nulls()
        if len(dated):
            self._carry_day = dated[-1]
        if carried.null_count() == 0:
            return carried
        days = pl.DataFrame({"c": carried, "r": recv_day}).select(pl.coalesce("c", "r"))
        return days.to_series().fill_null(strategy="backward")

    def _assign_seqs(self, days: pl.Series, keep: pl.Series) -> pl.Series:
        """Consecutive seq numbers per day in row order, continuing the day's last seq;
        0 for rows that are not kept."""
        kept_days = days.filter(keep)
        unique = kept_days.unique().sort().to_list()
        for day in unique:
            self._open_day(day)
        if len(unique) == 1:
            # One day (nearly every block): seq is a range over the kept rows.
            day = unique[0]
            kept = keep.to_numpy()
            seq = np.zeros(len(kept), dtype=np.int64)
            count = int(kept.sum())
            seq[kept] = np.arange(self._next_seq[day], self._next_seq[day] + count)
            self._next_seq[day] += count
            return pl.Series(seq)
        frame = pl.DataFrame({"day": days, "keep": keep}).with_row_index("row")
        kept_rows = frame.filter(pl.col("keep"))
        bases = pl.DataFrame(
            {"day": list(self._next_seq), "base": list(self._next_seq.values())},
            schema={"day": pl.Date, "base": pl.Int64},
        )
        numbered = kept_rows.join(bases, on="day", how="left", maintain_order="left").with_columns(
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


@dataclass(frozen=True)
class BlockEnvelopes:
    """A block read as envelopes: those to import (None: not one), the lines rejected
    already, and how many lines were not blank."""

    block: LineBlock
    source: str
    lines: _Lines | None
    rejects: list[Reject]
    counted: int


def read_envelopes(con: duckdb.DuckDBPyConnection, block: LineBlock, source: str) -> BlockEnvelopes:
    """The block's envelopes in line order; what DuckDB does not read as the usual shape
    is read line by line (and rejected with its reason when it is no envelope)."""
    envelopes = decode_envelopes(con, block)
    lines = _Lines(
        envelopes.index.to_numpy(),
        envelopes.data_types,
        envelopes.contents,
        envelopes.recv_ns,
    )
    blank = len(envelopes.blank)
    rejects: list[Reject] = []
    exact: list[tuple[int, str, str, int | None]] = []
    for index in envelopes.irregular:
        line = block.line(index)
        if not line.strip():
            blank += 1  # blank lines carry nothing
            continue
        try:
            envelope = parse_envelope_line(line.rstrip(b"\r\n"))
        except EnvelopeError as exc:
            rejects.append(Reject.of(source, block.first_line + index, str(exc), line))
            continue
        exact.append((index, envelope.data_type, envelope.content, envelope.recv_ns))
    if exact:
        lines = lines.merged(exact)
    if not len(lines.index):
        return BlockEnvelopes(block, source, None, rejects, block.lines - blank)
    return BlockEnvelopes(block, source, lines, rejects, block.lines - blank)


def describe_sources(paths: Iterable[Path]) -> list[tuple[str, int]]:
    """Path and size of each input file, refusing what cannot be read as one."""
    sources = []
    for path in paths:
        if str(path) == STDIN:
            continue
        try:
            with open(path, "rb"):
                pass
            sources.append((str(path), path.stat().st_size))
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
    """The lines of one input, in blocks: a file, gzip-compressed or not, or stdin (`-`);
    a UTF-8 byte order mark at the start is skipped. Hashes what it reads when the source
    was not hashed beforehand (stdin)."""

    def __init__(self, path: str, size: int | None) -> None:
        self.path = path
        self._hash = hashlib.sha256() if path == STDIN else None
        self._size = size or 0
        self.lines = 0

    def blocks(self, batch_lines: int) -> Iterator[LineBlock]:
        with self._open() as handle:
            yield from _read_blocks(handle, batch_lines, self._on_read)

    def _on_read(self, chunk: bytes, lines: int) -> None:
        if self._hash is not None:
            self._hash.update(chunk)
            self._size += len(chunk)
        self.lines += lines

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

    def source(self, sha256: str | None) -> SourceFile:
        if self._hash is not None:
            return SourceFile(self.path, self._hash.hexdigest(), self._size)
        assert sha256 is not None
        return SourceFile(self.path, sha256, self._size)


def _read_blocks(
    handle: BinaryIO, batch_lines: int, on_read: Callable[[bytes, int], None]
) -> Iterator[LineBlock]:
    """Blocks of up to `batch_lines` whole lines (fewer past BLOCK_BYTES), every line
    ending with a newline (one is added to a last line without it). Each byte is copied
    once into its block: reads are kept as they come and joined when a block is cut."""
    chunks: list[bytes] = []
    size = 0  # bytes in chunks
    ends: list[npt.NDArray[np.int64]] = []  # offsets just past each newline, per chunk
    lines = 0  # newlines in chunks
    first_line = 1
    start = True
    eof = False
    while True:
        if not eof and lines < batch_lines and not (lines and size >= BLOCK_BYTES):
            chunk = handle.read(READ_BYTES)
            found = newline_ends(chunk)
            on_read(chunk, len(found))
            if start:
                start = False
                if chunk.startswith(_BOM):
                    chunk, found = chunk[len(_BOM) :], found - len(_BOM)
            if not chunk:
                eof = True
                if size and not (chunks[-1].endswith(b"\n")):
                    chunks.append(b"\n")
                    ends.append(np.array([size + 1], dtype=np.int64))
                    size, lines = size + 1, lines + 1
                    on_read(b"", 1)
                continue
            chunks.append(chunk)
            ends.append(found + size)
            size += len(chunk)
            lines += len(found)
            continue
        if not lines:
            return
        offsets = np.concatenate(ends)
        take = min(lines, batch_lines)
        cut = int(offsets[take - 1])
        data = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        starts = np.zeros(take + 1, dtype=np.int64)
        starts[1:] = offsets[:take]
        rest = data[cut:]
        yield LineBlock(first_line, memoryview(data)[:cut] if rest else data, starts)
        first_line += take
        chunks, size = ([rest], len(rest)) if rest else ([], 0)
        ends, lines = [offsets[take:] - cut], lines - take


def _prefetched(items: Iterator[T], depth: int) -> Iterator[T]:
    """`items`, produced by a reader thread up to `depth` ahead; its failure is raised
    here, and leaving early stops it."""
    done = object()
    ready: queue.Queue[Any] = queue.Queue(depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        ready.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            ready.put(done)
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, which raises it
            ready.put(exc)

    reader = threading.Thread(target=produce, name="vnrec-import-read", daemon=True)
    reader.start()
    try:
        while (item := ready.get()) is not done:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        with contextlib.suppress(queue.Empty):
            while True:
                ready.get_nowait()
        reader.join()


def _hash_file(path: str) -> str:
    try:
        return file_sha256(Path(path))
    except OSError as exc:
        raise BadInputError(f"cannot read {path}: {exc.strerror}") from exc


def import_files(
    layout: Layout,
    paths: Iterable[Path],
    *,
    append: bool = False,
    again: bool = False,
    on_reject: RejectHandler = _log_reject,
    batch_lines: int = DEFAULT_BATCH_LINES,
    threads: int | None = None,
) -> ImportReport:
    """Import JSON Lines files (or `-`, stdin; `.gz` read as such) in order as one
    transaction (seq continues across files). Empty inputs are reported in
    `report.empty`; an import that stores nothing at all commits nothing."""
    paths = list(paths)
    sizes = dict(describe_sources(paths))
    with (
        ThreadPoolExecutor(1, thread_name_prefix="vnrec-import-hash") as hashing,
        Importer(
            layout, append=append, on_reject=on_reject, batch_lines=batch_lines, threads=threads
        ) as importer,
    ):
        hashes = {path: hashing.submit(_hash_file, path) for path in sizes}
        checked = again
        for path in paths:
            given = _Input(str(path), sizes.get(str(path)))
            read = importer.envelope_reader()
            blocks = _prefetched(given.blocks(batch_lines), _BLOCKS_AHEAD)
            try:
                # three threads: reading, decoding envelopes, and this one (then the writer)
                for envelopes in _prefetched((read(b, given.path) for b in blocks), 1):
                    importer.import_envelopes(envelopes)
                    if not checked and all(h.done() for h in hashes.values()):
                        # The earliest moment a repeated import can be refused.
                        check_not_imported(layout, _hashed(hashes))
                        checked = True
            except (OSError, EOFError, zlib.error) as exc:
                # a truncated or damaged .gz, or a read error in the middle of a file
                raise BadInputError(f"cannot read {given.path}: {exc}") from exc
            given_hash = hashes[given.path].result() if given.path in hashes else None
            importer.add_source(given.source(given_hash))
            if not given.lines:
                importer.report.empty.append(given.path)
        return importer.commit(again=again)


def _hashed(hashes: Mapping[str, Future[str]]) -> list[SourceFile]:
    return [SourceFile(path, future.result(), 0) for path, future in hashes.items()]


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
