"""`vnrec calendar` and closures kept in the data root: recording, replay and SQL all use
them, so a closure announced late changes the futures' expiry everywhere at once."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import orjson

from tests.processes import vnrec
from vnrec import testing as f
from vnrec.analytics import connect
from vnrec.analytics.reports import basis_contracts
from vnrec.replay import replay
from vnrec.storage.importer import import_envelopes
from vnrec.storage.layout import Layout

DAY = dt.date(2026, 11, 19)  # third Thursday: the November contract's last trading day
WIRE = "19/11/2026"


def _fronts(root: Path) -> tuple[list[str], list[str]]:
    replayed = [b["symbol"] for b in replay(DAY, data=root).basis if b["front"]]
    con = connect(root)
    try:
        sql = [b["symbol"] for b in basis_contracts(con, DAY) if b["front"]]
    finally:
        con.close()
    return replayed, sql


def test_a_closure_in_the_data_root_moves_the_expiry_for_replay_and_sql(tmp_path: Path) -> None:
    """Closing the 19th makes the 18th the November contract's last trading day: on the 19th
    the December contract is the front one, in the replay and in DuckDB alike."""
    root = tmp_path / "data"
    import_envelopes(
        Layout(root),
        [
            f.index("VN30", 1_900.0, time="09:00:00", date=WIRE),
            f.trade("41I1GB000", 1_901.0, 1.0, 1.0, time="09:01:00", date=WIRE),
            f.trade("41I1GC000", 1_903.0, 1.0, 1.0, time="09:02:00", date=WIRE),
        ],
    )
    assert _fronts(root) == (["41I1GB000"], ["41I1GB000"])
    closed = vnrec("calendar", "--close", "2026-11-19", "--year", "2026", "--data", str(root))
    assert closed.returncode == 0, closed.stderr
    assert f"2026-11-19: closure added to {root / 'calendar.json'}" in closed.stderr
    listed = orjson.loads(
        vnrec("calendar", "--year", "2026", "--data", str(root), "-f", "json").stdout
    )
    assert {"date": "2026-11-19", "weekday": "Thursday", "source": "data root"} in listed
    assert _fronts(root) == (["41I1GC000"], ["41I1GC000"])
    reopened = vnrec("calendar", "--open", "2026-11-19", "--data", str(root), "-f", "json")
    assert reopened.returncode == 0
    assert _fronts(root) == (["41I1GB000"], ["41I1GB000"])
    wrong = vnrec("calendar", "--open", "2026-09-02", "--data", str(root))
    assert wrong.returncode == 1
    assert wrong.stderr == (
        f"vnrec: error: not a closure of {root}: 2026-09-02 (market holidays stay)\n"
    )
    bad = vnrec("calendar", "--close", "19/11/2026", "--data", str(root))
    assert bad.returncode == 1
    assert bad.stderr == "vnrec: error: not a date (expected YYYY-MM-DD): '19/11/2026'\n"


def test_a_year_outside_the_exchange_s_is_refused() -> None:
    for year in ("0", "-5", "1999", "99999"):
        done = vnrec("calendar", "--year", year)
        assert done.returncode == 1
        assert done.stderr == f"vnrec: error: --year {year}: give a year from 2000 to 2100\n"
