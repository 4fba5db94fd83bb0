"""Recording gaps from the `connections` events: which spans are gaps, and where each is
placed (the first message received at or after the reconnect)."""

from __future__ import annotations

import numpy as np

from vnrec.events import Gap
from vnrec.storage.gaps import KILLED, ConnectionEvent, Span, gap_spans, place_spans

S = 1_000_000_000


def _events(*rows: tuple[str, int, str]) -> list[ConnectionEvent]:
    return sorted(
        (ConnectionEvent(run, ts * S, event, "why") for run, ts, event in rows),
        key=lambda e: e.ts_ns,
    )


def test_disconnects_and_stalls_until_the_next_connect() -> None:
    events = _events(
        ("a", 0, "start"), ("a", 1, "connect"), ("a", 10, "disconnect"), ("a", 11, "backoff"),
        ("a", 12, "connect"), ("a", 20, "stall"), ("a", 25, "connect"), ("a", 30, "stop"),
    )  # fmt: skip
    assert gap_spans(events) == [
        Span(10 * S, 12 * S, "disconnect: why"),
        Span(20 * S, 25 * S, "stall: why"),
    ]


def test_a_stall_then_a_disconnect_is_one_gap_from_the_first() -> None:
    events = _events(
        ("a", 1, "connect"), ("a", 5, "stall"), ("a", 6, "disconnect"), ("a", 9, "connect"),
        ("a", 10, "stop"),
    )  # fmt: skip
    assert gap_spans(events) == [Span(5 * S, 9 * S, "stall: why")]


def test_a_killed_run_is_a_gap_until_the_next_run_connects() -> None:
    """A run without `stop` was killed: from its last event to the next connect of any
    run; the first connect of the day and a clean stop are no gap."""
    events = _events(
        ("a", 1, "start"), ("a", 2, "connect"), ("a", 3, "subscribe"),
        ("b", 50, "start"), ("b", 51, "connect"), ("b", 60, "disconnect"), ("b", 60, "stop"),
    )  # fmt: skip
    assert gap_spans(events) == [Span(3 * S, 51 * S, KILLED)]


def test_a_running_recorder_is_not_killed() -> None:
    events = _events(("a", 1, "connect"), ("a", 2, "subscribe"), ("a", 8, "stall"))
    assert gap_spans(events, running={"a"}) == []  # not closed yet
    events += _events(("a", 9, "connect"))
    assert gap_spans(events, running={"a"}) == [Span(8 * S, 9 * S, "stall: why")]
    # Were it dead, it would have died after its last event: no connect closes that yet.
    assert gap_spans(events) == [Span(8 * S, 9 * S, "stall: why")]


def test_placed_before_the_first_message_received_after_the_reconnect() -> None:
    """The gap's seq is the first message at or after the connect; it starts at the later
    of the span's start and the last message before it; spans with no message after them
    are no gap, and two spans before one message are one gap."""
    seq = np.arange(1, 7, dtype=np.int64)
    recv = np.array([1, 2, 3, 20, 21, 40], dtype=np.int64) * S
    spans = [
        Span(1 * S, 10 * S, "killed"),  # the last message before came at 3 s
        Span(25 * S, 30 * S, "stall"),
        Span(31 * S, 35 * S, "disconnect"),  # same message after it: one gap, from 25 s
        Span(50 * S, 60 * S, "disconnect"),  # nothing after
    ]
    assert place_spans(spans, seq, recv) == [
        Gap(4, 3 * S, 10 * S, "killed"),
        Gap(6, 25 * S, 30 * S, "stall"),
    ]
    assert Gap(4, 3 * S, 10 * S, "x").seconds == 7.0
