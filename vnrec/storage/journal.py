"""The recorder's append-only journal: every message is on disk, in arrival order, before
any Parquet work happens.

A day's journal is a directory of segment files `segment-<first_seq>.journal`, each a
sequence of blocks, one per group commit:

    <u32 record count><u32 body length><u32 crc32 of body> body
    body = i64 seq[n] | i64 recv_ns[n] | u16 type length[n] | u32 content length[n]
           | data types (UTF-8, concatenated) | contents (UTF-8, concatenated)

The message callback only stamps a seq and appends to in-memory columns under a lock; the
group commit encodes the pending messages as one block, writes and fsyncs it at least every
`commit_interval` seconds, so a kill loses at most what arrived within the last interval. A
block is all or nothing: a torn tail is cut at the last complete block. Segments are
rotated by size and age; a closed segment is handed to the converter and removed once its
rows are in Parquet.
"""

from __future__ import annotations

import datetime as dt
import itertools
import logging
import os
import struct
import threading
import zlib
from array import array
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from vnrec.errors import StorageError
from vnrec.storage.files import fsync_dir, make_dirs_durable

log = logging.getLogger(__name__)

_BLOCK_HEADER = struct.Struct("<III")
SEGMENT_GLOB = "segment-*.journal"
TORN_DIR = "torn"


def segment_name(first_seq: int) -> str:
    return f"segment-{first_seq:012d}.journal"


def encode_block(
    seqs: list[int], recv_ns: list[int], types: list[str], contents: list[str]
) -> list[bytes]:
    """One block as buffers for `os.writev`: header first, the body in parts, so that a
    block of hundreds of megabytes a second is not copied again to be concatenated."""
    type_bytes = [t.encode() for t in types]
    content_bytes = [c.encode() for c in contents]
    parts = [
        array("q", seqs).tobytes(),
        array("q", recv_ns).tobytes(),
        array("H", map(len, type_bytes)).tobytes(),
        array("I", map(len, content_bytes)).tobytes(),
        b"".join(type_bytes),
        b"".join(content_bytes),
    ]
    crc = 0
    for part in parts:
        crc = zlib.crc32(part, crc)
    header = _BLOCK_HEADER.pack(len(seqs), sum(map(len, parts)), crc)
    return [header, *parts]


@dataclass(frozen=True, slots=True)
class JournalRecord:
    seq: int
    recv_ns: int
    data_type: str
    content: str


def _decode_block(body: bytes, count: int) -> list[JournalRecord]:
    offset = 0
    columns: list[array[int]] = []
    for code, size in (("q", 8), ("q", 8), ("H", 2), ("I", 4)):
        column = array(code)
        column.frombytes(body[offset : offset + size * count])
        columns.append(column)
        offset += size * count
    seqs, recv_ns, type_lengths, content_lengths = columns
    records: list[JournalRecord] = []
    type_ends = list(itertools.accumulate(type_lengths, initial=offset))
    content_ends = list(itertools.accumulate(content_lengths, initial=type_ends[-1]))
    for i in range(count):
        records.append(
            JournalRecord(
                seqs[i],
                recv_ns[i],
                body[type_ends[i] : type_ends[i + 1]].decode(),
                body[content_ends[i] : content_ends[i + 1]].decode(),
            )
        )
    return records


@dataclass(frozen=True)
class SegmentScan:
    records: list[JournalRecord]
    valid_bytes: int  # length of the prefix made of complete, checksummed blocks
    total_bytes: int

    @property
    def torn_bytes(self) -> int:
        return self.total_bytes - self.valid_bytes


def scan_segment(path: Path) -> SegmentScan:
    """Read every complete block; stop at the first incomplete or corrupt one (a torn tail)."""
    data = path.read_bytes()
    records: list[JournalRecord] = []
    offset = 0
    end = len(data)
    while offset + _BLOCK_HEADER.size <= end:
        count, length, crc = _BLOCK_HEADER.unpack_from(data, offset)
        start = offset + _BLOCK_HEADER.size
        if start + length > end:
            break
        body = data[start : start + length]
        if zlib.crc32(body) != crc or length < 22 * count:
            if _sound_block_at(data, start + length):
                # A crash leaves at most one bad block, the last: a sound one after it
                # means this one was damaged later, and cutting here would drop both.
                raise StorageError(
                    f"{path}: the journal block at byte {offset:,} is damaged (its checksum"
                    " differs) and sound blocks follow it; the segment cannot be converted"
                )
            break
        try:
            records.extend(_decode_block(body, count))
        except UnicodeDecodeError as exc:
            raise StorageError(
                f"{path}: the journal block at byte {offset:,} holds text that is not UTF-8"
                f" ({exc.reason}); the segment cannot be converted"
            ) from exc
        offset = start + length
    return SegmentScan(records, offset, end)


