"""Merge per-table event streams into one stream in seq order, a chunk at a time.

Each stream yields chunks in increasing seq order. The merge takes, from every stream's
current chunk, the events up to the smallest "last seq" among those chunks (everything
below it is complete), sorts that slice by seq with a stable sort so that events of the
same seq keep the order of the streams (an `X`'s trade part before its book part), and
yields it. At most one chunk per stream is held, so memory does not grow with the day.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Sequence

import numpy as np

from vnrec.errors import StorageError
from vnrec.events import Event
from vnrec.replay.convert import Chunk


class _Stream:
    __slots__ = ("chunk", "last_seq", "name", "source")

    def __init__(self, name: str, source: Iterator[Chunk]) -> None:
        self.name = name
        self.source = source
        self.chunk: Chunk | None = None
        self.last_seq = -1

    def refill(self) -> bool:
        """Make sure a non-empty chunk is pending; False once the stream is exhausted."""
        while self.chunk is None or len(self.chunk.events) == 0:
            chunk = next(self.source, None)
            if chunk is None:
                self.chunk = None
                return False
            seqs = chunk.seqs
            if len(seqs) and (seqs[0] <= self.last_seq or np.any(seqs[1:] <= seqs[:-1])):
                raise StorageError(f"table {self.name}: seq not strictly increasing")
            if len(seqs):
                self.last_seq = int(seqs[-1])
            self.chunk = chunk
        return True

    def take_until(self, horizon: int) -> Chunk:
        """Split off the pending events with seq <= horizon."""
        assert self.chunk is not None
        seqs, events = self.chunk
        cut = int(np.searchsorted(seqs, horizon, side="right"))
        if cut == len(events):
            self.chunk = None
            return Chunk(seqs, events)
        self.chunk = Chunk(seqs[cut:], events[cut:])
        return Chunk(seqs[:cut], events[:cut])


def merge_by_seq(streams: Sequence[tuple[str, Iterable[Chunk]]]) -> Iterator[Chunk]:
    """Chunks of events in seq order, with their seqs; ties keep the order of `streams`.

    A chunk never splits a seq: every event of one message is in the same chunk."""
    pending = [_Stream(name, iter(source)) for name, source in streams]
    while True:
        active = [stream for stream in pending if stream.refill()]
        if not active:
            return
        horizon = min(stream.last_seq for stream in active)
        parts = [stream.take_until(horizon) for stream in active]
        parts = [part for part in parts if len(part.events)]
        if len(parts) == 1:
            yield parts[0]
            continue
        seqs = np.concatenate([part.seqs for part in parts])
        order = np.argsort(seqs, kind="stable")
        # An object array reorders in C; events are tuples, so numpy must not see them as
        # rows of a 2-D array: fromiter stores each one as a single object.
        everything = np.fromiter(
            itertools.chain.from_iterable(part.events for part in parts),
            dtype=object,
            count=len(order),
        )
        merged: list[Event] = everything[order].tolist()
        yield Chunk(seqs[order], merged)
