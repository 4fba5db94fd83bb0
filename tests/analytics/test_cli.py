"""`vnrec stats`, `basis`, `foreign`, `query` and `verify`: exact outputs per format, files,
exit codes, and one-line errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
import pyarrow.parquet as pq
import pytest
import typer
from typer.testing import CliRunner

from vnrec import testing
from vnrec.cli import cmd_analytics
from vnrec.errors import NoDataError, QueryError
from vnrec.storage.layout import Layout

from .conftest import Write

DATE = "2026-11-05"
FRONT = "41I1GB000"


@pytest.fixture
def app() -> typer.Typer:
    app = typer.Typer(pretty_exceptions_enable=False, rich_markup_mode=None)
    cmd_analytics.register(app)
    return app


@pytest.fixture
def day(write: Write) -> Layout:
    return write(
        [
            testing.quote("AAA", [(100.0, 10.0)], [(101.0, 10.0)]),
            testing.trade("AAA", 101.0, 100, 100, time="09:20:01"),
            testing.trade("AAA", 100.0, 200, 300, time="09:20:02"),
            testing.trade("AAA", 100.0, 200, 300, time="09:20:02"),
            testing.trade("BBB", 20000.5, 1000, 1000, session="ATO", time="09:00:00"),
            testing.index("VN30", 1300.0, time="09:20:03"),
            testing.trade(FRONT, 1305.5, 3, 3, time="09:20:04", exchange="DERIVATIVES"),
            testing.foreign("AAA", 10, 5, 1000.0, 500.0),
            testing.foreign("BBB", 0, 30, 0.0, 60000.0),
        ]
    )


def invoke(app: typer.Typer, layout: Layout, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, [*args, "--data", str(layout.root)])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout


def test_stats_json(app: typer.Typer, day: Layout) -> None:
    """JSON is a list of objects sorted by symbol with exactly the stats keys."""
    code, out = invoke(app, day, "stats", "--date", DATE, "--format", "json")
    assert code == 0
    assert orjson.loads(out)[1] == {
        "symbol": "AAA",
        "trades": 2,
        "volume": 300,
        "value": 30100.0,
        "buy_volume": 100,
        "buy_value": 10100.0,
        "sell_volume": 200,
        "sell_value": 20000.0,
        "neutral_volume": 0,
        "neutral_value": 0.0,
        "ato_volume": 0,
        "continuous_volume": 300,
        "atc_volume": 0,
        "open": 101.0,
        "high": 101.0,
        "low": 100.0,
        "close": 100.0,
        "vwap": 100.33333333333333,
        "duplicates": 1,
        "unpriced": 0,
    }
    assert [s["symbol"] for s in orjson.loads(out)] == [FRONT, "AAA", "BBB"]
    assert out.startswith('[\n  {\n    "symbol": "41I1GB000",\n    "trades": 1,\n')


def test_stats_table(app: typer.Typer, day: Layout) -> None:
    """The table is aligned text with a title, numbers right-aligned."""
    code, out = invoke(app, day, "stats", "--date", DATE, "--symbol", "BBB", "-f", "table")
    assert code == 0
    assert out == (
        "session stats 2026-11-05\n"
        "symbol  trades  volume       value  buy_volume  buy_value  sell_volume  sell_val"
        "ue  neutral_volume  neutral_value  ato_volume  continuous_volume  atc_volume    "
        "  open      high       low     close      vwap  duplicates  unpriced\n"
        "------  ------  ------  ----------  ----------  ---------  -----------  --------"
        "--  --------------  -------------  ----------  -----------------  ----------  --"
        "------  --------  --------  --------  --------  ----------  --------\n"
        "BBB          1   1,000  20,000,500           0          0            0          "
        " 0           1,000     20,000,500       1,000                  0           0  20"
        ",000.5  20,000.5  20,000.5  20,000.5  20,000.5           0         0\n"
    )


def test_stats_csv(app: typer.Typer, day: Layout) -> None:
    """CSV has a header of the stats keys and raw numbers."""
    code, out = invoke(app, day, "stats", "--date", DATE, "--symbol", "AAA", "-f", "csv")
    assert code == 0
    assert out == (
        "symbol,trades,volume,value,buy_volume,buy_value,sell_volume,sell_value,"
        "neutral_volume,neutral_value,ato_volume,continuous_volume,atc_volume,open,high,low,"
        "close,vwap,duplicates,unpriced\n"
        "AAA,2,300,30100.0,100,10100.0,200,20000.0,0,0.0,0,300,0,101.0,101.0,100.0,100.0,"
        "100.33333333333333,1,0\n"
    )


def test_stats_parquet_needs_output(app: typer.Typer, day: Layout, tmp_path: Path) -> None:
    """Parquet goes to --output with the stats columns; without --output it is an error."""
    target = tmp_path / "stats.parquet"
    code, out = invoke(app, day, "stats", "--date", DATE, "-f", "parquet", "-o", str(target))
    assert (code, out) == (0, "")
    table = pq.read_table(target)
    assert table.column_names[:3] == ["symbol", "trades", "volume"]
    assert table.column("symbol").to_pylist() == [FRONT, "AAA", "BBB"]
    with pytest.raises(Exception, match="needs --output"):
        invoke(app, day, "stats", "--date", DATE, "-f", "parquet")


def test_stats_of_a_day_without_data(app: typer.Typer, day: Layout) -> None:
    """A day with nothing recorded is a NoDataError, not an empty list."""
    with pytest.raises(NoDataError, match="2026-11-06"):
        invoke(app, day, "stats", "--date", "2026-11-06")


def test_a_symbol_or_contract_that_matches_nothing_says_so(app: typer.Typer, day: Layout) -> None:
    """--symbol and --contract naming nothing traded: NoDataError naming them, not an empty
    list that looks like a quiet day."""
    with pytest.raises(NoDataError, match="--symbol ZZZ: no counted trade of ZZZ on 2026-11-05"):
        invoke(app, day, "stats", "--date", DATE, "--symbol", "ZZZ")
    with pytest.raises(NoDataError, match=r"--contract VNM: .* \(is it a VN30 futures symbol\?\)"):
        invoke(app, day, "basis", "--from", DATE, "--to", DATE, "--contract", "VNM")


def test_foreign_csv_top(app: typer.Typer, day: Layout) -> None:
    """--top keeps the largest absolute net values."""
    code, out = invoke(app, day, "foreign", "--date", DATE, "--top", "1", "-f", "csv")
    assert code == 0
    assert out == (
        "symbol,buy_volume,sell_volume,buy_value,sell_value,net_volume,net_value,"
        "total_room,current_room\n"
        "BBB,0,30,0.0,60000.0,-30,-60000.0,1000000000,500000000\n"
    )


def test_basis_json(app: typer.Typer, day: Layout) -> None:
    """basis prints one object per interval with the contract, price, VN30 and basis."""
    code, out = invoke(app, day, "basis", "--from", DATE, "--to", DATE, "-f", "json")
    assert code == 0
    assert orjson.loads(out) == [
        {
            "date": DATE,
            "symbol": FRONT,
            "interval_start": "2026-11-05T02:20:00+00:00",
            "price": 1305.5,
            "index_value": 1300.0,
            "basis": 5.5,
            "basis_pct": 5.5 / 1300.0 * 100,
            "premium": "premium",
        }
    ]


def test_query_formats(app: typer.Typer, day: Layout, tmp_path: Path) -> None:
    """query renders any result in every format; parquet keeps the rows."""
    sql = "SELECT symbol, sum(last_vol) AS volume FROM trades GROUP BY 1 ORDER BY 1"
    assert invoke(app, day, "query", sql, "-f", "csv") == (
        0,
        "symbol,volume\n41I1GB000,3\nAAA,500\nBBB,1000\n",
    )
    assert invoke(app, day, "query", sql, "-f", "table")[1] == (
        "symbol     volume\n---------  ------\n41I1GB000       3\nAAA           500\n"
        "BBB         1,000\n"
    )
    target = tmp_path / "q.parquet"
    invoke(app, day, "query", sql, "-f", "parquet", "--output", str(target))
    assert pq.read_table(target).to_pylist()[1] == {"symbol": "AAA", "volume": 500}


def test_query_error_is_a_query_error(app: typer.Typer, day: Layout) -> None:
    """A bad query raises QueryError naming the views (main prints it as one line)."""
    with pytest.raises(QueryError, match="views: raw, trades"):
        invoke(app, day, "query", "SELECT * FROM nowhere")


def test_verify_exit_status(app: typer.Typer, day: Layout) -> None:
    """verify exits 0 on a sound day, 1 on a damaged one, with the report on stdout."""
    code, out = invoke(app, day, "verify", "--date", DATE, "-f", "table")
    assert code == 0
    assert out.startswith("2026-11-05: OK (9 events)\n")
    assert "  [WARNING] repeats: 1 repeated trade in 1 symbol (not counted)\n" in out
    day.parts("quotes", day.days("quotes")[0])[0].path.write_bytes(b"broken")
    code, out = invoke(app, day, "verify", "--date", DATE, "-f", "json")
    assert code == 1
    report = orjson.loads(out)
    assert report["damaged"] is True
    (parts,) = [check for check in report["checks"] if check["check"] == "parts"]
    assert parts["status"] == "error"


def test_errors_are_one_line_without_traceback(day: Layout) -> None:
    """Through the real entry point a failing query prints DuckDB's message and the views on
    stderr, nothing on stdout, and exits 1."""
    script = (
        "import sys, vnrec.cli.main as m\n"
        "if 'vnrec.cli.cmd_analytics' not in m.COMMAND_MODULES:\n"
        "    m.COMMAND_MODULES = (*m.COMMAND_MODULES, 'vnrec.cli.cmd_analytics')\n"
        "sys.argv = ['vnrec', *sys.argv[1:]]\n"
        "m.run()\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, "query", "--data", str(day.root), "SELECT x FROM trades"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.startswith("vnrec: error: Binder Error: Referenced column")
    assert "views: raw, trades, quotes" in result.stderr
    assert "Traceback" not in result.stderr
