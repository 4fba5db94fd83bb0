"""Another engine on the same files: Spark (pyspark local mode, the `vnrec[spark]` extra)
reads the hive layout as it is and, with the Spark SQL of docs/analytics.md, counts every
symbol's trades and volumes exactly as `vnrec stats` does, on edge-case days (repeats, `X`
snapshots, NaN prices, auctions), one compacted and one not."""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.analytics.market import edge_case_day
from vnrec.storage.importer import import_envelopes
from vnrec.storage.layout import Layout

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
DAYS = (dt.date(2026, 3, 9), dt.date(2026, 3, 10))
COMPARED = (
    "trades", "volume", "ato_volume", "continuous_volume", "atc_volume",
    "open", "high", "low", "close", "duplicates",
)  # fmt: skip


def documented_sql() -> str:
    """The Spark SQL block of docs/analytics.md (the recipe users copy)."""
    doc = (ROOT / "docs" / "analytics.md").read_text()
    found = re.search(r"```sql\n(-- spark: counted trades\n.*?)```", doc, re.DOTALL)
    assert found, "docs/analytics.md lost its Spark SQL recipe"
    return found.group(1)


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    layout = Layout(tmp_path_factory.mktemp("spark") / "data")
    for seed, day in enumerate(DAYS, start=11):
        import_envelopes(layout, edge_case_day(day, seed, events=1_500))
    compacted = _vnrec("compact", "--data", str(layout.root), "--date", DAYS[0].isoformat())
    assert compacted.returncode == 0, compacted.stderr
    return layout.root


@pytest.fixture(scope="module")
def spark(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from pyspark.sql import SparkSession

    scratch = tmp_path_factory.mktemp("spark-scratch")
    session = (
        SparkSession.builder.master("local[1]")
        .appName("vnrec-test")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.local.dir", str(scratch))
        .config("spark.sql.warehouse.dir", str(scratch / "warehouse"))
        .config("spark.sql.session.timeZone", "UTC")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    try:
        yield session
    finally:
        session.stop()


def _vnrec(*args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "vnrec.cli.main", *args],
        capture_output=True,
        timeout=300,
        check=False,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def test_spark_sql_over_the_layout_gets_vnrecs_numbers(spark: Any, root: Path) -> None:
    trades = spark.read.parquet(str(root / "trades"))
    assert dict(trades.dtypes)["date"] == "date"  # partition discovery, as documented
    assert dict(trades.dtypes)["event_ts"] == "timestamp"
    trades.createOrReplaceTempView("trades")
    rows = [row.asDict() for row in spark.sql(documented_sql()).collect()]
    assert {row["date"] for row in rows} == set(DAYS)
    for day in DAYS:
        result = _vnrec("stats", "--date", day.isoformat(), "--data", str(root), "-f", "json")
        assert result.returncode == 0, result.stderr.decode()
        expected = {s["symbol"]: {k: s[k] for k in COMPARED} for s in orjson.loads(result.stdout)}
        got = {r["symbol"]: {k: r[k] for k in COMPARED} for r in rows if r["date"] == day}
        assert got == expected, day
        assert sum(s["duplicates"] for s in expected.values()) > 0  # repeats were exercised
