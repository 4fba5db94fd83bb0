"""Exponential backoff with full jitter for reconnects, seeded for reproducible tests."""

from __future__ import annotations

import random


class Backoff:
    def __init__(
        self, *, base: float = 0.5, factor: float = 2.0, cap: float = 30.0, rng: random.Random
    ) -> None:
        self._base = base
        self._factor = factor
        self._cap = cap
        self._rng = rng
        self.attempt = 0

    def next_delay(self) -> float:
        """The wait before the next attempt: uniform in [0, min(cap, base * factor^n)]."""
        ceiling = min(self._cap, self._base * self._factor**self.attempt)
        self.attempt += 1
        return self._rng.uniform(0.0, ceiling)

    def reset(self) -> None:
        self.attempt = 0
