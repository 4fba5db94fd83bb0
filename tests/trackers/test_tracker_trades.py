"""Trade counting, repeat detection, classification and phase (SPEC.md section 4)."""

from __future__ import annotations

import datetime as dt
import math

import pytest

from vnrec.events import QuoteEvent, TradeEvent
from vnrec.trackers import CountedTrade, DayTrackers, TradeCounter, classify, phase_of


def trade(
    seq: int,
    price: float,
    volume: int,
    total_vol: int,
    *,
    symbol: str = "VNM",
    session: str | None = "LO",
    kind: str = "trade",
    side: str | None = None,
) -> TradeEvent:
    return TradeEvent(seq, None, None, kind, symbol, price, volume, total_vol, 0.0, session, side)


def quote(seq: int, bid1: float, ask1: float, symbol: str = "VNM") -> QuoteEvent:
    return QuoteEvent(seq, None, None, "quote", symbol, "LO", bid1, 100, ask1, 100, None)


class Classifier:
    """The day's trackers with a book for VNM; `count` returns the counted trade or None."""

    def __init__(self, bid1: float | None, ask1: float | None) -> None:
        self.counted: list[CountedTrade] = []
        self.trackers = DayTrackers(dt.date(2026, 2, 6), trade_sinks=[self.counted.append])
        if bid1 is not None and ask1 is not None:
            self.trackers.on_event(quote(1, bid1, ask1))

    def count(self, event: TradeEvent) -> CountedTrade | None:
        before = len(self.counted)
        self.trackers.on_event(event)
        return self.counted[-1] if len(self.counted) > before else None


def counter_with_book(bid1: float | None, ask1: float | None) -> Classifier:
    return Classifier(bid1, ask1)


@pytest.mark.parametrize(
    ("price", "expected"),
    [
        (60_100.0, "buy"),  # at ask
        (60_200.0, "buy"),  # above ask
        (60_000.0, "sell"),  # at bid
        (59_900.0, "sell"),  # below bid
        (60_050.0, "neutral"),  # inside the spread
    ],
)
def test_classification_against_the_book(price: float, expected: str) -> None:
    """At/above ask is an active buy, at/below bid an active sell, inside the spread neutral."""
    counted = counter_with_book(60_000.0, 60_100.0).count(trade(2, price, 100, 100))
    assert counted is not None
    assert counted.side == expected
    assert (counted.bid1, counted.ask1) == (60_000.0, 60_100.0)


def test_no_quote_yet_is_neutral() -> None:
    """A trade of a symbol without any book yet is neutral, classified against (0, 0)."""
    counted = counter_with_book(None, None).count(trade(1, 60_000.0, 100, 100))
    assert counted is not None
    assert counted.side == "neutral"
    assert (counted.bid1, counted.ask1) == (0.0, 0.0)


def test_quote_of_another_symbol_does_not_classify() -> None:
    """The book is per symbol: FPT's quote says nothing about a VNM trade."""
    classifier = counter_with_book(None, None)
    classifier.trackers.on_event(quote(1, 99_000.0, 99_100.0, symbol="FPT"))
    counted = classifier.count(trade(2, 99_100.0, 100, 100))
    assert counted is not None and counted.side == "neutral"


def test_snapshot_is_classified_against_the_book_before_it() -> None:
    """An X's trade part meets the previous book; its own book applies to later trades."""
    classifier = counter_with_book(60_000.0, 60_100.0)
    x_trade = classifier.count(trade(2, 60_100.0, 100, 100, kind="snapshot"))
    classifier.trackers.on_event(quote(2, 60_100.0, 60_200.0))  # the X's book part
    later = classifier.count(trade(3, 60_100.0, 100, 200))
    assert x_trade is not None and x_trade.side == "buy"
    assert later is not None and later.side == "sell"


def test_empty_ask_side_is_not_a_buy() -> None:
    """Ask price 0 (empty level): a trade above the bid is not a buy; at the bid it is a sell."""
    counter = counter_with_book(60_000.0, 0.0)
    above = counter.count(trade(2, 60_500.0, 100, 100))
    at_bid = counter.count(trade(3, 60_000.0, 100, 200))
    assert above is not None and above.side == "neutral"
    assert at_bid is not None and at_bid.side == "sell"


def test_empty_bid_side_is_not_a_sell() -> None:
    """Bid price 0 (empty level): a low trade is neutral, at the ask still a buy."""
    counter = counter_with_book(0.0, 60_100.0)
    low = counter.count(trade(2, 1_000.0, 100, 100))
    at_ask = counter.count(trade(3, 60_100.0, 100, 200))
    assert low is not None and low.side == "neutral"
    assert at_ask is not None and at_ask.side == "buy"


def test_book_with_both_sides_empty_is_neutral() -> None:
    """A book of zeros classifies every trade as neutral."""
    counted = counter_with_book(0.0, 0.0).count(trade(2, 60_000.0, 100, 100))
    assert counted is not None and counted.side == "neutral"


@pytest.mark.parametrize("session", ["ATO", "ATC"])
def test_auction_trades_are_neutral(session: str) -> None:
    """ATO and ATC matches have no aggressor, even at the ask or the bid."""
    counter = counter_with_book(60_000.0, 60_100.0)
    at_ask = counter.count(trade(2, 60_100.0, 100, 100, session=session))
    at_bid = counter.count(trade(3, 60_000.0, 100, 200, session=session))
    assert at_ask is not None and at_ask.side == "neutral"
    assert at_bid is not None and at_bid.side == "neutral"


