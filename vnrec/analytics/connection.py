"""`connect(root)`: an in-memory DuckDB connection with every view of the data root.

The views list the part files committed when they are registered; call `refresh` after new
data was written to see it.

The connection is sandboxed: DuckDB may read files under the data root only, cannot touch
any other file, install or load extensions, and its settings are locked, so that nothing
run through it (`vnrec query` in particular) can read `/etc/passwd` or change a setting
back. Writing into the data root is refused by `vnrec query`'s statement check
(vnrec.analytics.query).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TypeVar

import duckdb
import pyarrow as pa

from vnrec.analytics.contracts import symbol_prefixes, vn30_futures
from vnrec.analytics.derived import DERIVED_VIEW_NAMES, register_derived
from vnrec.analytics.sources import (
    GAPS_SCHEMA,
    KEYWORD_ALIASES,
    TABLES,
    TableFiles,
    layout_files,
    layout_gaps,
    register_components,
    register_gaps,
    register_tables,
)
from vnrec.calendar import DEFAULT_CALENDAR, TradingCalendar
from vnrec.defaults import DUCKDB_THREADS
from vnrec.errors import IntegrityError, QueryError, StorageError, first_line
from vnrec.storage.closures import calendar_for
from vnrec.storage.commits import logged_days
from vnrec.storage.components import no_components, read_components
from vnrec.storage.layout import Layout

RETRIES_ON_COMMIT = 3
T = TypeVar("T")

# Views a user can query, in the order `vnrec query` lists them (internal ones start "_").
VIEW_NAMES: tuple[str, ...] = (
    *TABLES,
    *KEYWORD_ALIASES,
    "vn30_contracts",
    "gaps",
    "index_components",
    *(name for name in DERIVED_VIEW_NAMES if not name.startswith("_")),
)

DEFAULT_THREADS = DUCKDB_THREADS


def bare_connection(
    *,
    threads: int = DEFAULT_THREADS,
    calendar: TradingCalendar = DEFAULT_CALENDAR,
    symbols: frozenset[str] | pa.ChunkedArray | None = None,
) -> tuple[duckdb.DuckDBPyConnection, pa.Table]:
    """A connection with vnrec's settings and the `vn30_contracts` table (returned too; with
    `symbols`, the contracts among them only: a set, or a text column whose distinct values
    DuckDB finds), and no view over any file: what reads of the results stored at
    compaction need. Registering every view costs ~50 ms a connection, ~0.2 s on a
    process's first."""
    con = duckdb.connect(config={"threads": threads})
    try:
        # DuckDB draws a progress bar on the process's standard output once a query runs
        # for 2 s: in the middle of the JSON or CSV a command is writing there.
        con.execute("SET enable_progress_bar = false")
        # Timestamps are stored in UTC; showing them in the machine's zone would make
        # output depend on where vnrec runs.
        con.execute("SET TimeZone = 'UTC'")
        # The planner turns an ASOF join whose left side it estimates small into a nested
        # loop; its estimate after the trade filters is often tiny and the loop quadratic.
        con.execute("SET asof_loop_join_threshold = 0")
        # Parquet min/max statistics leave NaN out, and DuckDB's statistics propagation then
        # folds isnan(column) to false: a NaN price would pass as a number.
        con.execute("SET disabled_optimizers = 'statistics_propagation'")
        if isinstance(symbols, pa.ChunkedArray):
            # Not pyarrow.compute's unique: a command that loads it pays ~30 ms for it.
            con.register("_symbols_arrow", pa.table({"symbol": symbols}))
            found = con.execute("SELECT DISTINCT symbol FROM _symbols_arrow WHERE symbol NOTNULL")
            symbols = frozenset(symbol for (symbol,) in found.fetchall())
            con.unregister("_symbols_arrow")
        contracts = vn30_futures(calendar, symbols)
        con.register("_vn30_contracts_arrow", contracts)
        con.execute("CREATE TABLE vn30_contracts AS SELECT * FROM _vn30_contracts_arrow")
        con.unregister("_vn30_contracts_arrow")
    except duckdb.Error:
        con.close()
        raise
    return con, contracts


