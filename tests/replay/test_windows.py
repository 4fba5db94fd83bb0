"""Seq windows (every row once, by seq ranges, with and without the parts' marks; a table of
marks only holds no window) and the read-ahead thread of a replay: it starts reading at once
(before the first window is asked for), keeps the source's order, hands a reader's failure
to its owner and ends whenever its owner leaves, iterating or not."""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Iterator

import pyarrow as pa
import pytest

from vnrec.errors import StorageError
from vnrec.replay.windows import ReadAhead, Window, seq_windows

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


def _batch(seqs: list[int]) -> pa.RecordBatch:
    return pa.record_batch({"seq": pa.array(seqs, pa.int64())})


def _day_streams(
    rng: random.Random, marks: bool
) -> tuple[list[tuple[str, list[pa.RecordBatch | int]]], dict[str, list[int]]]:
    """Three tables over seqs 1..300 in parts of 50 seqs (a seq in one table or, like an
    `X` message, in two), cut into random batches, with each part's mark or without."""
    rows: dict[str, list[int]] = {"trades": [], "quotes": [], "raw": []}
    for seq in range(1, 301):
        for table in rng.sample(sorted(rows), rng.choice((1, 1, 2))):
            rows[table].append(seq)
    rows["raw"] = [s for s in rows["raw"] if s % 7 == 0]  # a sparse table
    streams: list[tuple[str, list[pa.RecordBatch | int]]] = []
    for table, seqs in rows.items():
        items: list[pa.RecordBatch | int] = []
        for last in range(50, 301, 50):
            part = [s for s in seqs if last - 50 < s <= last]
            while part:
                size = rng.randint(1, 20)
                items.append(_batch(part[:size]))
                part = part[size:]
            if marks:
                items.append(last)
        streams.append((table, items))
    return streams, rows


@pytest.mark.parametrize("seed", range(6))
def test_windows_with_and_without_marks_hold_every_row_once_by_seq_range(seed: int) -> None:
    for marks in (False, True):
        streams, rows = _day_streams(random.Random(seed), marks)
        got: dict[str, list[int]] = {table: [] for table in rows}
        last_high = 0
        for window in seq_windows(streams):
            seqs = {t: window[t].column("seq").to_pylist() for t in window}
            low = min(s[0] for s in seqs.values())
            high = max(s[-1] for s in seqs.values())
            assert low > last_high  # windows are seq ranges, in order
            for table, values in rows.items():  # every row of the range is in this window
                assert seqs.get(table, []) == [v for v in values if low <= v <= high]
                got[table] += seqs.get(table, [])
            last_high = high
        assert got == rows


def test_a_table_of_marks_only_does_not_hold_the_first_window() -> None:
    """`raw` on a day without unknown DataTypes: each part yields only its mark. The first
    window needs the first part's mark, not a read through every part to the day's end."""
    pulled = []

    def raw() -> Iterator[pa.RecordBatch | int]:
        for last in range(100, 1_001, 100):
            pulled.append(last)
            yield last

    trades = [_batch(list(range(1, 101))), 100, _batch(list(range(101, 201))), 200]
    windows = seq_windows([("trades", trades), ("raw", raw())])
    first = next(windows)
    assert first["trades"].column("seq").to_pylist() == list(range(1, 101))
    assert pulled == [100]
    assert [w["trades"].num_rows for w in windows] == [100]
    assert pulled[-1] == 1_000


def test_a_mark_behind_the_rows_read_is_refused() -> None:
    with pytest.raises(StorageError, match="table trades: mark 3 behind seq 5"):
        list(seq_windows([("trades", [_batch([4, 5]), 3])]))


class _Halt(BaseException):
    """Not an Exception: what a source might raise that `except Exception` lets through."""


def _halting_source() -> Iterator[Window]:
    yield _window(1)
    raise _Halt("stopped")


def _within_bound(owner: Callable[[], None]) -> None:
    """Run `owner` on a thread and wait for it (bounded): a regression here is a hang,
    which must fail the test rather than stop the suite."""
    failures: list[BaseException] = []

    def run() -> None:
        try:
            owner()
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            failures.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(WAIT_S)
    assert not thread.is_alive(), "the owner is still waiting for a window"
    if failures:
        raise failures[0]


def test_a_reader_failure_of_any_kind_reaches_the_owner() -> None:
    """Found by an adversarial run: a BaseException that is not an Exception ended the
    reader without a word, and the owner waited for a window forever."""
    seen: list[int] = []

    def owner() -> None:
        with ReadAhead(_halting_source()) as windows:
            seen.extend(w["trades"].column("seq")[0].as_py() for w in windows)

    with pytest.raises(_Halt, match="stopped"):
        _within_bound(owner)
    assert seen == [1]
    assert not _reader_threads()


def test_iterating_again_after_the_end_ends_at_once() -> None:
    """Found by an adversarial run: a second iteration waited forever for the end mark
    the first had taken; it ends (or raises the reader's failure again) at once."""
    started = threading.Event()

    def owner() -> None:
        with ReadAhead(_source(2, started)) as windows:
            assert len(list(windows)) == 2
            assert list(windows) == []
        with ReadAhead(_source(5, started, fail_at=2)) as failing:
            for _ in range(2):
                with pytest.raises(OSError, match="cannot read part 2"):
                    list(failing)

    _within_bound(owner)
