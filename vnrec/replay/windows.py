"""Seq windows: the per-table batch streams of a day cut into windows that each hold, for
every table, the rows of one seq range, so that a batch operator can process a window as a
whole (an `X` message's trade and book parts always land in the same window).

Each stream yields Arrow batches in increasing seq order, and may yield a mark between
them: an int, the seq up to which it has yielded every row (a Parquet source marks the end
of each part). A stream is read one batch ahead, or up to its next mark: the first seq of
its newest batch, or the mark read after its last batch, bounds what it holds. A window
takes every held row up to the smallest such bound among the tables, where everything has
been read from every table. At most two batches per stream are held, so memory does not
grow with the day. Marks let a table with no rows for a while (the `raw` rows of
DataTypes vnrec does not model: most days none) answer for a part without reading on to
its next row, which would hold every window until the end of the day's parts.
"""

from __future__ import annotations

import math
import queue
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from vnrec.errors import StorageError

Window = Mapping[str, pa.Table]
Batches = Iterable[pa.RecordBatch | int]  # batches in seq order, and marks (see above)


class _Stream:
    """One table's batches, read one batch ahead or up to a mark: the first seq of the
    last batch read, or the mark read after it, bounds what the batches before it hold."""

    __slots__ = ("batches", "done", "last_seq", "mark", "name", "seqs", "source")

    def __init__(self, name: str, source: Iterator[pa.RecordBatch | int]) -> None:
        self.name = name
        self.source = source
        self.batches: list[pa.RecordBatch] = []
        self.seqs: list[npt.NDArray[np.int64]] = []
        self.done = False
        self.last_seq = -1
        self.mark: int | None = None  # read after the newest batch: held rows reach it

    def refill(self) -> None:
        """Hold at least two non-empty batches, or read up to a mark, or every batch left."""
        while not self.done and len(self.batches) < 2:
            item = next(self.source, None)
            if item is None:
                self.done = True
                return
            if isinstance(item, int):
                if item < self.last_seq:
                    raise StorageError(f"table {self.name}: mark {item} behind seq {self.last_seq}")
                self.last_seq = self.mark = item
                return
            if not item.num_rows:
                continue
            seqs = np.asarray(item.column("seq").to_numpy(zero_copy_only=False), np.int64)
            if seqs[0] <= self.last_seq or np.any(seqs[1:] <= seqs[:-1]):
                raise StorageError(f"table {self.name}: seq not strictly increasing")
            self.last_seq = int(seqs[-1])
            self.mark = None
            self.batches.append(item)
            self.seqs.append(seqs)

    @property
    def complete_until(self) -> float:
        """Every row of this table with a seq up to this is held (or was taken)."""
        if self.done:
            return math.inf
        if self.mark is not None:
            return self.mark
        return int(self.seqs[-1][0]) - 1

    @property
    def finished(self) -> bool:
        return self.done and not self.batches

    def take_until(self, horizon: float) -> list[pa.RecordBatch]:
        """Split off the held rows with seq <= horizon."""
        taken = []
        while self.batches:
            seqs = self.seqs[0]
            cut = (
                len(seqs)
                if horizon == math.inf
                else int(np.searchsorted(seqs, horizon, side="right"))
            )
            if cut == 0:
                break
            batch = self.batches[0]
            if cut == len(seqs):
                taken.append(batch)
                del self.batches[0], self.seqs[0]
                continue
            taken.append(batch.slice(0, cut))
            self.batches[0], self.seqs[0] = batch.slice(cut), seqs[cut:]
            break
        return taken


def seq_windows(streams: Sequence[tuple[str, Batches]]) -> Iterator[Window]:
    """Windows of rows by table name, in seq order; a table without rows in a window is
    absent from it. A window ends where some table's next unread batch may begin, so
    windows follow the batches (a recorder's parts) rather than cut them up."""
    pending = [_Stream(name, iter(source)) for name, source in streams]
    while True:
        for stream in pending:
            stream.refill()
        if all(stream.finished for stream in pending):
            return
        horizon = min(stream.complete_until for stream in pending)
        window: dict[str, pa.Table] = {}
        for stream in pending:
            taken = stream.take_until(horizon)
            if taken:
                window[stream.name] = pa.Table.from_batches(taken)
        if window:
            yield window


_DONE = object()


class _Failure:
    __slots__ = ("error",)

    def __init__(self, error: BaseException) -> None:
        self.error = error


class ReadAhead:
    """`windows`, read by a background thread up to `depth` windows ahead, so that Parquet
    decoding (which releases the GIL) overlaps the trackers' work on the window before.

    The thread starts at once, not when the first window is asked for: what the owner does
    before its loop (importing the trackers, building them) overlaps the first reads. The
    order is the source's; an exception of the reader is raised here, in the caller's
    thread. Used as a context manager: leaving it (done, failed or stopped early) stops
    the reader and waits for it."""

    def __init__(self, windows: Iterator[Window], depth: int = 1) -> None:
        self._slots: queue.Queue[object] = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._last: object = None  # _DONE or the _Failure, once the owner has taken it
        self._reader = threading.Thread(
            target=self._read, args=(windows,), name="vnrec-read-ahead", daemon=True
        )
        self._reader.start()

    def _put(self, item: object) -> bool:
        while not self._stop.is_set():
            try:
                self._slots.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _read(self, windows: Iterator[Window]) -> None:
        try:
            for window in windows:
                if not self._put(window):
                    return
        except BaseException as exc:  # noqa: BLE001 - every failure goes to the owner, who raises it
            self._put(_Failure(exc))
            return
        self._put(_DONE)

    def __iter__(self) -> Iterator[Window]:
        """The windows; once the reader is done, iterating again ends at once (or raises
        its failure again) instead of waiting for windows that will never come."""
        while True:
            item = self._last if self._last is not None else self._slots.get()
            if item is _DONE or isinstance(item, _Failure):
                self._last = item
            if item is _DONE:
                return
            if isinstance(item, _Failure):
                raise item.error
            yield item  # type: ignore[misc]

    def close(self) -> None:
        self._stop.set()
        self._reader.join()

    def __enter__(self) -> ReadAhead:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
