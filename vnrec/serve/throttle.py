"""Trailing-edge throttling of a channel's pushes, without I/O: the caller owns the clock and
the timers, so the rule is tested without sleeping.

The first change is sent at once; changes within `interval` after a send are coalesced into
one send when the interval ends. What is sent is computed when the send starts, so the last
send always carries the latest state, and a change made while a send is being computed is
not lost: it schedules the next one.
"""

from __future__ import annotations

import math


class TrailingThrottle:
    def __init__(self, interval: float) -> None:
        if not interval >= 0:
            raise ValueError(f"throttle interval must be >= 0, got {interval}")
        self.interval = interval
        self._last_send = -math.inf
        self._scheduled = False

    def on_change(self, now: float) -> float | None:
        """A change at `now`: the delay before the send that will carry it, or None when a
        send is already scheduled (it will)."""
        if self._scheduled:
            return None
        self._scheduled = True
        return max(0.0, self._last_send + self.interval - now)

    def begin_send(self, now: float) -> None:
        """The scheduled send starts computing its payload at `now`."""
        self._scheduled = False
        self._last_send = now