def lock_to(con: duckdb.DuckDBPyConnection, directory: Path) -> None:
    """Limit the connection's file access to `directory` and lock its settings."""
    allowed = str(directory.resolve()).rstrip("/") + "/"
    con.execute("SET allowed_directories = ?", [[allowed]])
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")


def open_connection(
    files: TableFiles,
    *,
    threads: int = DEFAULT_THREADS,
    sandbox: Path | None = None,
    calendar: TradingCalendar = DEFAULT_CALENDAR,
    gaps: pa.Table | None = None,
    components: pa.Table | None = None,
) -> duckdb.DuckDBPyConnection:
    """A connection with the views over exactly these files (per table); with `sandbox`,
    file access is limited to that directory and the settings are locked; `calendar`
    gives the futures' last trading days (`vn30_contracts`), `gaps` the recording gaps of
    the days (vnrec.analytics.sources.layout_gaps; none by default), `components` the
    index members the recorder kept (vnrec.storage.components; none by default)."""
    con, contracts = bare_connection(threads=threads, calendar=calendar)
    try:
        register_tables(con, files)
        gaps = GAPS_SCHEMA.empty_table() if gaps is None else gaps
        register_gaps(con, gaps)
        register_components(con, no_components() if components is None else components)
        register_derived(con, symbol_prefixes(contracts), gaps=gaps.num_rows > 0)
        if sandbox is not None:
            lock_to(con, sandbox)
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
    """A DuckDB connection with views over the data root (all days, or only `days`),
    allowed to read files under the root only (see the module docstring)."""
    root_path = Path(root)
    layout = Layout(root_path)
    wanted = None if days is None else sorted(set(days))
    return open_connection(
        layout_files(layout, wanted),
        threads=threads,
        sandbox=root_path,
        calendar=calendar_for(root_path),
        gaps=layout_gaps(layout, wanted),
        components=read_components(root_path, wanted),
    )


def read_views(
    root: str | Path,
    read: Callable[[duckdb.DuckDBPyConnection], T],
    *,
    days: Iterable[dt.date] | None = None,
    threads: int = DEFAULT_THREADS,
) -> T:
    """`read` over a connection on the committed parts of `days` (default: every day).

    Should a writer commit meanwhile (a compaction deletes the parts the views list), the
    read fails on a vanished file: it is then run again on the new commit state, a few
    times at most. DuckDB's errors otherwise become one line (QueryError is `read`'s)."""
    layout = Layout(Path(root))
    wanted = None if days is None else sorted(set(days))
    for attempt in range(1, RETRIES_ON_COMMIT + 1):
        before = _versions(layout, wanted)
        try:
            with connect(root, threads=threads, days=wanted) as con:
                return read(con)
        except (duckdb.Error, QueryError, IntegrityError) as exc:
            if attempt == RETRIES_ON_COMMIT or _versions(layout, wanted) == before:
                if isinstance(exc, duckdb.Error):
                    raise StorageError(f"reading {layout.root}: {first_line(exc)}") from exc
                raise
    raise AssertionError("unreachable: the last attempt returns or raises")


def _versions(layout: Layout, days: list[dt.date] | None) -> dict[dt.date, int]:
    wanted = logged_days(layout.root) if days is None else days
    return {day: layout.state(day).version for day in wanted}


def refresh(
    con: duckdb.DuckDBPyConnection, root: str | Path, *, days: Iterable[dt.date] | None = None
) -> None:
    """Re-list the part files so the views see data written since `connect`."""
    layout = Layout(Path(root))
    register_tables(con, layout_files(layout, days))
    gaps = layout_gaps(layout, days)
    register_gaps(con, gaps)
    register_components(con, read_components(layout.root, None if days is None else list(days)))
    contracts = con.sql("SELECT symbol FROM vn30_contracts").to_arrow_table()
    register_derived(con, symbol_prefixes(contracts), gaps=gaps.num_rows > 0)
