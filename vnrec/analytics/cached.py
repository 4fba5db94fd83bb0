"""Answers that use the per-day results stored at compaction where they are current, and
compute from the parts only the days that have none (docs/design.md, "Stored results")."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

from vnrec.analytics.connection import DEFAULT_THREADS, read_views
from vnrec.analytics.reports import Row, basis_series
from vnrec.storage.basis_cache import fresh_basis_cache
from vnrec.storage.layout import Layout


def basis_over_days(
    root: Path,
    days: Sequence[dt.date],
    *,
    interval: str = "1m",
    contract: str = "front",
    threads: int = DEFAULT_THREADS,
) -> list[Row]:
    """`basis_series` over `days` (recorded days, in order): the days with a current basis
    cache read it; the connection lists the parts of the other days only."""
    layout = Layout(root)
    cached = {day: path for day in days if (path := fresh_basis_cache(layout, day)) is not None}
    computed = [day for day in days if day not in cached]
    return read_views(
        root,
        lambda con: basis_series(
            con, min(days), max(days), interval=interval, contract=contract, cached=cached
        ),
        days=computed,
        threads=threads,
    )
