"""The journals of the trading days one recording touches.

The websocket thread only queues what arrives (`receive`, `reject`): no lock, no file, no
seq. The group-commit thread drains the queue in arrival order (`commit`): it files each
message under its day, opens the day's journal when it is new (the day is locked and
recovered, so what an earlier run left is committed first and seq continues after what the
day holds), stamps the seq, writes and fsyncs. A kill loses what was queued or buffered
since the last commit, as before; a day that cannot be opened (another process writes it)
fails the commit thread, which stops the recording.

A message is filed under its `TradingDate`; one without (bars often have none) under the
day of the last dated message of the stream. Undated messages that open a run wait for
its first dated one and take its day, for UNDATED_WAIT_S at most: then they are filed
under their receive date in Ho Chi Minh City (and a kill meanwhile loses them, as it loses
what was queued since the last commit). In real use every message of a session has the
same date; the emulator replaying a past day is why the date comes from the messages."""

from __future__ import annotations

import datetime as dt
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import orjson

from vnrec.calendar import hcm_date_of_ns
from vnrec.ssi.envelope import trading_date_of
from vnrec.storage.day import DayWriter, open_day
from vnrec.storage.files import make_dirs_durable
from vnrec.storage.journal import Journal, journal_dir
from vnrec.storage.layout import Layout


@dataclass(frozen=True)
class JournalSettings:
    segment_bytes: int
    segment_seconds: float


@dataclass(frozen=True)
class Rejected:
    """A frame that is not an SSI envelope: it has no seq and goes to the rejects file."""

    recv_ns: int
    reason: str
    text: str


_Message = tuple[str, str, int]  # data type, content, recv_ns

# How long undated messages that open a run wait for a dated one (a live stream has dated
# quotes and trades every second).
UNDATED_WAIT_S = 2.0


class DayJournals:
    def __init__(
        self,
        layout: Layout,
        settings: JournalSettings,
        run_id: str,
        *,
        on_segment_closed: Callable[[DayWriter, Path], None],
        on_day_opened: Callable[[DayWriter], None],
        monotonic: Callable[[], float],
    ) -> None:
        self._layout = layout
        self._settings = settings
        self._run_id = run_id
        self._on_segment_closed = on_segment_closed
        self._on_day_opened = on_day_opened
        self._monotonic = monotonic
        self._inbox: deque[_Message | Rejected] = deque()
        self._journals: dict[dt.date, Journal] = {}
        self._first_seq: dict[dt.date, int] = {}
        self._writers: list[DayWriter] = []
        self._commit_lock = threading.Lock()
        self._undated: list[_Message] = []  # opening a run, waiting for a dated message
        self._undated_since = 0.0
        self._current_day: dt.date | None = None
        self.appended = 0  # messages stamped with a seq
        self.rejected: list[Path] = []  # rejects files written

    @property
    def current_day(self) -> dt.date | None:
        return self._current_day

    # -- the websocket thread -------------------------------------------------------------

    def receive(self, data_type: str, content: str, recv_ns: int) -> None:
        """Queue one message (deque.append is atomic: no lock on the websocket thread)."""
        self._inbox.append((data_type, content, recv_ns))

    def reject(self, rejected: Rejected) -> None:
        self._inbox.append(rejected)

    # -- the group-commit thread ----------------------------------------------------------

    def commit(self) -> None:
        """File, stamp and journal what was queued, then write and fsync every journal."""
        with self._commit_lock:
            rejects: list[Rejected] = []
            inbox = self._inbox
            while inbox:
                item = inbox.popleft()
                if type(item) is tuple:
                    day = trading_date_of(item[1]) or self._current_day
                    if day is None:
                        if not self._undated:
                            self._undated_since = self._monotonic()
                        self._undated.append(item)
                        continue
                    self._file(day, [*self._undated, item])
                    self._undated = []
                else:
                    assert isinstance(item, Rejected)
                    rejects.append(item)
            if self._undated and self._monotonic() - self._undated_since >= UNDATED_WAIT_S:
                self._file_undated()
            for _, journal in self.journals():
                journal.commit()
            if rejects:
                self._write_rejects(rejects)

    def _file(self, day: dt.date, messages: list[_Message]) -> None:
        """Stamp and journal messages under `day`, in their order."""
        self._current_day = day
        journal = self._journals.get(day) or self._open(day)
        for data_type, content, recv_ns in messages:
            journal.append(data_type, content, recv_ns)
            self.appended += 1

    def _file_undated(self) -> None:
        """No dated message came: the waiting ones go under their receive date."""
        waiting, self._undated = self._undated, []
        self._file(hcm_date_of_ns(waiting[0][2]), waiting)

    def _open(self, day: dt.date) -> Journal:
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
        self._on_day_opened(writer)
        return journal

    def _write_rejects(self, rejects: list[Rejected]) -> None:
        day = self._current_day or hcm_date_of_ns(rejects[0].recv_ns)
        path = self._layout.rejects_dir(day) / f"record-{self._run_id}.jsonl"
        make_dirs_durable(path.parent)
        with open(path, "ab") as sink:
            for rejected in rejects:
                line = {"recv_ns": rejected.recv_ns, "reason": rejected.reason}
                sink.write(orjson.dumps({**line, "text": rejected.text}) + b"\n")
        if path not in self.rejected:
            self.rejected.append(path)

    # -- any thread -----------------------------------------------------------------------

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

    def close(self) -> None:
        """Journal what is still queued (undated messages under their receive date), then
        close every segment."""
        self.commit()
        with self._commit_lock:
            if self._undated:
                self._file_undated()
                for _, journal in self.journals():
                    journal.commit()
            for _, journal in self.journals():
                journal.close()

    def release(self) -> None:
        for writer in self._writers:
            writer.close()
        self._writers.clear()

    @property
    def bytes_written(self) -> int:
        return sum(journal.bytes_written for _, journal in self.journals())
