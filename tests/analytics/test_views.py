"""The views over the Parquet layout: columns and types, empty tables, partition pruning,
uncommitted parts, refresh, threads, and polars reading the same files."""

from __future__ import annotations

import datetime as dt
import shutil

import duckdb
import polars as pl
import pyarrow.parquet as pq
import pytest

from vnrec import testing
from vnrec.analytics import VIEW_NAMES, refresh
from vnrec.analytics.connection import read_views
from vnrec.analytics.contracts import vn30_futures
from vnrec.analytics.sources import duckdb_type
from vnrec.errors import StorageError
from vnrec.storage.compact import compact_day
from vnrec.storage.layout import Layout
from vnrec.storage.schema import SCHEMAS

from .conftest import Connect, Write, one

DAY1 = dt.date(2026, 2, 5)
DAY2 = dt.date(2026, 2, 6)


def _day(day: dt.date, volume: int = 100) -> list[testing.Envelope]:
    date = day.strftime("%d/%m/%Y")
    return [
        testing.quote("AAA", [(100.0, 10.0)], [(101.0, 10.0)], date=date),
        testing.trade("AAA", 101.0, volume, volume, date=date),
        testing.index("VN30", 1300.0, date=date),
    ]


def _columns(con: duckdb.DuckDBPyConnection, view: str) -> list[tuple[str, str]]:
    return [(row[0], row[1]) for row in con.execute(f'DESCRIBE "{view}"').fetchall()]


def test_every_table_view_has_its_schema_columns_and_a_date(
    write: Write, open_con: Connect
) -> None:
    """Each stored table is a view with the Arrow schema's columns and types plus `date` DATE,
    whether it has files or not."""
    write(_day(DAY1))
    con = open_con()
    for table in SCHEMAS:
        expected = [(f.name, duckdb_type(f.type)) for f in SCHEMAS[table]] + [("date", "DATE")]
        assert _columns(con, table) == expected, table


def test_empty_root_has_every_view_with_no_rows(open_con: Connect) -> None:
    """A data root with no files still has every view, empty and typed."""
    con = open_con()
    for view in VIEW_NAMES:
        assert one(con, f'SELECT count(*) FROM "{view}"') == (
            vn30_futures().num_rows if view == "vn30_contracts" else 0,
        ), view
    assert ("event_ts", "TIMESTAMP WITH TIME ZONE") in _columns(con, "trades")


def test_keyword_tables_have_aliases(write: Write, open_con: Connect) -> None:
    """`index` and `foreign` (SQL keywords) are also reachable as `indices` and `foreign_room`."""
    write([*_day(DAY1), testing.foreign("AAA", 1, 2, 3.0, 4.0, date="05/02/2026")])
    con = open_con()
    assert con.sql("SELECT index_id FROM indices").fetchall() == [("VN30",)]
    assert con.sql("SELECT symbol FROM foreign_room").fetchall() == [("AAA",)]


def test_one_day_query_does_not_open_other_days_files(
    write: Write, open_con: Connect, layout: Layout
) -> None:
    """With another day's trades part corrupted, a query of one day still succeeds and a
    query of all days fails: the date filter prunes the file list."""
    write(_day(DAY1))
    write(_day(DAY2, volume=200))
    con = open_con()
    (other,) = layout.parts("trades", DAY2)
    other.path.write_bytes(b"not parquet")
    assert one(con, "SELECT sum(volume) FROM session_stats WHERE date = '2026-02-05'") == (100,)
    with pytest.raises(duckdb.Error, match=r"[Pp]arquet"):
        con.sql("SELECT count(*) FROM trades").fetchall()


def test_explain_analyze_shows_one_file_scanned(write: Write, open_con: Connect) -> None:
    """DuckDB's profile of a one-day query over two days reads one trades file of two."""
    write(_day(DAY1))
    write(_day(DAY2))
    con = open_con()
    plan = con.sql(
        "EXPLAIN ANALYZE SELECT count(*) FROM trades WHERE date = DATE '2026-02-06'"
    ).fetchall()[0][1]
    assert "Scanning Files: 1/2" in plan
    assert "date=2026-02-05" not in plan


