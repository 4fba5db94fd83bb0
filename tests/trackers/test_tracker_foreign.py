"""Foreign flow: latest cumulative figures, intraday flow, re-baselining, five-minute speed."""

from __future__ import annotations

import pytest

from vnrec.events import ForeignEvent
from vnrec.trackers import FOREIGN_KEYS, ForeignTracker

T0 = 1_770_343_200_000_000  # an event time in UTC microseconds
MINUTE = 60_000_000


def r_msg(
    seq: int,
    buy_vol: int,
    sell_vol: int,
    buy_val: float,
    sell_val: float,
    *,
    minute: float | None = 0,
    symbol: str = "VNM",
) -> ForeignEvent:
    ts = None if minute is None else T0 + int(minute * MINUTE)
    return ForeignEvent(
        seq, None, ts, symbol, buy_vol, sell_vol, buy_val, sell_val, 1_000_000, 400_000
    )


def test_latest_cumulative_values() -> None:
    """The foreign object is the latest R message's figures, net = buy - sell, rooms as sent."""
    tracker = ForeignTracker()
    tracker.on_foreign(r_msg(1, 100, 50, 1e6, 5e5))
    tracker.on_foreign(r_msg(2, 300, 80, 3e6, 8e5, minute=1))
    assert tracker.rows() == [
        {
            "symbol": "VNM",
            "buy_volume": 300,
            "sell_volume": 80,
            "buy_value": 3e6,
            "sell_value": 8e5,
            "net_volume": 220,
            "net_value": 2.2e6,
            "total_room": 1_000_000,
            "current_room": 400_000,
        }
    ]
    assert tuple(tracker.rows()[0]) == FOREIGN_KEYS


def test_intraday_flow_is_the_change_between_messages() -> None:
    """The first message's flow is its cumulative figures; later ones the change since."""
    tracker = ForeignTracker()
    first = tracker.on_foreign(r_msg(1, 100, 50, 1e6, 5e5))
    second = tracker.on_foreign(r_msg(2, 300, 80, 3e6, 8e5, minute=1))
    assert (first.buy_volume, first.sell_volume, first.net_volume) == (100, 50, 50)
    assert (second.buy_volume, second.sell_volume, second.net_volume) == (200, 30, 170)
    assert (second.buy_value, second.sell_value, second.net_value) == (2e6, 3e5, 1.7e6)
    assert not first.rebaselined and not second.rebaselined


def test_cumulative_going_backwards_rebaselines() -> None:
    """A decrease is never a negative flow: that figure's flow is 0, the lower value becomes the
    baseline, and the event is counted."""
    tracker = ForeignTracker()
    tracker.on_foreign(r_msg(1, 1_000, 500, 1e7, 5e6))
    back = tracker.on_foreign(r_msg(2, 400, 600, 4e6, 6e6, minute=1))
    after = tracker.on_foreign(r_msg(3, 450, 600, 4.5e6, 6e6, minute=2))
    assert back.rebaselined
    assert (back.buy_volume, back.sell_volume) == (0, 100)
    assert (back.buy_value, back.sell_value) == (0.0, 1e6)
    assert after.buy_volume == 50 and after.buy_value == 5e5  # measured from the new baseline
    assert not after.rebaselined
    assert tracker.rebaselines("VNM") == 1
    assert all(f.buy_volume >= 0 and f.sell_volume >= 0 for f in tracker.series)
    # The summary still reports the latest cumulative figures as sent.
    assert tracker.rows()[0]["buy_volume"] == 450


def test_speed_divides_by_the_actual_span() -> None:
    """Two minutes into the day the speed is the flow over those two minutes, per minute."""
    tracker = ForeignTracker()
    tracker.on_foreign(r_msg(1, 0, 0, 0.0, 0.0, minute=0))
    flow = tracker.on_foreign(r_msg(2, 600, 0, 6e6, 0.0, minute=2))
    assert flow.net_volume_speed == pytest.approx(300.0)
    assert flow.net_value_speed == pytest.approx(3e6)


