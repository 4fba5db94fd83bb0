"""The stored tables as DuckDB views: one `read_parquet` over the committed part files.

The file list comes from each day's commit log (never a glob), so files of an interrupted
write or superseded by a compaction are never read, and a committed part that is missing
or changed size is an error before any SQL runs. The trading day is the hive partition
`date=YYYY-MM-DD` of each file's path; DuckDB prunes the list by it, so a query for one day
opens only that day's files (plus, to bind the view, the footer of the table's first file).
A table without files is an empty view with the columns of its Arrow schema.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from pathlib import Path

import duckdb
import pyarrow as pa

from vnrec.storage.commits import logged_days
from vnrec.storage.gaps import recording_gaps
from vnrec.storage.layout import Layout
from vnrec.storage.schema import SCHEMAS
from vnrec.storage.verified import check_parts

TableFiles = Mapping[str, list[Path]]
# The stored tables, `raw` first: the storage schemas name them all.
TABLES: tuple[str, ...] = tuple(SCHEMAS)
NORMALIZED: tuple[str, ...] = tuple(t for t in TABLES if t != "raw")
KEYWORD_ALIASES = {"indices": "index", "foreign_room": "foreign"}


def duckdb_type(arrow_type: pa.DataType) -> str:
    """The DuckDB type a Parquet column of this Arrow type is read as."""
    if pa.types.is_int64(arrow_type):
        return "BIGINT"
    if pa.types.is_float64(arrow_type):
        return "DOUBLE"
    if pa.types.is_string(arrow_type):
        return "VARCHAR"
    if pa.types.is_timestamp(arrow_type) and arrow_type.tz is not None:
        return "TIMESTAMP WITH TIME ZONE"
    raise TypeError(f"no DuckDB mapping for Arrow type {arrow_type}")


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def layout_files(layout: Layout, days: Iterable[dt.date] | None = None) -> dict[str, list[Path]]:
    """Every table's committed part files, for the given days or for every logged day."""
    wanted = logged_days(layout.root) if days is None else sorted(set(days))
    files: dict[str, list[Path]] = {table: [] for table in TABLES}
    for day in wanted:
        state = layout.state(day)
        # DuckDB checks no page checksum: each part is checked against its record first.
        check_parts(layout.root, day, state.all_parts())
        for table in TABLES:
            files[table] += [part.path for part in state.table_parts(table)]
    return files


GAPS_SCHEMA = pa.schema(
    [
        ("date", pa.date32()),
        ("seq", pa.int64()),
        ("start_ns", pa.int64()),
        ("end_ns", pa.int64()),
        ("reason", pa.string()),
    ]
)


def layout_gaps(layout: Layout, days: Iterable[dt.date] | None = None) -> pa.Table:
    """The recording gaps (vnrec.storage.gaps) of the given days or of every logged day."""
    wanted = logged_days(layout.root) if days is None else sorted(set(days))
    rows = [
        {"date": day, **gap._asdict()}
        for day in wanted
        for gap in recording_gaps(layout.state(day))
    ]
    return pa.Table.from_pylist(rows, schema=GAPS_SCHEMA)


def register_components(con: duckdb.DuckDBPyConnection, components: pa.Table) -> None:
    """(Re)create `index_components`: per day, the members of each index the recorder
    fetched that day (vnrec.storage.components)."""
    con.register("_components_arrow", components)
    try:
        con.execute(
            "CREATE OR REPLACE TABLE index_components AS"
            " SELECT date, index_id, symbol FROM _components_arrow ORDER BY date, index_id, symbol"
        )
    finally:
        con.unregister("_components_arrow")


def register_gaps(con: duckdb.DuckDBPyConnection, gaps: pa.Table) -> None:
    """(Re)create the `gaps` table: one row per recording gap, by date and seq."""
    con.register("_gaps_arrow", gaps)
    try:
        con.execute("CREATE OR REPLACE TABLE gaps AS SELECT * FROM _gaps_arrow ORDER BY date, seq")
    finally:
        con.unregister("_gaps_arrow")


def empty_table_sql(table: str) -> str:
    """A typed, empty SELECT with the table's columns and the `date` partition column."""
    columns = [
        f"CAST(NULL AS {duckdb_type(field.type)}) AS {quote_ident(field.name)}"
        for field in SCHEMAS[table]
    ]
    columns.append("CAST(NULL AS DATE) AS date")
    return f"SELECT {', '.join(columns)} WHERE false"


def parquet_table_sql(files: list[Path]) -> str:
    listing = ", ".join(sql_string(str(path)) for path in files)
    return (
        f"SELECT * FROM read_parquet([{listing}], hive_partitioning = true,"
        " hive_types = {'date': 'DATE'})"
    )


def table_sql(table: str, files: list[Path]) -> str:
    return parquet_table_sql(files) if files else empty_table_sql(table)


def register_tables(con: duckdb.DuckDBPyConnection, files: TableFiles) -> None:
    """(Re)create one view per stored table over the given files."""
    for table in TABLES:
        con.execute(
            f"CREATE OR REPLACE VIEW {quote_ident(table)} AS {table_sql(table, files[table])}"
        )
    # `index` and `foreign` are SQL keywords: aliases spare users the quoting.
    for alias, table in KEYWORD_ALIASES.items():
        con.execute(f"CREATE OR REPLACE VIEW {alias} AS SELECT * FROM {quote_ident(table)}")
