"""The basis view and its reports: VN30 futures trades against the latest VN30 value with a
smaller seq, two contracts, VN30 missing at the open, front contract, intervals."""

from __future__ import annotations

import datetime as dt

import pytest

from vnrec import testing
from vnrec.analytics.contracts import symbol_prefixes, vn30_futures
from vnrec.analytics.reports import (
    BASIS_KEYS,
    basis_contracts,
    basis_series,
    fetch_rows,
    parse_interval,
)
from vnrec.calendar import front_contract, parse_futures_symbol
from vnrec.errors import BadInputError

from .conftest import Connect, Write

DAY = dt.date(2026, 11, 5)  # testing.DEFAULT_DATE; front: November 2026 (expires 19 Nov)
FRONT, NEXT = "41I1GB000", "41I1GC000"


def _future(symbol: str, price: float, total: int, time: str) -> testing.Envelope:
    return testing.trade(symbol, price, 1, total, time=time, exchange="DERIVATIVES")


def _day() -> list[testing.Envelope]:
    return [
        _future(FRONT, 1300.0, 1, "08:45:00"),  # before any VN30 value: no basis
        testing.index("VN30", 0.0, time="08:45:01"),  # zero: ignored
        testing.index("VNINDEX", 1700.0, time="08:45:02"),  # another index: ignored
        testing.index("VN30", 1290.0, time="09:00:00"),
        _future(FRONT, 1295.5, 2, "09:00:10"),
        _future(NEXT, 1299.0, 1, "09:00:20"),
        testing.index("VN30", 1292.0, time="09:00:40"),
        _future(FRONT, 1290.0, 3, "09:00:50"),
        _future(FRONT, 1290.0, 3, "09:00:55"),  # repeat: not a trade
        _future(FRONT, 1301.0, 4, "09:01:05"),
        testing.trade("AAA", 1300.0, 100, 100),  # a stock: never in basis
    ]


def test_per_trade_basis(write: Write, open_con: Connect) -> None:
    """Each counted futures trade gets the latest VN30 value > 0 before it, or none."""
    write(_day())
    rows = fetch_rows(
        open_con(), "SELECT symbol, seq, price, index_value, basis FROM basis ORDER BY seq"
    )
    assert [(r["symbol"], r["index_value"], r["basis"]) for r in rows] == [
        (FRONT, None, None),
        (FRONT, 1290.0, 5.5),
        (NEXT, 1290.0, 9.0),
        (FRONT, 1292.0, -2.0),
        (FRONT, 1292.0, 9.0),
    ]


def test_vn30_at_the_same_seq_is_not_before(write: Write, open_con: Connect) -> None:
    """The index value must have a strictly smaller seq than the trade (arrival order)."""
    write([_future(FRONT, 1300.0, 1, "09:00:00"), testing.index("VN30", 1290.0, time="08:00:00")])
    rows = fetch_rows(open_con(), "SELECT basis FROM basis")
    assert rows == [{"basis": None}]


def test_contract_summaries(write: Write, open_con: Connect) -> None:
    """One object per contract with the design.md keys; last_* at the last trade with a
    basis; the front flag from vnrec.calendar.front_contract."""
    write(_day())
    summaries = basis_contracts(open_con(), DAY)
    assert summaries == [
        {
            "symbol": FRONT,
            "points": 3,
            "last_price": 1301.0,
            "last_index": 1292.0,
            "last_basis": 9.0,
            "min_basis": -2.0,
            "max_basis": 9.0,
            "front": True,
            "last_basis_pct": 9.0 / 1292.0 * 100,
            "premium": "premium",
        },
        {
            "symbol": NEXT,
            "points": 1,
            "last_price": 1299.0,
            "last_index": 1290.0,
            "last_basis": 9.0,
            "min_basis": 9.0,
            "max_basis": 9.0,
            "front": False,
            "last_basis_pct": 9.0 / 1290.0 * 100,
            "premium": "premium",
        },
    ]
    assert tuple(summaries[0]) == BASIS_KEYS
    assert front_contract([FRONT, NEXT], DAY) == FRONT


