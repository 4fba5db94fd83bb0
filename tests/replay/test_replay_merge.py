"""Merging per-table streams by seq: order, ties, chunk boundaries, and refusing disorder."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from vnrec.errors import StorageError
from vnrec.events import Event, StatusEvent
from vnrec.replay import merge_by_seq
from vnrec.replay.convert import Chunk


def chunks(name: str, seqs: list[int], size: int) -> Iterator[Chunk]:
    for start in range(0, len(seqs), size):
        part = seqs[start : start + size]
        events: list[Event] = [StatusEvent(s, None, None, name, None, None) for s in part]
        yield Chunk(np.array(part, dtype=np.int64), events)


def merged(streams: dict[str, list[int]], size: int) -> list[tuple[int, str | None]]:
    out: list[tuple[int, str | None]] = []
    for chunk in merge_by_seq([(n, chunks(n, s, size)) for n, s in streams.items()]):
        assert list(chunk.seqs) == [e.seq for e in chunk.events]
        out.extend((e.seq, e.symbol) for e in chunk.events if isinstance(e, StatusEvent))
    return out


@pytest.mark.parametrize("size", [1, 2, 3, 7, 100])
def test_merge_is_seq_order_whatever_the_chunk_sizes(size: int) -> None:
    """Interleaved streams come out in seq order; chunk sizes never change the result."""
    streams = {"a": [1, 4, 5, 9, 10], "b": [2, 3, 8], "c": [6, 7, 11, 12, 13]}
    assert [s for s, _ in merged(streams, size)] == list(range(1, 14))


@pytest.mark.parametrize("size", [1, 2, 5])
def test_same_seq_keeps_stream_order(size: int) -> None:
    """Two events with one seq (an X message) come in the order of the streams given."""
    streams = {"trades": [1, 3, 5], "quotes": [2, 3, 4, 5]}
    assert merged(streams, size) == [
        (1, "trades"),
        (2, "quotes"),
        (3, "trades"),
        (3, "quotes"),
        (4, "quotes"),
        (5, "trades"),
        (5, "quotes"),
    ]


def test_empty_streams() -> None:
    """No stream, or only empty ones, yields nothing."""
    assert merged({}, 3) == []
    assert merged({"a": [], "b": []}, 3) == []


def test_seq_going_backwards_is_refused() -> None:
    """A table whose seqs are not strictly increasing is a corrupt day, not silently resorted."""
    with pytest.raises(StorageError, match="not strictly increasing"):
        merged({"a": [1, 3, 2]}, 10)
    with pytest.raises(StorageError, match="not strictly increasing"):
        merged({"a": [1, 5, 4, 6]}, 2)  # across a chunk boundary
