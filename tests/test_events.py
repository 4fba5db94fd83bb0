"""Events: read-only tuples with seq, recv_ns and event_ts first; event-time conversions."""

from __future__ import annotations

import datetime as dt

import pytest

from vnrec.events import (
    EVENT_TYPES,
    QuoteEvent,
    TradeEvent,
    event_time,
    to_event_ts,
)


def test_every_event_starts_with_seq_recv_ns_event_ts() -> None:
    """Trackers can rely on the three common fields, in this order, on every event type."""
    for event_type in EVENT_TYPES:
        assert event_type._fields[:3] == ("seq", "recv_ns", "event_ts")


def test_events_are_read_only() -> None:
    """An event cannot be changed after it is made."""
    event = TradeEvent(1, None, None, "X-TRADE", "VNM", 1.0, 100, 100, 0.0, "LO", None)
    with pytest.raises(AttributeError):
        event.price = 2.0  # type: ignore[misc]


def test_events_with_the_same_fields_are_equal() -> None:
    """Events compare by value (what the parity tests rely on)."""
    a = QuoteEvent(1, None, 5, "X-QUOTE", "VNM", "LO", 1.0, 1, 2.0, 2, None)
    assert a == QuoteEvent(1, None, 5, "X-QUOTE", "VNM", "LO", 1.0, 1, 2.0, 2, None)


def test_event_time_round_trip() -> None:
    """event_ts is UTC microseconds: 09:15 in Ho Chi Minh City is 02:15 UTC."""
    local = dt.datetime(2026, 2, 6, 9, 15, 30, 250, tzinfo=dt.timezone(dt.timedelta(hours=7)))
    micros = to_event_ts(local)
    assert event_time(micros) == local
    assert event_time(micros) == dt.datetime(2026, 2, 6, 2, 15, 30, 250, tzinfo=dt.UTC)
    assert event_time(None) is None