def test_contract_without_vn30_has_no_points(write: Write, open_con: Connect) -> None:
    """A contract traded only before the first VN30 value: points 0 and null last/min/max."""
    write([_future(FRONT, 1300.0, 1, "08:45:00")])
    (summary,) = basis_contracts(open_con(), DAY)
    assert summary["points"] == 0
    keys = ("last_price", "last_basis", "min_basis", "last_basis_pct", "premium")
    assert [summary[k] for k in keys] == [None] * 5


def test_series_per_minute_front(write: Write, open_con: Connect) -> None:
    """basis_series gives, per minute, the last front-contract trade with a basis."""
    write(_day())
    rows = basis_series(open_con(), DAY, DAY, interval="1m")
    assert [
        (r["interval_start"].isoformat(), r["symbol"], r["price"], r["index_value"], r["basis"])
        for r in rows
    ] == [
        ("2026-11-05T02:00:00+00:00", FRONT, 1290.0, 1292.0, -2.0),
        ("2026-11-05T02:01:00+00:00", FRONT, 1301.0, 1292.0, 9.0),
    ]


def test_series_for_a_named_contract_and_wider_interval(write: Write, open_con: Connect) -> None:
    """`contract=SYMBOL` follows that contract; `1h` buckets whole hours."""
    write(_day())
    con = open_con()
    assert [r["price"] for r in basis_series(con, DAY, DAY, contract=NEXT)] == [1299.0]
    assert [r["price"] for r in basis_series(con, DAY, DAY, interval="1h")] == [1301.0]


def test_front_changes_after_expiry(write: Write, open_con: Connect) -> None:
    """Over several days the front contract is chosen per day: after the November contract
    expires (19 Nov 2026) the December one is the front."""
    for date in ("18/11/2026", "20/11/2026"):
        write(
            [
                testing.index("VN30", 1290.0, date=date),
                testing.trade(FRONT, 1291.0, 1, 1, date=date, time="09:30:00"),
                testing.trade(NEXT, 1295.0, 1, 1, date=date, time="09:30:00"),
            ]
        )
    rows = basis_series(open_con(), dt.date(2026, 11, 18), dt.date(2026, 11, 20))
    assert [(r["date"].isoformat(), r["symbol"]) for r in rows] == [
        ("2026-11-18", FRONT),
        ("2026-11-20", NEXT),
    ]


def test_legacy_symbols_are_futures(write: Write, open_con: Connect) -> None:
    """`VN30FYYMM` contracts are in basis; VN100 futures and look-alikes are not."""
    write(
        [
            testing.index("VN30", 1290.0),
            *(
                testing.trade(s, 1300.0, 1, 1)
                for s in ("VN30F2611", "41I2GB000", "VN30F2613", "VN30F26111")
            ),
        ]
    )
    assert fetch_rows(open_con(), "SELECT symbol FROM basis") == [{"symbol": "VN30F2611"}]


def test_contract_table_agrees_with_the_calendar() -> None:
    """vn30_contracts holds exactly the symbols parse_futures_symbol reads as VN30 futures."""
    table = vn30_futures().to_pylist()
    for row in table:
        contract = parse_futures_symbol(row["symbol"])
        assert contract is not None and contract.underlying == "VN30"
        assert (contract.year, contract.month) == (row["year"], row["month"])
        assert contract.last_trading_day() == row["last_trading_day"]
    symbols = {row["symbol"] for row in table}
    assert {"41I1G3000", "41I1GB000", "VN30F2603", "VN30F2512"} <= symbols
    assert not {"41I2G3000", "VN100F2603", "VN30F2600"} & symbols
    assert symbol_prefixes(vn30_futures()) == ["41I1", "VN30"]


def test_bad_interval_and_range() -> None:
    """Intervals other than N s/m/h, and --to before --from, are input errors."""
    with pytest.raises(BadInputError, match="interval"):
        basis_series(None, DAY, DAY, interval="1 minute")  # type: ignore[arg-type]
    with pytest.raises(BadInputError, match="before"):
        basis_series(None, DAY, DAY - dt.timedelta(days=1))  # type: ignore[arg-type]


def test_intervals_are_more_than_nothing_and_at_most_a_trading_day() -> None:
    assert parse_interval("30s") == "30 seconds" and parse_interval("8h") == "8 hours"
    for wrong in ("0m", "-1m", "1.5m", "1ms", "25h", "481m", "100000h"):
        with pytest.raises(BadInputError):
            parse_interval(wrong)