def test_classify_rule_order() -> None:
    """The rules apply in order: auction, then ask, then bid (a crossed book buys first)."""
    assert classify(100.0, 101.0, 99.0, "LO") == "buy"
    assert classify(100.0, 101.0, 99.0, "ATC") == "neutral"
    assert classify(math.nan, 99.0, 101.0, "LO") == "neutral"


@pytest.mark.parametrize(
    ("session", "phase"),
    [
        ("ATO", "ato"),
        ("ATC", "atc"),
        ("LO", "continuous"),
        (None, "continuous"),
        ("PT", "continuous"),
    ],
)
def test_phase(session: str | None, phase: str) -> None:
    """ATO -> ato, ATC -> atc, anything else (free text, null) -> continuous."""
    assert phase_of(session) == phase
    counted = counter_with_book(None, None).count(trade(1, 10.0, 100, 100, session=session))
    assert counted is not None and counted.phase == phase


def test_counted_trade_fields() -> None:
    """A counted trade carries value = price x volume and keeps the wire Side separately."""
    counted = counter_with_book(60_000.0, 60_100.0).count(trade(7, 60_000.0, 300, 300, side="BU"))
    assert counted == CountedTrade(
        7, None, "VNM", 60_000.0, 300, 18_000_000.0, "sell", "continuous", 60_000.0, 60_100.0, "BU"
    )


def count_all(events: list[TradeEvent]) -> tuple[list[int], TradeCounter]:
    counter = TradeCounter()
    return [counter.count(e) for e in events], counter


def test_not_trades() -> None:
    """LastVol 0, LastPrice 0 or NaN are never trades, and never duplicates."""
    volumes, counter = count_all(
        [trade(1, 60_000.0, 0, 100), trade(2, 0.0, 100, 100), trade(3, math.nan, 100, 100)]
    )
    assert volumes == [0, 0, 0]
    assert counter.duplicates("VNM") == 0


def test_repeats_after_reconnect_are_duplicates() -> None:
    """Trades resent after a reconnect (TotalVol not above the max counted) are not counted."""
    volumes, counter = count_all(
        [
            trade(1, 10.0, 100, 100),
            trade(2, 10.0, 200, 300),
            trade(3, 10.0, 50, 350),
            # The reconnect replays the last two trades, then the stream moves on.
            trade(4, 10.0, 200, 300),
            trade(5, 10.0, 50, 350),
            trade(6, 10.0, 10, 360),
        ]
    )
    assert volumes == [100, 200, 50, 0, 0, 10]
    assert counter.duplicates("VNM") == 2


def test_repeats_are_counted_in_duplicates_not_in_volume() -> None:
    """Session stats leave repeats out of volume and trades and report them as duplicates."""
    trackers = DayTrackers(dt.date(2026, 2, 6))
    for event in [trade(1, 10.0, 100, 100), trade(2, 10.0, 100, 100), trade(3, 10.0, 5, 105)]:
        trackers.on_event(event)
    (row,) = trackers.summary()["stats"]
    assert (row["trades"], row["volume"], row["duplicates"]) == (2, 105, 1)


def test_repeat_detection_is_per_symbol() -> None:
    """A TotalVol already seen on another symbol is not a repeat."""
    volumes, counter = count_all(
        [trade(1, 10.0, 500, 500, symbol="AAA"), trade(2, 10.0, 100, 100, symbol="BBB")]
    )
    assert volumes == [500, 100]
    assert counter.duplicates("BBB") == 0


def test_trade_without_total_is_always_counted() -> None:
    """An X-TRADE with TotalVol 0 (unknown) cannot be judged a repeat: it counts."""
    volumes, counter = count_all([trade(1, 10.0, 100, 100), trade(2, 10.0, 100, 0)])
    assert volumes == [100, 100]
    assert counter.duplicates("VNM") == 0


def test_snapshots_count_only_total_volume_increases() -> None:
    """An X counts the increase of TotalVol over the max counted; no increase is no trade."""
    volumes, counter = count_all(
        [
            trade(1, 10.0, 100, 1_000, kind="snapshot"),
            trade(2, 10.0, 100, 1_000, kind="snapshot"),
            trade(3, 10.0, 100, 900, kind="snapshot"),
            trade(4, 11.0, 100, 1_250, kind="snapshot"),
        ]
    )
    assert volumes == [1_000, 0, 0, 250]
    assert counter.duplicates("VNM") == 0  # a snapshot is never a duplicate


def test_snapshot_value_is_price_times_the_increase() -> None:
    """The counted X's value is its price times the TotalVol increase, not LastVol."""
    classifier = counter_with_book(None, None)
    classifier.count(trade(1, 10.0, 100, 1_000, kind="snapshot"))
    more = classifier.count(trade(2, 11.0, 100, 1_250, kind="snapshot"))
    assert more is not None and (more.volume, more.value) == (250, 11.0 * 250)


def test_snapshot_after_trades_counts_only_the_rest() -> None:
    """X-TRADE and X share the max: an X after counted trades adds only the new volume."""
    volumes, counter = count_all(
        [
            trade(1, 10.0, 100, 100),
            trade(2, 10.0, 100, 400, kind="snapshot"),
            trade(3, 10.0, 100, 400),
        ]
    )
    assert volumes == [100, 300, 0]
    assert counter.duplicates("VNM") == 1


def test_snapshot_with_zero_price_is_not_a_trade() -> None:
    """An X without a price (book-only change) counts nothing and keeps the max unchanged."""
    volumes, _ = count_all(
        [trade(1, 0.0, 0, 500, kind="snapshot"), trade(2, 10.0, 100, 500, kind="snapshot")]
    )
    assert volumes == [0, 500]