def test_uncommitted_parts_are_not_read(write: Write, open_con: Connect, layout: Layout) -> None:
    """A merged part written next to the parts it would replace (a compaction that died
    before its commit) is not read: every row is seen once."""
    write(_day(DAY1))
    write(_day(DAY1, volume=50))
    parts = layout.parts("trades", DAY1)
    assert len(parts) == 2
    merged = pq.read_table([p.path for p in parts])
    last = layout.parts("raw", DAY1)[-1].last_seq
    pq.write_table(merged, layout.part_path("trades", DAY1, 1, last))
    assert len(list(layout.day_dir("trades", DAY1).iterdir())) == 3
    con = open_con()
    assert one(con, "SELECT count(*) FROM trades") == (2,)


def test_views_see_new_data_after_refresh(write: Write, open_con: Connect, layout: Layout) -> None:
    """Views list files when registered; `refresh` picks up days written since."""
    write(_day(DAY1))
    con = open_con()
    write(_day(DAY2))
    assert one(con, "SELECT count(DISTINCT date) FROM trades") == (1,)
    refresh(con, layout.root)
    assert one(con, "SELECT count(DISTINCT date) FROM trades") == (2,)


def test_connect_limited_to_days_and_threads(write: Write, open_con: Connect) -> None:
    """`days=` restricts the views to those days; `threads=` sets DuckDB's worker threads."""
    write(_day(DAY1))
    write(_day(DAY2))
    con = open_con(days=[DAY2], threads=1)
    assert con.sql("SELECT DISTINCT date FROM quotes").fetchall() == [(DAY2,)]
    assert one(con, "SELECT current_setting('threads')") == (1,)
    assert one(open_con(), "SELECT current_setting('threads')") == (2,)


def test_polars_reads_the_layout_with_hive_dates(
    write: Write, open_con: Connect, layout: Layout
) -> None:
    """polars scans the same files with hive partitioning: `date` is a Date and the rows and
    timestamps equal DuckDB's."""
    write(_day(DAY1))
    write(_day(DAY2, volume=200))
    frame = (
        pl.scan_parquet(layout.root / "trades" / "**" / "*.parquet", hive_partitioning=True)
        .select("date", "seq", "symbol", "last_vol", "event_ts")
        .sort("date", "seq")
        .collect()
    )
    assert frame.schema["date"] == pl.Date
    assert frame.schema["event_ts"] == pl.Datetime("us", "UTC")
    duck = (
        open_con()
        .sql("SELECT date, seq, symbol, last_vol, event_ts FROM trades ORDER BY date, seq")
        .pl()
    )
    assert frame.equals(duck)


def test_copied_root_is_readable(write: Write, open_con: Connect, layout: Layout, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The data root is plain files: a copy elsewhere answers the same queries."""
    write(_day(DAY1))
    copy = tmp_path / "copy"
    shutil.copytree(layout.root, copy)
    con = open_con(root=copy)
    assert one(con, "SELECT count(*) FROM raw") == (3,)


def test_a_read_racing_a_compaction_is_run_again_on_the_new_parts(
    write: Write, layout: Layout
) -> None:
    """The views list the parts of one commit state; a compaction committing meanwhile
    deletes them: the read sees a vanished file and runs again on the merged parts."""
    write(_day(DAY1))
    write(_day(DAY1, volume=50))
    calls = []

    def read(con: duckdb.DuckDBPyConnection) -> tuple[int, ...]:
        calls.append(len(layout.parts("trades", DAY1)))
        if len(calls) == 1:
            compact_day(layout, DAY1)
        return one(con, "SELECT count(*), sum(last_vol) FROM trades")

    assert read_views(layout.root, read, days=[DAY1]) == (2, 150)
    assert calls == [2, 1]


def test_a_damaged_part_is_one_line_naming_the_file(write: Write, layout: Layout) -> None:
    """A committed part that DuckDB cannot read (same size, garbage inside) is reported in
    one line with its path, and the read is not retried when nothing was committed."""
    write(_day(DAY1))
    (part,) = layout.parts("trades", DAY1)
    part.path.write_bytes(b"\0" * part.bytes)
    with pytest.raises(StorageError) as caught:
        read_views(layout.root, lambda con: one(con, "SELECT count(*) FROM trades"))
    message = str(caught.value)
    assert str(part.path) in message and "\n" not in message