def _sound_block_at(data: bytes, offset: int) -> bool:
    """A whole block with a matching checksum starts at `offset`."""
    if offset + _BLOCK_HEADER.size > len(data):
        return False
    count, length, crc = _BLOCK_HEADER.unpack_from(data, offset)
    start = offset + _BLOCK_HEADER.size
    if count == 0 or start + length > len(data):
        return False
    return bool(zlib.crc32(data[start : start + length]) == crc)


@dataclass(frozen=True)
class TornTail:
    segment: Path
    records_kept: int
    bytes_dropped: int
    kept_aside: Path


def repair_segment(path: Path) -> TornTail | None:
    """Cut a torn tail at the last complete record, keeping the dropped bytes aside."""
    scan = scan_segment(path)
    if not scan.torn_bytes:
        return None
    aside_dir = path.parent / TORN_DIR
    make_dirs_durable(aside_dir)
    aside = aside_dir / f"{path.name}.{scan.valid_bytes}.torn"
    with open(path, "rb") as source:
        source.seek(scan.valid_bytes)
        aside.write_bytes(source.read())
    with open(path, "r+b") as target:
        target.truncate(scan.valid_bytes)
        os.fsync(target.fileno())
    fsync_dir(aside_dir)
    return TornTail(path, len(scan.records), scan.torn_bytes, aside)


def list_segments(directory: Path) -> list[Path]:
    return sorted(directory.glob(SEGMENT_GLOB)) if directory.is_dir() else []


class Journal:
    """One day's journal being written. Thread-safe `append`; `commit` is called by the
    group-commit thread (or directly in tests and at stop)."""

    def __init__(
        self,
        directory: Path,
        *,
        first_seq: int,
        segment_bytes: int = 64 * 1024 * 1024,
        segment_seconds: float = 10.0,
        on_segment_closed: Callable[[Path], None] = lambda _path: None,
        monotonic: Callable[[], float],
    ) -> None:
        self.directory = directory
        self._next_seq = first_seq
        self._segment_bytes = segment_bytes
        self._segment_seconds = segment_seconds
        self._on_segment_closed = on_segment_closed
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._seqs: list[int] = []
        self._recv_ns: list[int] = []
        self._types: list[str] = []
        self._contents: list[str] = []
        self._file: int | None = None
        self._segment: Path | None = None
        self._segment_size = 0
        self._segment_opened = 0.0
        self.committed_seq = first_seq - 1
        self.bytes_written = 0
        make_dirs_durable(directory)

    @property
    def last_seq(self) -> int:
        """The last seq handed out (appended, possibly not yet committed)."""
        return self._next_seq - 1

    def append(self, data_type: str, content: str, recv_ns: int) -> int:
        """Stamp the next seq on a message and buffer it; returns the seq."""
        with self._lock:
            seq = self._next_seq
            self._next_seq = seq + 1
            self._seqs.append(seq)
            self._recv_ns.append(recv_ns)
            self._types.append(data_type)
            self._contents.append(content)
            return seq

    def commit(self) -> int:
        """Write and fsync what was appended; rotate the segment when it is big or old.
        Returns the number of records committed."""
        with self._lock:
            seqs, recv_ns, types, contents = self._seqs, self._recv_ns, self._types, self._contents
            self._seqs, self._recv_ns, self._types, self._contents = [], [], [], []
        if seqs:
            if self._file is None:
                self._open_segment(seqs[0])
            assert self._file is not None
            buffers = encode_block(seqs, recv_ns, types, contents)
            size = sum(map(len, buffers))
            written = os.writev(self._file, buffers)
            if written != size:  # a short write (disk full?) must not leave half a block
                raise OSError(f"journal write of {size} bytes wrote only {written}")
            os.fsync(self._file)
            self._segment_size += size
            self.bytes_written += size
            self.committed_seq = seqs[-1]
        if self._file is not None and (
            self._segment_size >= self._segment_bytes
            or self._monotonic() - self._segment_opened >= self._segment_seconds
        ):
            self.close_segment()
        return len(seqs)

    def close_segment(self) -> None:
        if self._file is None or self._segment is None:
            return
        os.close(self._file)
        closed = self._segment
        self._file = None
        self._segment = None
        self._on_segment_closed(closed)

    def close(self) -> None:
        self.commit()
        self.close_segment()

    def _open_segment(self, first_seq: int) -> None:
        self._segment = self.directory / segment_name(first_seq)
        self._file = os.open(self._segment, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        fsync_dir(self.directory)
        self._segment_size = 0
        self._segment_opened = self._monotonic()


def journal_dir(root: Path, day: dt.date) -> Path:
    return root / "journal" / f"date={day.isoformat()}"


def journal_days(root: Path) -> list[dt.date]:
    base = root / "journal"
    if not base.is_dir():
        return []
    days = []
    for entry in base.iterdir():
        if entry.name.startswith("date=") and list_segments(entry):
            days.append(dt.date.fromisoformat(entry.name[5:]))
    return sorted(days)
