"""Compute a compacted day's session stats with the SQL implementation and store them as
the day's stats cache (vnrec.storage.stats_cache)."""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

from vnrec.analytics.connection import DEFAULT_THREADS, read_views
from vnrec.analytics.reports import session_stats
from vnrec.storage.layout import Layout
from vnrec.storage.stats_cache import state_digest, store_stats

log = logging.getLogger(__name__)


def derive_day_stats(layout: Layout, day: dt.date, threads: int = DEFAULT_THREADS) -> Path | None:
    """Store the day's session stats; None (and nothing stored) when a writer committed
    while they were computed, since they would then describe neither state for sure."""
    before = layout.state(day)
    rows = read_views(layout.root, lambda con: session_stats(con, day), days=[day], threads=threads)
    after = layout.state(day)
    if state_digest(after) != state_digest(before):
        log.info("%s changed while its stats were computed: no stats cache stored", day)
        return None
    return store_stats(layout, day, after, rows)
