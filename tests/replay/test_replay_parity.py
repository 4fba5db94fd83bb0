"""The Python trackers and the independent DuckDB SQL agree field for field (SPEC.md 5)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from vnrec.analytics import connect
from vnrec.analytics.reports import basis_contracts, foreign_flow, index_latest, session_stats
from vnrec.replay import replay

DAY = dt.date(2026, 2, 6)  # the generated day of conftest.py
Report = Callable[..., list[dict[str, Any]]]


@pytest.mark.parametrize(
    ("key", "report"),
    [
        ("stats", session_stats),
        ("foreign", foreign_flow),
        ("index", index_latest),
        ("basis", basis_contracts),
    ],
)
def test_replay_equals_sql(day_root: Path, key: str, report: Report) -> None:
    """Each list of the replay result equals its DuckDB report exactly, keys in order."""
    replayed = replay(DAY, data=day_root).to_dict()[key]
    con = connect(day_root)
    try:
        expected = report(con, DAY)
    finally:
        con.close()
    assert replayed == expected
    assert [list(row) for row in replayed] == [list(row) for row in expected]
