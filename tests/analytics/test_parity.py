"""Parity: the DuckDB SQL against the Python replay (an independent implementation of the
same rules) on generated days full of edge cases, field for field."""

from __future__ import annotations

import datetime as dt
import math
import subprocess
import sys
from typing import Any

import orjson
import pytest

from vnrec.analytics.reports import (
    basis_contracts,
    foreign_flow,
    index_latest,
    session_stats,
)
from vnrec.replay import replay
from vnrec.storage.layout import Layout

from .conftest import Connect, Write
from .market import edge_case_day

DAYS = [
    (dt.date(2026, 2, 6), 1),  # Friday before Tet; the February contract expires 13 Feb
    (dt.date(2026, 2, 13), 2),  # the February contract's last trading day
    (dt.date(2026, 11, 5), 3),
    (dt.date(2025, 3, 20), 4),  # legacy VN30FYYMM symbols
]


def _assert_same(sql: list[dict[str, Any]], python: list[dict[str, Any]]) -> None:
    """Same objects in the same order with the same keys; ints exact, floats to 1e-9."""
    assert [list(o) for o in sql] == [list(o) for o in python]
    for ours, theirs in zip(sql, python, strict=True):
        for key, value in ours.items():
            other = theirs[key]
            if isinstance(value, float) and isinstance(other, float):
                assert math.isclose(value, other, rel_tol=1e-9) or (
                    math.isnan(value) and math.isnan(other)
                ), (ours.get("symbol"), key, value, other)
            else:
                assert (type(value), value) == (type(other), other), (
                    ours.get("symbol") or ours.get("index_id"),
                    key,
                    value,
                    other,
                )


@pytest.mark.parametrize(("day", "seed"), DAYS)
def test_stats_equal_replay(
    day: dt.date, seed: int, write: Write, open_con: Connect, layout: Layout
) -> None:
    """`stats` from SQL equals the replay's `stats` on a generated edge-case day."""
    write(edge_case_day(day, seed))
    ours = session_stats(open_con(), day)
    theirs = replay(day, data=layout.root).stats
    assert len(ours) >= 5
    assert sum(s["duplicates"] for s in ours) > 0
    _assert_same(ours, theirs)


@pytest.mark.parametrize(("day", "seed"), DAYS[:2])
def test_foreign_index_basis_equal_replay(
    day: dt.date, seed: int, write: Write, open_con: Connect, layout: Layout
) -> None:
    """The foreign, index and basis objects from SQL equal the replay's."""
    write(edge_case_day(day, seed))
    con = open_con()
    result = replay(day, data=layout.root)
    _assert_same(foreign_flow(con, day), result.foreign)
    _assert_same(index_latest(con, day), result.index)
    _assert_same(basis_contracts(con, day), result.basis)


# The real entry point, with the analytics commands added if main does not list them yet.
_CLI = (
    "import sys, vnrec.cli.main as m\n"
    "if 'vnrec.cli.cmd_analytics' not in m.COMMAND_MODULES:\n"
    "    m.COMMAND_MODULES = (*m.COMMAND_MODULES, 'vnrec.cli.cmd_analytics')\n"
    "sys.argv = ['vnrec', *sys.argv[1:]]\n"
    "m.run()\n"
)


def _vnrec_json(*args: str) -> Any:
    result = subprocess.run(
        [sys.executable, "-c", _CLI, *args], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    return orjson.loads(result.stdout)


def test_cli_stats_equal_cli_replay_stats(write: Write, layout: Layout) -> None:
    """`vnrec stats --format json` equals the `stats` of `vnrec replay --format json`."""
    day, seed = DAYS[0]
    write(edge_case_day(day, seed))
    common = ("--date", day.isoformat(), "--data", str(layout.root), "--format", "json")
    stats = _vnrec_json("stats", *common)
    replayed = _vnrec_json("replay", *common)
    assert replayed["date"] == day.isoformat()
    _assert_same(stats, replayed["stats"])
