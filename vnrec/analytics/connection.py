"""`connect(root)`: an in-memory DuckDB connection with every view of the data root.

The views list the part files present when they are registered; call `refresh` after new
data was written to see it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from pathlib import Path

import duckdb

from vnrec.analytics.contracts import symbol_prefixes, vn30_futures
from vnrec.analytics.derived import DERIVED_VIEW_NAMES, register_derived
from vnrec.analytics.sources import (
    KEYWORD_ALIASES,
    TABLES,
    TableFiles,
    layout_files,
    register_tables,
)
from vnrec.storage.layout import Layout

DEFAULT_THREADS = 2

# Views a user can query, in the order `vnrec query` lists them (internal ones start "_").
VIEW_NAMES: tuple[str, ...] = (
    *TABLES,
    *KEYWORD_ALIASES,
    "vn30_contracts",
    *(name for name in DERIVED_VIEW_NAMES if not name.startswith("_")),
)


def open_connection(
    files: TableFiles, *, threads: int = DEFAULT_THREADS
) -> duckdb.DuckDBPyConnection:
    """A connection with the views over exactly these files (per table)."""
    con = duckdb.connect(config={"threads": threads})
    try:
        # Timestamps are stored in UTC; showing them in the machine's zone would make
        # output depend on where vnrec runs.
        con.execute("SET TimeZone = 'UTC'")
        # The planner turns an ASOF join whose left side it estimates small into a nested
        # loop; its estimate after the trade filters is often tiny and the loop quadratic.
        con.execute("SET asof_loop_join_threshold = 0")
        # Parquet min/max statistics leave NaN out, and DuckDB's statistics propagation then
        # folds isnan(column) to false: a NaN price would pass as a number.
        con.execute("SET disabled_optimizers = 'statistics_propagation'")
        contracts = vn30_futures()
        con.register("_vn30_contracts_arrow", contracts)
        con.execute("CREATE TABLE vn30_contracts AS SELECT * FROM _vn30_contracts_arrow")
        con.unregister("_vn30_contracts_arrow")
        register_tables(con, files)
        register_derived(con, symbol_prefixes(contracts))
    except duckdb.Error:
        con.close()
        raise
    return con


def connect(
    root: str | Path,
    *,
    threads: int = DEFAULT_THREADS,
    days: Iterable[dt.date] | None = None,
) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with views over the data root (all days, or only `days`)."""
    return open_connection(layout_files(Layout(Path(root)), days), threads=threads)


def refresh(
    con: duckdb.DuckDBPyConnection, root: str | Path, *, days: Iterable[dt.date] | None = None
) -> None:
    """Re-list the part files so the views see data written since `connect`."""
    register_tables(con, layout_files(Layout(Path(root)), days))
