"""Quote state: the latest book of every symbol, set by `X-QUOTE`, `Quote` and `X` messages."""

from __future__ import annotations

from vnrec.events import QuoteEvent


class QuoteBook:
    """The current book per symbol: the quote event that set it. A price of 0 means the
    level is empty; a symbol without a quote yet has both sides empty."""

    def __init__(self) -> None:
        self._latest: dict[str | None, QuoteEvent] = {}

    def on_quote(self, event: QuoteEvent) -> None:
        self._latest[event.symbol] = event

    def reset(self) -> None:
        """Forget every book (after a recording gap, SPEC.md 7.3: they may be stale)."""
        self._latest.clear()

    def top(self, symbol: str | None) -> tuple[float, float]:
        """(bid1, ask1) of the symbol's current book; (0.0, 0.0) before its first quote."""
        latest = self._latest.get(symbol)
        return (0.0, 0.0) if latest is None else (latest.bid1, latest.ask1)

    def latest(self, symbol: str | None) -> QuoteEvent | None:
        """The quote event that set the symbol's current book (all its levels)."""
        return self._latest.get(symbol)

    @property
    def books(self) -> dict[str | None, QuoteEvent]:
        """The symbol -> quote map itself, for callers on the per-trade hot path."""
        return self._latest
