"""foreign_flow and index_latest reports, and `query`: rows, types and error messages."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

import orjson
import pyarrow.parquet as pq
import pytest

from vnrec import testing
from vnrec.analytics import VIEW_NAMES
from vnrec.analytics.query import query_rows, query_table
from vnrec.analytics.reports import FOREIGN_KEYS, foreign_flow, foreign_market, index_latest
from vnrec.errors import BadInputError, NoDataError, QueryError
from vnrec.storage.components import store_components
from vnrec.storage.layout import Layout

from .conftest import Connect, Write

DAY = dt.date(2026, 11, 5)


def test_foreign_flow_is_the_latest_r_message(write: Write, open_con: Connect) -> None:
    """Per symbol the last R message by seq, both key spellings, with net = buy - sell."""
    write(
        [
            testing.foreign("AAA", 100, 50, 1000.0, 500.0),
            testing.foreign("BBB", 10, 40, 100.0, 400.0, prefixed=True, current_room=7),
            testing.foreign("AAA", 300, 60, 3000.0, 600.0, time="09:00:00"),  # later by seq
        ]
    )
    rows = foreign_flow(open_con(), DAY)
    assert rows == [
        {
            "symbol": "AAA",
            "buy_volume": 300,
            "sell_volume": 60,
            "buy_value": 3000.0,
            "sell_value": 600.0,
            "net_volume": 240,
            "net_value": 2400.0,
            "total_room": 1_000_000_000,
            "current_room": 500_000_000,
        },
        {
            "symbol": "BBB",
            "buy_volume": 10,
            "sell_volume": 40,
            "buy_value": 100.0,
            "sell_value": 400.0,
            "net_volume": -30,
            "net_value": -300.0,
            "total_room": 1_000_000_000,
            "current_room": 7,
        },
    ]
    assert tuple(rows[0]) == FOREIGN_KEYS


def test_foreign_top_orders_by_absolute_net_value(write: Write, open_con: Connect) -> None:
    """`top=N` keeps the N largest |net_value|, largest first."""
    write(
        [
            testing.foreign("AAA", 0, 0, 100.0, 0.0),
            testing.foreign("BBB", 0, 0, 0.0, 900.0),
            testing.foreign("CCC", 0, 0, 500.0, 0.0),
        ]
    )
    con = open_con()
    assert [r["symbol"] for r in foreign_flow(con, DAY, top=2)] == ["BBB", "CCC"]
    with pytest.raises(BadInputError):
        foreign_flow(con, DAY, top=0)


def test_index_latest_skips_zero_values(write: Write, open_con: Connect) -> None:
    """Per index id, the last MI with a value > 0 (a later 0 is ignored)."""
    write(
        [
            testing.index("VN30", 1290.0, prior=1280.0),
            testing.index("VN30", 1291.0, prior=1280.0),
            testing.index("VN30", 0.0, prior=1280.0),
            testing.index("VNINDEX", 1700.0),
        ]
    )
    rows = index_latest(open_con(), DAY)
    assert [(r["index_id"], r["value"], r["prior_value"]) for r in rows] == [
        ("VN30", 1291.0, 1280.0),
        ("VNINDEX", 1700.0, 0.0),
    ]


def test_query_rows_are_plain_values(write: Write, open_con: Connect) -> None:
    """Sums (HUGEINT in DuckDB) come back as ints, decimals as floats, dates as dates."""
    write([testing.trade("AAA", 100.0, 100, 100), testing.trade("AAA", 100.0, 50, 150)])
    rows = query_rows(
        open_con(),
        "SELECT date, symbol, sum(last_vol) AS volume, 1.5::DECIMAL(4,2) AS d,"
        " INTERVAL 1 MINUTE AS i, INTERVAL '1 month 2 days 1.5 seconds' AS j"
        " FROM trades GROUP BY ALL",
    )
    assert rows == [
        {
            "date": DAY,
            "symbol": "AAA",
            "volume": 150,
            "d": 1.5,
            "i": "00:01:00",
            "j": "1 month 2 days 00:00:01.500000",
        }
    ]
    assert type(rows[0]["volume"]) is int


def test_query_error_names_views(open_con: Connect) -> None:
    """A failing query raises QueryError with DuckDB's message and the list of views."""
    with pytest.raises(QueryError) as caught:
        query_rows(open_con(), "SELECT nonsense FROM trades")
    message = str(caught.value)
    assert 'Referenced column "nonsense" not found' in message
    assert message.endswith("(views: " + ", ".join(VIEW_NAMES) + ")")
    assert "\n" not in message
    assert "session_stats" in VIEW_NAMES and "_trade_outcomes_classified" not in VIEW_NAMES


def test_query_without_rows_keeps_its_columns(write: Write, open_con: Connect) -> None:
    """A SELECT that matches nothing gives an empty table with its columns, not an error."""
    write([testing.trade("AAA", 10.0, 100.0, 100.0)])
    table = query_table(open_con(), "SELECT symbol, seq FROM trades WHERE false")
    assert table.num_rows == 0 and table.column_names == ["symbol", "seq"]


