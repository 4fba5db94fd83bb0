"""The journals of the trading days one recording touches.

A message is filed under its `TradingDate`; one without (bars often have none) under the
day of the last dated message of the stream, else its receive date in Ho Chi Minh City. A
day's journal is opened, under the day's lock, on its first message, with seq continuing
after what the day already holds. In real use every message of a session has the same
date; the emulator replaying a past day is why the date comes from the messages."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from vnrec.calendar import hcm_date_of_ns
from vnrec.ssi.envelope import trading_date_of
from vnrec.storage.day import DayWriter, open_day
from vnrec.storage.journal import Journal, journal_dir
from vnrec.storage.layout import Layout


@dataclass(frozen=True)
class JournalSettings:
    segment_bytes: int
    segment_seconds: float


class DayJournals:
    def __init__(
        self,
        layout: Layout,
        settings: JournalSettings,
        *,
        on_segment_closed: Callable[[DayWriter, Path], None],
        on_day_opened: Callable[[dt.date], None],
        monotonic: Callable[[], float],
    ) -> None:
        self._layout = layout
        self._settings = settings
        self._on_segment_closed = on_segment_closed
        self._on_day_opened = on_day_opened
        self._monotonic = monotonic
        self._journals: dict[dt.date, Journal] = {}
        self._first_seq: dict[dt.date, int] = {}
        self._writers: list[DayWriter] = []
        self._open_lock = threading.Lock()
        self._current_day: dt.date | None = None
        self.appended = 0

    @property
    def current_day(self) -> dt.date | None:
        return self._current_day

    def append(self, data_type: str, content: str, recv_ns: int) -> tuple[dt.date, int]:
        """File one message under its day; returns (day, seq). Called by one thread."""
        day = trading_date_of(content) or self._current_day or hcm_date_of_ns(recv_ns)
        self._current_day = day
        journal = self._journals.get(day) or self._open(day)
        self.appended += 1
        return day, journal.append(data_type, content, recv_ns)

    def _open(self, day: dt.date) -> Journal:
        with self._open_lock:
            writer = open_day(self._layout, day)
            self._writers.append(writer)
            first_seq = writer.next_seq
            journal = Journal(
                journal_dir(self._layout.root, day),
                first_seq=first_seq,
                segment_bytes=self._settings.segment_bytes,
                segment_seconds=self._settings.segment_seconds,
                on_segment_closed=lambda path: self._on_segment_closed(writer, path),
                monotonic=self._monotonic,
            )
            self._first_seq[day] = first_seq
            journals = dict(self._journals)
            journals[day] = journal
            self._journals = journals  # replaced whole: readers never see a dict mid-update
        self._on_day_opened(day)
        return journal

    def journals(self) -> list[tuple[dt.date, Journal]]:
        return sorted(self._journals.items())

    def seq_ranges(self) -> dict[dt.date, tuple[int, int]]:
        """Per day, the first and last committed seq of this recording."""
        return {
            day: (self._first_seq[day], journal.committed_seq)
            for day, journal in self.journals()
            if journal.committed_seq >= self._first_seq[day]
        }

    def last_seq(self) -> int:
        """The last seq handed out on the current day (0 before any message)."""
        day = self._current_day
        journal = self._journals.get(day) if day is not None else None
        return journal.last_seq if journal is not None else 0

    def commit(self) -> None:
        for _, journal in self.journals():
            journal.commit()

    def close(self) -> None:
        for _, journal in self.journals():
            journal.close()

    def release(self) -> None:
        for writer in self._writers:
            writer.close()
        self._writers.clear()

    @property
    def bytes_written(self) -> int:
        return sum(journal.bytes_written for _, journal in self.journals())
