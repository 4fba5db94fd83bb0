"""A unit of work on one day of a data root: a replay, a day's stats, candles or alerts.

Days are independent (state never crosses days, SPEC.md 7.2), so a range is its days'
works, run in this process, in worker processes or as tasks on a cluster, and gathered in
date order. A work is a frozen dataclass of plain values, so that it pickles: a worker
builds what it needs (trackers, DuckDB connections) itself, and `at()` points it at the
worker's own copy of the data root (a day mirrored from object storage)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, ClassVar, Self


@dataclass(frozen=True)
class DayWork:
    root: Path
    day: dt.date

    label: ClassVar[str] = "work"  # what progress lines and errors call it: "replay", "stats"

    def at(self, root: Path) -> Self:
        return replace(self, root=root)

    def run(self) -> Any:
        raise NotImplementedError

    def abandoned(self) -> None:
        """Called when a run stops before this work was done, once nothing runs it any
        more: remove what it left half-written."""
