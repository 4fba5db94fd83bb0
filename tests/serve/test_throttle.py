"""The trailing-edge throttle of the pushes, on a clock the test moves."""

from __future__ import annotations

import itertools

import pytest

from vnrec.serve.throttle import TrailingThrottle


def test_the_first_change_goes_at_once_then_one_send_per_interval() -> None:
    throttle = TrailingThrottle(0.5)
    assert throttle.on_change(10.0) == 0.0
    throttle.begin_send(10.0)
    # Changes within the interval are one send, at the interval's end.
    assert throttle.on_change(10.1) == pytest.approx(0.4)
    assert throttle.on_change(10.2) is None
    assert throttle.on_change(10.49) is None
    throttle.begin_send(10.5)
    # A change long after the last send goes at once again.
    assert throttle.on_change(12.0) == 0.0


def test_a_change_while_a_send_is_computed_is_not_lost() -> None:
    throttle = TrailingThrottle(0.5)
    assert throttle.on_change(0.0) == 0.0
    throttle.begin_send(0.0)  # the payload is being computed from here on
    assert throttle.on_change(0.01) == pytest.approx(0.49)


def test_sends_are_never_closer_than_the_interval() -> None:
    """Whatever the pattern of changes, the sends it causes are spaced by the interval at
    least, and the last change is always followed by a send."""
    throttle = TrailingThrottle(0.5)
    sends: list[float] = []
    due: float | None = None
    now = 0.0
    for step in range(2_000):
        now = step * 0.003  # a change every 3 ms: 333 per second
        if due is not None and now >= due:
            throttle.begin_send(due)
            sends.append(due)
            due = None
        delay = throttle.on_change(now)
        if delay is not None:
            due = now + delay
    assert due is not None and due >= now  # the last change has its send coming
    gaps = [b - a for a, b in itertools.pairwise(sends)]
    assert min(gaps) >= 0.5 - 1e-9
    assert len(sends) <= now / 0.5 + 1


def test_a_negative_interval_is_refused() -> None:
    with pytest.raises(ValueError, match="interval"):
        TrailingThrottle(-1)
