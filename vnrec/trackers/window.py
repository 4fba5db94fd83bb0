"""The report window of a replay: which event times the results cover (SPEC.md 7.2).

The trackers always process the whole day, so counting, repeats, the book, foreign flow and
the VN30 value behind each basis come from the day's full state; the window only selects
what is reported: the counted trades (and repeats) whose event time is in [start, end), and
foreign and index figures as they stood at the window's end. An event without an event time
is outside any bounded window.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ReportWindow:
    start_ts: int | None = None  # UTC microseconds, inclusive
    end_ts: int | None = None  # UTC microseconds, exclusive

    @property
    def bounded(self) -> bool:
        return self.start_ts is not None or self.end_ts is not None

    def contains(self, event_ts: int | None) -> bool:
        if not self.bounded:
            return True
        if event_ts is None:
            return False
        if self.start_ts is not None and event_ts < self.start_ts:
            return False
        return self.end_ts is None or event_ts < self.end_ts

    def before_end(self, event_ts: int | None) -> bool:
        """Whether an event is part of the state as it stood at the window's end."""
        if not self.bounded:
            return True
        if event_ts is None:
            return False
        return self.end_ts is None or event_ts < self.end_ts


WHOLE_DAY = ReportWindow()
