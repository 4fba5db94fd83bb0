"""Session stats per symbol: exact keys, order, types and totals (SPEC.md section 4)."""

from __future__ import annotations

import datetime as dt

from vnrec.events import QuoteEvent, TradeEvent
from vnrec.trackers import STATS_KEYS, DayTrackers

DAY = dt.date(2026, 2, 6)


def trade(seq: int, symbol: str, price: float, volume: int, total: int, session: str) -> TradeEvent:
    return TradeEvent(seq, None, None, "trade", symbol, price, volume, total, 0.0, session, None)


def quote(seq: int, symbol: str, bid1: float, ask1: float) -> QuoteEvent:
    return QuoteEvent(seq, None, None, "quote", symbol, "LO", bid1, 10, ask1, 10, None)


def run(events: list[TradeEvent | QuoteEvent]) -> list[dict[str, object]]:
    trackers = DayTrackers(DAY)
    for event in events:
        trackers.on_event(event)
    return trackers.summary()["stats"]


def test_stats_of_a_day() -> None:
    """Every field of one symbol's stats, with the phase and side splits and OHLC/VWAP."""
    rows = run(
        [
            trade(1, "VNM", 60_000.0, 1_000, 1_000, "ATO"),
            quote(2, "VNM", 60_000.0, 60_100.0),
            trade(3, "VNM", 60_100.0, 200, 1_200, "LO"),  # buy
            trade(4, "VNM", 59_900.0, 300, 1_500, "LO"),  # sell (below bid)
            trade(5, "VNM", 60_100.0, 200, 1_200, "LO"),  # repeat
            trade(6, "VNM", 60_050.0, 100, 1_600, "LO"),  # neutral (inside)
            trade(7, "VNM", 60_200.0, 400, 2_000, "ATC"),  # neutral (auction)
        ]
    )
    assert rows == [
        {
            "symbol": "VNM",
            "trades": 5,
            "volume": 2_000,
            "value": 60_000.0 * 1_000
            + 60_100.0 * 200
            + 59_900.0 * 300
            + 60_050.0 * 100
            + 60_200.0 * 400,
            "buy_volume": 200,
            "buy_value": 60_100.0 * 200,
            "sell_volume": 300,
            "sell_value": 59_900.0 * 300,
            "neutral_volume": 1_500,
            "neutral_value": 60_000.0 * 1_000 + 60_050.0 * 100 + 60_200.0 * 400,
            "ato_volume": 1_000,
            "continuous_volume": 600,
            "atc_volume": 400,
            "open": 60_000.0,
            "high": 60_200.0,
            "low": 59_900.0,
            "close": 60_200.0,
            "vwap": rows[0]["value"] / 2_000,  # type: ignore[operator]
            "duplicates": 1,
            "unpriced": 0,
        }
    ]
    assert tuple(rows[0]) == STATS_KEYS


def test_types_are_ints_for_counts_and_floats_for_values() -> None:
    """Counts and volumes are ints; values and prices floats, even for integral numbers."""
    (row,) = run([trade(1, "FPT", 100_000.0, 100, 100, "LO")])
    ints = {
        "trades",
        "volume",
        "buy_volume",
        "sell_volume",
        "neutral_volume",
        "ato_volume",
        "continuous_volume",
        "atc_volume",
        "duplicates",
        "unpriced",
    }
    for key, value in row.items():
        if key == "symbol":
            assert isinstance(value, str)
        elif key in ints:
            assert type(value) is int, key
        else:
            assert type(value) is float, key


def test_symbols_sorted_and_only_with_counted_trades() -> None:
    """Symbols are sorted bytewise; a symbol with only quotes or zero-volume trades is absent."""
    rows = run(
        [
            trade(1, "VNM", 10.0, 100, 100, "LO"),
            trade(2, "41I1G3000", 1_900.0, 5, 5, "LO"),
            quote(3, "HPG", 1.0, 2.0),
            trade(4, "SSI", 10.0, 0, 0, "LO"),
            trade(5, "FPT", 10.0, 100, 100, "LO"),
        ]
    )
    assert [r["symbol"] for r in rows] == ["41I1G3000", "FPT", "VNM"]


def test_values_are_exact_sums_reported_as_the_nearest_float() -> None:
    """0.1-point futures prices: the value is the float nearest to the exact sum (which
    adding the float products would miss), and vwap is that float over the volume."""
    from fractions import Fraction

    prices = [1929.7, 1929.8, 1929.9, 1930.1, 1929.6] * 40
    volumes = [3, 7, 11, 13, 17] * 40
    events = []
    total = 0
    for seq, (price, volume) in enumerate(zip(prices, volumes, strict=True), start=1):
        total += volume
        events.append(trade(seq, "41I1G3000", price, volume, total, "LO"))
    (row,) = run(events)
    exact = sum(Fraction(str(p)) * v for p, v in zip(prices, volumes, strict=True))
    assert row["value"] == float(exact) == row["neutral_value"]
    assert row["vwap"] == float(exact) / total
    floats = 0.0
    for price, volume in zip(prices, volumes, strict=True):
        floats += price * volume
    assert floats != float(exact)  # what the float sum would have reported


def test_unpriced_trade_messages_are_counted_apart() -> None:
    """X-TRADE messages with a volume but a price of 0 or NaN are `unpriced`: not trades,
    not repeats, and their TotalVol does not hide the next trade as a repeat."""
    rows = run(
        [
            trade(1, "VNM", 60_000.0, 100, 100, "LO"),
            trade(2, "VNM", 0.0, 100, 200, "LO"),
            trade(3, "VNM", float("nan"), 100, 300, "LO"),
            trade(4, "VNM", 60_000.0, 100, 200, "LO"),  # not a repeat: max counted is 100
        ]
    )
    (row,) = rows
    assert (row["trades"], row["volume"], row["duplicates"], row["unpriced"]) == (2, 200, 0, 2)
