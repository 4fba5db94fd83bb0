"""Filing messages under their trading day: undated messages that open a run (a stock's
`B` bar has no `TradingDate`) take the day of the first dated one, not the wall clock's."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from vnrec.calendar import hcm_date_of_ns
from vnrec.recorder.days import UNDATED_WAIT_S, DayJournals, JournalSettings
from vnrec.storage.journal import journal_dir, list_segments, scan_segment
from vnrec.storage.layout import Layout

DAY = dt.date(2026, 2, 6)
RECV_NS = 1_796_674_826_000_000_000  # 2026-12-07 UTC: a wall-clock day far from DAY
BAR = '{"RType":"B","Symbol":"BID","TradingTime":"10:54:00","Close":43850.0}'
QUOTE = '{"RType":"X-QUOTE","TradingDate":"06/02/2026","Symbol":"BID"}'


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@contextmanager
def _journals(root: Path, clock: Clock) -> Iterator[DayJournals]:
    """The journals of a run, closed (what waits filed) and released at its end."""
    journals = DayJournals(
        Layout(root),
        JournalSettings(segment_bytes=1 << 20, segment_seconds=3600.0),
        "run-test",
        on_segment_closed=lambda writer, path: None,
        on_day_opened=lambda writer: None,
        monotonic=clock,
    )
    try:
        yield journals
    finally:
        journals.close()
        journals.release()


def _filed(root: Path, day: dt.date) -> list[tuple[int, str]]:
    return [
        (record.seq, record.content)
        for path in list_segments(journal_dir(root, day))
        for record in scan_segment(path).records
    ]


def test_undated_messages_opening_a_run_take_the_first_dated_ones_day(tmp_path: Path) -> None:
    clock = Clock()
    with _journals(tmp_path, clock) as journals:
        journals.receive("B", BAR, RECV_NS)
        journals.commit()
        assert journals.appended == 0  # waiting for a dated message
        clock.now = UNDATED_WAIT_S / 2
        journals.receive("X-QUOTE", QUOTE, RECV_NS + 1)
        journals.receive("B", BAR, RECV_NS + 2)  # after a dated one: its day at once
        journals.commit()
        assert journals.appended == 3
        assert [day for day, _ in journals.journals()] == [DAY]
    assert _filed(tmp_path, DAY) == [(1, BAR), (2, QUOTE), (3, BAR)]


def test_undated_messages_alone_go_under_their_receive_date_after_the_wait(
    tmp_path: Path,
) -> None:
    clock = Clock()
    wall_day = hcm_date_of_ns(RECV_NS)
    with _journals(tmp_path, clock) as journals:
        journals.receive("B", BAR, RECV_NS)
        journals.commit()
        clock.now = UNDATED_WAIT_S
        journals.commit()
        assert journals.appended == 1
        assert [day for day, _ in journals.journals()] == [wall_day]
    assert _filed(tmp_path, wall_day) == [(1, BAR)]


def test_undated_messages_still_waiting_at_the_stop_are_kept(tmp_path: Path) -> None:
    with _journals(tmp_path, Clock()) as journals:
        journals.receive("B", BAR, RECV_NS)
    assert journals.appended == 1
    assert _filed(tmp_path, hcm_date_of_ns(RECV_NS)) == [(1, BAR)]
