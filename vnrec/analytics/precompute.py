"""Compute a compacted day's session stats and basis rows with the SQL implementation and
store them as the day's caches (vnrec.storage.stats_cache, vnrec.storage.basis_cache)."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa

from vnrec.analytics.connection import DEFAULT_THREADS, read_views
from vnrec.analytics.reports import basis_rows, session_stats
from vnrec.storage.basis_cache import store_basis
from vnrec.storage.layout import Layout
from vnrec.storage.stats_cache import Row, state_digest, store_stats

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DerivedFiles:
    stats: Path
    basis: Path


def derive_day_results(
    layout: Layout, day: dt.date, threads: int = DEFAULT_THREADS
) -> DerivedFiles | None:
    """Store the day's session stats and basis rows; None (and nothing stored) when a writer
    committed while they were computed, since they would then describe neither state for
    sure."""
    before = layout.state(day)

    def compute(con: duckdb.DuckDBPyConnection) -> tuple[list[Row], pa.Table]:
        return session_stats(con, day), basis_rows(con, day)

    stats, basis = read_views(layout.root, compute, days=[day], threads=threads)
    after = layout.state(day)
    if state_digest(after) != state_digest(before):
        log.info("%s changed while its results were computed: nothing stored", day)
        return None
    return DerivedFiles(
        store_stats(layout, day, after, stats), store_basis(layout, day, after, basis)
    )
