"""Basis per VN30 futures contract, both symbol forms, and the front-contract rule."""

from __future__ import annotations

import datetime as dt

import pytest

from vnrec.events import Event, IndexEvent, TradeEvent
from vnrec.trackers import BASIS_KEYS, DayTrackers


def fut(seq: int, symbol: str, price: float, total: int) -> TradeEvent:
    return TradeEvent(seq, None, None, "trade", symbol, price, 1, total, 0.0, "LO", None)


def vn30(seq: int, value: float, index_id: str = "VN30") -> IndexEvent:
    return IndexEvent(seq, None, None, index_id, value, 0.0, 0.0, 0.0, 0, 0, 0, 0, 0.0, "LO")


def basis_rows(day: dt.date, events: list[Event]) -> list[dict[str, object]]:
    trackers = DayTrackers(day)
    for event in events:
        trackers.on_event(event)
    return trackers.summary()["basis"]


DAY = dt.date(2026, 2, 6)


def test_no_basis_before_the_first_vn30_value() -> None:
    """Trades before any VN30 value (or with only VN30 = 0 / other indexes) have no basis."""
    rows = basis_rows(
        DAY,
        [
            fut(1, "41I1G2000", 1_905.0, 1),
            vn30(2, 0.0),
            vn30(3, 1_250.0, index_id="VNINDEX"),
            fut(4, "41I1G2000", 1_906.0, 2),
        ],
    )
    assert rows == [
        {
            "symbol": "41I1G2000",
            "points": 0,
            "last_price": None,
            "last_index": None,
            "last_basis": None,
            "min_basis": None,
            "max_basis": None,
            "front": True,
            "last_basis_pct": None,
            "premium": None,
        }
    ]
    assert tuple(rows[0]) == BASIS_KEYS


def test_basis_uses_the_latest_vn30_before_the_trade() -> None:
    """basis = price - the latest VN30 value > 0 with a smaller seq; min/max/last per contract."""
    trackers = DayTrackers(DAY)
    events: list[Event] = [
        vn30(1, 1_900.0),
        fut(2, "41I1G2000", 1_905.0, 1),
        vn30(3, 1_910.0),
        vn30(4, 0.0),  # ignored
        fut(5, "41I1G2000", 1_907.5, 2),
    ]
    for event in events:
        trackers.on_event(event)
    (row,) = trackers.summary()["basis"]
    assert row["points"] == 2
    assert (row["last_price"], row["last_index"], row["last_basis"]) == (1_907.5, 1_910.0, -2.5)
    assert (row["min_basis"], row["max_basis"]) == (-2.5, 5.0)
    assert (row["last_basis_pct"], row["premium"]) == (-2.5 / 1_910.0 * 100, "discount")
    assert [p.basis for p in trackers.basis.series] == [5.0, -2.5]


def test_two_contracts_trading_alternately_keep_separate_series() -> None:
    """Alternating trades of two contracts never mix: each has its own points and last."""
    trackers = DayTrackers(DAY)
    events: list[Event] = [vn30(1, 1_900.0)]
    for i in range(6):
        symbol = "41I1G2000" if i % 2 == 0 else "41I1G3000"
        events.append(fut(2 + i, symbol, 1_900.0 + (1 if i % 2 == 0 else 10) + i, 1 + i))
    for event in events:
        trackers.on_event(event)
    rows = {r["symbol"]: r for r in trackers.summary()["basis"]}
    assert rows["41I1G2000"]["points"] == 3 and rows["41I1G3000"]["points"] == 3
    assert rows["41I1G2000"]["last_basis"] == 1.0 + 4
    assert rows["41I1G3000"]["last_basis"] == 10.0 + 5
    assert (rows["41I1G2000"]["min_basis"], rows["41I1G2000"]["max_basis"]) == (1.0, 5.0)
    assert (rows["41I1G3000"]["min_basis"], rows["41I1G3000"]["max_basis"]) == (11.0, 15.0)
    by_symbol = [p.symbol for p in trackers.basis.series]
    assert by_symbol == ["41I1G2000", "41I1G3000"] * 3


def test_only_counted_vn30_futures_trades_have_a_basis() -> None:
    """Stocks, VN100 futures and repeats of a futures trade get no basis point."""
    rows = basis_rows(
        DAY,
        [
            vn30(1, 1_900.0),
            fut(2, "VNM", 60_000.0, 1),
            fut(3, "41I2G3000", 2_000.0, 1),  # VN100 futures
            fut(4, "VN30F2603", 1_901.0, 5),
            fut(5, "VN30F2603", 1_901.0, 5),  # a repeat
        ],
    )
    assert [(r["symbol"], r["points"]) for r in rows] == [("VN30F2603", 1)]


@pytest.mark.parametrize(
    ("day", "front"),
    [
        # February 2026: the third Thursday (19th) falls in Tet, so the February contract's
        # last trading day is Friday 13 February; after it March is the front.
        (dt.date(2026, 2, 12), "feb"),
        (dt.date(2026, 2, 13), "feb"),
        (dt.date(2026, 2, 23), "mar"),
        # March 2026: an ordinary third Thursday, 19 March.
        (dt.date(2026, 3, 19), "mar"),
        (dt.date(2026, 3, 20), "apr"),
    ],
)
@pytest.mark.parametrize(
    "symbols",
    [
        {"feb": "41I1G2000", "mar": "41I1G3000", "apr": "41I1G4000"},
        {"feb": "VN30F2602", "mar": "VN30F2603", "apr": "VN30F2604"},
    ],
    ids=["krx", "legacy"],
)
def test_front_contract_around_expiry(day: dt.date, front: str, symbols: dict[str, str]) -> None:
    """The front is the contract with the nearest last trading day on or after the day."""
    events: list[Event] = [vn30(1, 1_900.0)]
    for i, symbol in enumerate(sorted(symbols.values())):
        events.append(fut(2 + i, symbol, 1_900.0, 1))
    rows = basis_rows(day, events)
    assert [r["symbol"] for r in rows if r["front"]] == [symbols[front]]
    assert sum(bool(r["front"]) for r in rows) == 1
