"""The read-ahead thread of a replay: it starts reading at once (before the first window is
asked for), keeps the source's order, hands a reader's failure to its owner and ends
whenever its owner leaves, iterating or not."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pyarrow as pa
import pytest

from vnrec.replay.windows import ReadAhead, Window

WAIT_S = 30.0  # a bound on condition waits only: each returns as soon as its event is set


def _window(seq: int) -> Window:
    return {"trades": pa.table({"seq": pa.array([seq], pa.int64())})}


def _source(count: int, started: threading.Event, fail_at: int | None = None) -> Iterator[Window]:
    started.set()
    for seq in range(1, count + 1):
        if seq == fail_at:
            raise OSError(f"cannot read part {seq}")
        yield _window(seq)


def _reader_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "vnrec-read-ahead"]


def test_the_reader_starts_before_the_first_window_is_asked_for() -> None:
    started = threading.Event()
    with ReadAhead(_source(3, started)) as windows:
        assert started.wait(WAIT_S)  # nothing iterated yet
        seqs = [w["trades"].column("seq")[0].as_py() for w in windows]
    assert seqs == [1, 2, 3]
    assert not _reader_threads()


def test_a_reader_failure_is_raised_in_the_owner_and_the_thread_ends() -> None:
    started = threading.Event()
    seen = []
    with (
        pytest.raises(OSError, match="cannot read part 3"),
        ReadAhead(_source(5, started, fail_at=3)) as windows,
    ):
        for window in windows:
            seen.append(window["trades"].column("seq")[0].as_py())
    assert seen == [1, 2]
    assert not _reader_threads()


def test_an_owner_that_fails_before_iterating_stops_the_reader() -> None:
    """A replay imports and builds its trackers while the reader runs: a failure there
    must not leave the reader blocked on a full queue."""
    started = threading.Event()
    with (
        pytest.raises(RuntimeError, match="trackers failed"),
        ReadAhead(_source(1_000, started), depth=1),
    ):
        assert started.wait(WAIT_S)
        raise RuntimeError("trackers failed")
    assert not _reader_threads()


def test_an_owner_that_stops_early_stops_the_reader() -> None:
    started = threading.Event()
    with ReadAhead(_source(1_000, started)) as windows:
        first = next(iter(windows))
    assert first["trades"].column("seq")[0].as_py() == 1
    assert not _reader_threads()
