"""Candles (SPEC.md 7.4): the columnar tracker's equal the SQL views field for field, no
tolerance, at every interval, on edge-case days; report windows; `vnrec candles`; --out."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from typing import Any

import orjson
import pyarrow.parquet as pq
import pytest
import typer
from typer.testing import CliRunner

from tests.analytics.market import edge_case_day
from tests.replay.conftest import generated_day
from vnrec.analytics.connection import read_views
from vnrec.analytics.reports import candles, index_candles
from vnrec.calendar import HCM_TZ
from vnrec.cli import cmd_analytics, cmd_replay
from vnrec.replay import replay
from vnrec.replay.columnar import ColumnarDay
from vnrec.results import CANDLE_INTERVALS, CANDLE_KEYS
from vnrec.storage.importer import import_envelopes
from vnrec.storage.layout import Layout

EDGE_DAY = dt.date(2026, 3, 5)
GENERATED_DAY = dt.date(2026, 2, 6)


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    layout = Layout(tmp_path_factory.mktemp("candles"))
    for seed in (1, 2):
        import_envelopes(layout, edge_case_day(EDGE_DAY, seed, events=900), append=True)
    import_envelopes(layout, generated_day(seed=3, messages=900))
    return layout.root


def _tracker(root: Path, day: dt.date, **options: Any) -> ColumnarDay:
    result = replay(day, data=root, candles=True, batch_rows=77, **options)
    assert isinstance(result.trackers, ColumnarDay)
    return result.trackers


def _same(ours: list[dict[str, Any]], theirs: list[dict[str, Any]]) -> None:
    assert [list(row) for row in ours] == [list(row) for row in theirs]
    for a, b in zip(ours, theirs, strict=True):
        for key, value in a.items():
            other = b[key]
            assert type(value) is type(other), (a, key)
            assert value == other or (math.isnan(value) and math.isnan(other)), (a, key)


@pytest.mark.parametrize("day", [EDGE_DAY, GENERATED_DAY])
@pytest.mark.parametrize("interval", list(CANDLE_INTERVALS))
def test_the_tracker_equals_the_views(root: Path, day: dt.date, interval: str) -> None:
    tracker = _tracker(root, day)

    def sql(con: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        return candles(con, day, interval), index_candles(con, day, interval)

    by_sql, index_by_sql = read_views(root, sql, days=[day])
    ours = tracker.candles(interval)
    assert ours and index_by_sql
    _same(ours, by_sql)
    _same(tracker.index_candles(interval), index_by_sql)
    assert list(ours[0]) == list(CANDLE_KEYS)


def test_candles_add_up_to_the_session_stats(root: Path) -> None:
    result = replay(EDGE_DAY, data=root, candles=True)
    assert isinstance(result.trackers, ColumnarDay)
    for stats in result.stats:
        mine = [c for c in result.trackers.candles("1h") if c["symbol"] == stats["symbol"]]
        assert sum(c["volume"] for c in mine) == stats["volume"]
        assert sum(c["trades"] for c in mine) == stats["trades"]
        assert sum(c["buy_volume"] for c in mine) == stats["buy_volume"]
        # (open and close are by seq; event times go back on this day, so the first and
        # last candles by time need not hold them)
        assert max(c["high"] for c in mine) == stats["high"]
        assert min(c["low"] for c in mine) == stats["low"]


def test_a_report_window_keeps_its_minutes(root: Path) -> None:
    """With --from/--to, the candles are the whole day's candles of those minutes."""
    whole = _tracker(root, EDGE_DAY).candles("1m")
    windowed = _tracker(root, EDGE_DAY, start="09:30", end="11:00").candles("1m")

    def local(candle: dict[str, Any]) -> dt.time:
        return candle["start"].astimezone(HCM_TZ).time()

    expected = [c for c in whole if dt.time(9, 30) <= local(c) < dt.time(11, 0)]
    assert windowed == expected and expected


def _cli(module: Any, *args: str) -> Any:
    app = typer.Typer()

    @app.callback()
    def _root() -> None:
        """Group the command under its name."""

    module.register(app)
    return CliRunner().invoke(app, list(args))


def test_the_candles_command(root: Path) -> None:
    result = _cli(
        cmd_analytics, "candles", "--date", EDGE_DAY.isoformat(), "--interval", "5m",
        "--data", str(root), "--format", "json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    expected = read_views(root, lambda con: candles(con, EDGE_DAY, "5m"), days=[EDGE_DAY])
    assert orjson.loads(result.stdout) == orjson.loads(orjson.dumps(expected))
    index = _cli(
        cmd_analytics, "candles", "--date", EDGE_DAY.isoformat(), "--index", "--symbol",
        "VN30", "--data", str(root), "--format", "json",
    )  # fmt: skip
    assert index.exit_code == 0, index.output
    assert {row["index_id"] for row in orjson.loads(index.stdout)} == {"VN30"}
    for args, message in (
        (("--interval", "2m"), "not a candle interval: '2m'"),
        (("--symbol", "NOPE"), "--symbol NOPE: no counted trade of NOPE"),
    ):
        failed = _cli(
            cmd_analytics, "candles", "--date", EDGE_DAY.isoformat(), "--data", str(root), *args
        )
        assert failed.exit_code == 1 and message in str(failed.exception)


def test_out_writes_the_minute_candles(root: Path, tmp_path: Path) -> None:
    result = _cli(
        cmd_replay, "replay", "--date", EDGE_DAY.isoformat(), "--data", str(root),
        "--format", "json", "--out", str(tmp_path),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    directory = tmp_path / f"date={EDGE_DAY.isoformat()}"
    expected = read_views(root, lambda con: candles(con, EDGE_DAY, "1m"), days=[EDGE_DAY])
    assert pq.read_table(directory / "candles_1m.parquet").to_pylist() == expected
    indices = pq.read_table(directory / "index_candles_1m.parquet").to_pylist()
    assert indices == read_views(
        root, lambda con: index_candles(con, EDGE_DAY, "1m"), days=[EDGE_DAY]
    )