def test_buy_and_sell_speeds_and_the_acceleration() -> None:
    """Buy and sell value per minute over the window; the net value speed's change per
    minute since the window's first message with a speed."""
    tracker = ForeignTracker()
    tracker.on_foreign(r_msg(1, 0, 0, 0.0, 0.0, minute=0))
    first = tracker.on_foreign(r_msg(2, 0, 0, 2e6, 1e6, minute=1))  # speed 1e6/min
    assert (first.buy_value_speed, first.sell_value_speed) == (2e6, 1e6)
    assert first.net_value_acceleration is None  # the window's start had no speed
    tracker.on_foreign(r_msg(3, 0, 0, 2e6, 1e6, minute=4.5))
    flow = tracker.on_foreign(r_msg(4, 0, 0, 14e6, 1e6, minute=6))
    # window [1, 6]: net value 1e6 -> 13e6 in 5 minutes = 2.4e6/min, up from 1e6/min
    assert flow.net_value_speed == pytest.approx(2.4e6)
    assert flow.buy_value_speed == pytest.approx(2.4e6)
    assert flow.sell_value_speed == pytest.approx(0.0)
    assert flow.net_value_acceleration == pytest.approx((2.4e6 - 1e6) / 5)


def test_speed_uses_only_the_last_five_minutes() -> None:
    """Flows older than five minutes of event time leave the speed window."""
    tracker = ForeignTracker()
    tracker.on_foreign(r_msg(1, 0, 0, 0.0, 0.0, minute=0))
    tracker.on_foreign(r_msg(2, 10_000, 0, 0.0, 0.0, minute=1))  # a burst early on
    tracker.on_foreign(r_msg(3, 10_000, 0, 0.0, 0.0, minute=5))
    flow = tracker.on_foreign(r_msg(4, 10_500, 0, 0.0, 0.0, minute=10))
    # The window [5, 10] holds messages 3 and 4: 500 shares over 5 minutes.
    assert flow.net_volume_speed == pytest.approx(100.0)


def test_speed_without_a_span_is_none() -> None:
    """The first message, or one without an event time, has no speed."""
    tracker = ForeignTracker()
    first = tracker.on_foreign(r_msg(1, 10, 0, 0.0, 0.0))
    untimed = tracker.on_foreign(r_msg(2, 20, 0, 0.0, 0.0, minute=None))
    assert first.net_volume_speed is None and untimed.net_volume_speed is None


def test_symbols_sorted_and_independent() -> None:
    """Each symbol has its own baseline; the list is sorted by symbol."""
    tracker = ForeignTracker()
    tracker.on_foreign(r_msg(1, 100, 0, 0.0, 0.0, symbol="VNM"))
    other = tracker.on_foreign(r_msg(2, 50, 0, 0.0, 0.0, symbol="FPT"))
    assert other.buy_volume == 50 and not other.rebaselined
    assert [r["symbol"] for r in tracker.rows()] == ["FPT", "VNM"]


def test_missing_figures_are_null_not_zero() -> None:
    """A figure the message lacks stays null in the summary (and net with it); no flow."""
    tracker = ForeignTracker()
    event = ForeignEvent(1, None, T0, "VNM", None, 10, None, 1.0, None, None)
    flow = tracker.on_foreign(event)
    row = tracker.rows()[0]
    assert row["buy_volume"] is None and row["net_volume"] is None
    assert flow.buy_volume == 0 and flow.sell_volume == 10


def test_rebaselined_symbols_are_listed() -> None:
    """The day's data-quality events are available per symbol, sorted."""
    tracker = ForeignTracker()
    for seq, symbol, buy in [(1, "VNM", 100), (2, "VNM", 50), (3, "FPT", 10), (4, "VNM", 40)]:
        tracker.on_foreign(r_msg(seq, buy, 0, 0.0, 0.0, symbol=symbol))
    assert tracker.rebaselined() == {"VNM": 2}
