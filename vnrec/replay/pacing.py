"""Pacing by event time: the only place in vnrec's replay that sleeps. The clock and the
sleep function are passed in, so tests pace without really sleeping."""

from __future__ import annotations

import math
from collections.abc import Callable

from vnrec.errors import BadInputError

Clock = Callable[[], float]
Sleep = Callable[[float], None]


def check_speed(speed: float) -> None:
    """A pacing speed: N x real time, a finite number > 0."""
    if not (speed > 0 and math.isfinite(speed)):
        raise BadInputError(f"--speed must be a finite number > 0, got {speed}")


class Pacer:
    """Delays each event until `speed` times real time has passed since the first event.

    An event without an event time, or earlier than one already paced, goes at once."""

    def __init__(self, speed: float, clock: Clock, sleep: Sleep) -> None:
        check_speed(speed)
        self._speed = speed
        self._clock = clock
        self._sleep = sleep
        self._first_ts: int | None = None
        self._started = 0.0

    def wait(self, event_ts: int | None) -> None:
        if event_ts is None:
            return
        if self._first_ts is None:
            self._first_ts = event_ts
            self._started = self._clock()
            return
        due = self._started + (event_ts - self._first_ts) / 1e6 / self._speed
        delay = due - self._clock()
        if delay > 0:
            self._sleep(delay)
