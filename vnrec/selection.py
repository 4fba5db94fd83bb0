"""Which days a command needs: a closed range of dates that also says itself in errors
("for 2026-02-06", "from ... to ..."). Picklable, so a worker on a cluster can be told
which day to fetch."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


@dataclass(frozen=True)
class DaySelection:
    first: dt.date
    last: dt.date
    text: str

    @classmethod
    def one(cls, day: dt.date) -> DaySelection:
        return cls(day, day, f"for {day}")

    def __call__(self, candidate: dt.date) -> bool:
        return self.first <= candidate <= self.last

    def __str__(self) -> str:
        return self.text