@pytest.mark.parametrize(
    ("sql", "refusal"),
    [
        ("COPY (SELECT 1) TO '{root}/trades/x.parquet'", "COPY statements are refused"),
        ("EXPLAIN ANALYZE COPY (SELECT 1) TO '{root}/y.csv'", "COPY statements are refused"),
        ("ATTACH '{root}/db.duckdb' AS other", "ATTACH statements are refused"),
        ("EXPORT DATABASE '{root}/export'", "EXPORT statements are refused"),
        ("CREATE TABLE t AS SELECT 1", "CREATE statements are refused"),
        ("SET enable_external_access = true", "SET statements are refused"),
        ("INSTALL httpfs", "statements are refused"),
        ("SELECT 1; SELECT 2", "one statement, not 2"),
        ("SELECT * FROM read_csv('/etc/passwd')", "Permission Error"),
        ("SELECT * FROM glob('/etc/*')", "Permission Error"),
    ],
)
def test_query_is_read_only(write: Write, open_con: Connect, sql: str, refusal: str) -> None:
    """Nothing run through `query` writes, attaches, changes a setting or reads outside the
    data root; the root is left exactly as it was."""
    layout = write([testing.trade("AAA", 10.0, 100.0, 100.0)])
    before = sorted(p for p in layout.root.rglob("*") if ".locks" not in p.parts)
    with pytest.raises(QueryError, match=refusal):
        query_rows(open_con(), sql.format(root=layout.root))
    assert sorted(p for p in layout.root.rglob("*") if ".locks" not in p.parts) == before


def test_query_reads_the_views_and_explains(write: Write, open_con: Connect) -> None:
    """SELECT, WITH, DESCRIBE, SUMMARIZE, SHOW and EXPLAIN of a SELECT all run."""
    write([testing.trade("AAA", 10.0, 100.0, 100.0)])
    con = open_con()
    for sql in (
        "WITH t AS (SELECT symbol FROM trades) SELECT * FROM t",
        "DESCRIBE trades",
        "SUMMARIZE trades",
        "SHOW TABLES",
        "EXPLAIN SELECT * FROM trades",
        "EXPLAIN ANALYZE SELECT count(*) FROM trades",
    ):
        assert query_rows(con, sql), sql


def test_foreign_market_totals_and_top_buyers_and_sellers(
    write: Write, open_con: Connect, layout: Layout
) -> None:
    """Totals over every symbol, then the net buyers (largest first) and sellers (most
    negative first); a basket keeps the index's members of that day only."""
    write(
        [
            testing.foreign("AAA", 100, 0, 5e9, 0.0),
            testing.foreign("BBB", 0, 10, 0.0, 2e9),
            testing.foreign("CCC", 50, 0, 3e9, 1e9),
            testing.foreign("DDD", 0, 5, 0.0, 4e9),
        ]
    )
    rows = foreign_market(open_con(), DAY, top=1)
    assert [(r["group"], r["rank"], r["symbol"], r["net_value"]) for r in rows] == [
        ("market", None, None, 1e9),
        ("buyer", 1, "AAA", 5e9),
        ("seller", 1, "DDD", -4e9),
    ]
    assert rows[0]["symbols"] == 4 and rows[0]["buy_value"] == 8e9
    with pytest.raises(NoDataError, match="no members of VN30 recorded for 2026-11-05"):
        foreign_market(open_con(), DAY, basket="VN30")
    store_components(layout.root, DAY, "VN30", ["BBB", "CCC"], 0)
    basket = foreign_market(open_con(), DAY, basket="VN30")
    assert [(r["group"], r["symbol"], r["net_value"]) for r in basket] == [
        ("market", None, 0.0),
        ("buyer", "CCC", 2e9),
        ("seller", "BBB", -2e9),
    ]
    members = query_rows(open_con(), "SELECT index_id, symbol FROM index_components")
    assert members == [
        {"index_id": "VN30", "symbol": "BBB"},
        {"index_id": "VN30", "symbol": "CCC"},
    ]


def test_a_large_result_streams_through_bounded_memory(tmp_path: Path) -> None:
    """2M rows as JSON, CSV and Parquet: written batch by batch, peak memory far below
    what the rows as Python objects would take; a table of so many rows is refused."""
    root = tmp_path / "data"
    root.mkdir()
    sql = "SELECT range AS n, range * 0.5 AS half FROM range(2000000)"
    for fmt, name in (("json", "r.json"), ("csv", "r.csv"), ("parquet", "r.parquet")):
        target = tmp_path / name
        done = subprocess.run(
            [
                sys.executable, "-c",
                "import resource, sys\nfrom vnrec.cli.main import run\ntry:\n    run()\n"
                "finally:\n    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,"
                " file=sys.stderr)",
                "query", sql, "--data", str(root), "-f", fmt, "-o", str(target),
            ],
            capture_output=True, text=True, check=False, timeout=300,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        peak_mb = int(done.stderr.strip().splitlines()[-1]) // 1024
        assert peak_mb < 600, (fmt, peak_mb)  # the rows as Python objects: over 1.5 GB
    assert orjson.loads((tmp_path / "r.json").read_bytes())[-1] == {"n": 1999999, "half": 999999.5}
    assert (tmp_path / "r.csv").read_text().splitlines()[-1] == "1999999,999999.5"
    assert pq.read_metadata(tmp_path / "r.parquet").num_rows == 2_000_000
    table = subprocess.run(
        [sys.executable, "-m", "vnrec.cli.main", "query", sql, "--data", str(root), "-f", "table"],
        capture_output=True, text=True, check=False, timeout=300,
    )  # fmt: skip
    assert table.returncode == 1 and table.stdout == ""
    assert "more than 100,000 rows, too many for a table" in table.stderr
