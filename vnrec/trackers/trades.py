"""The trade rules: counting (repeat detection), classification and phase. `DayTrackers`
applies them to each trade message against the quote book just before it.

Rules (SPEC.md section 4, docs/design.md): a candidate is an `X-TRADE`/`Trade` with
`LastVol > 0` and `LastPrice > 0`, or an `X` with `LastPrice > 0`. With `max_tv` the largest
`TotalVol` counted so far for the symbol: an `X-TRADE` whose `TotalVol > 0` and `<= max_tv`
is a repeat (counted in `duplicates`, not in volume), else it counts with `LastVol`; an `X`
counts only when `TotalVol > max_tv`, with the increase as its volume. An `X-TRADE` with
`LastVol > 0` whose price is missing, NaN or not > 0 is `unpriced`: counted as such, never a
trade or a repeat, and its `TotalVol` does not raise `max_tv`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from vnrec.events import TradeEvent
from vnrec.ssi.channels import SNAPSHOT_KIND

BUY = "buy"
SELL = "sell"
NEUTRAL = "neutral"
AUCTIONS = frozenset({"ATO", "ATC"})
PHASES: dict[str | None, str] = {"ATO": "ato", "ATC": "atc"}
CONTINUOUS = "continuous"
# Values are exact integers of price units / VALUE_SCALE (SPEC.md 7.1: at least 1e-4 of a
# price); a price becomes units by rounding price * VALUE_SCALE half up.
VALUE_SCALE = 10_000


class CountedTrade(NamedTuple):
    """A counted trade with its classification and the book it was classified against."""

    seq: int
    event_ts: int | None
    symbol: str | None
    price: float
    volume: int
    value: float
    side: str  # buy / sell / neutral (classification)
    phase: str  # ato / continuous / atc
    bid1: float
    ask1: float
    wire_side: str | None  # the message's own Side (BU/SD), kept alongside


def classify(price: float, bid1: float, ask1: float, session: str | None) -> str:
    """buy / sell / neutral for a trade at `price` against the book before it."""
    if session in AUCTIONS:
        return NEUTRAL
    if ask1 > 0 and price >= ask1:
        return BUY
    if bid1 > 0 and price <= bid1:
        return SELL
    return NEUTRAL


def phase_of(session: str | None) -> str:
    """ato / atc for the auction sessions, continuous otherwise."""
    return PHASES.get(session, CONTINUOUS)


def _always(_event_ts: int | None) -> bool:
    return True


class TradeCounter:
    """Decides which trade messages count, and with what volume, per symbol.
    `reports_repeat(event_ts)` says whether a repeat (or an unpriced trade) at that time
    is counted in `duplicates` (`unpriced`), for a replay's report window; every one counts
    by default."""

    def __init__(self, reports_repeat: Callable[[int | None], bool] = _always) -> None:
        self._max_tv: dict[str | None, int] = {}
        self._duplicates: dict[str | None, int] = {}
        self._unpriced: dict[str | None, int] = {}
        self._reports_repeat = reports_repeat

    def volume(
        self,
        kind: str,
        symbol: str | None,
        price: float,
        last_vol: int,
        total_vol: int,
        event_ts: int | None = None,
    ) -> int:
        """The counted volume of a trade message (a `TradeEvent`'s fields); 0 when it is not
        a (new) trade. A repeat is counted in `duplicates` instead, an unpriced trade
        message in `unpriced`."""
        if not price > 0:
            if kind != SNAPSHOT_KIND and last_vol > 0 and self._reports_repeat(event_ts):
                self._unpriced[symbol] = self._unpriced.get(symbol, 0) + 1
            return 0
        max_tv = self._max_tv.get(symbol, 0)
        if kind == SNAPSHOT_KIND:
            if total_vol <= max_tv:
                return 0
            self._max_tv[symbol] = total_vol
            return total_vol - max_tv
        if not last_vol > 0:
            return 0
        if 0 < total_vol <= max_tv:
            if self._reports_repeat(event_ts):
                self._duplicates[symbol] = self._duplicates.get(symbol, 0) + 1
            return 0
        if total_vol > max_tv:
            self._max_tv[symbol] = total_vol
        return last_vol

    def count(self, event: TradeEvent) -> int:
        """The counted volume of `event` (see `volume`)."""
        return self.volume(
            event.kind,
            event.symbol,
            event.price,
            event.volume,
            event.total_vol,
            event.event_ts,
        )

    def duplicates(self, symbol: str | None) -> int:
        """Repeats of already counted trades seen for the symbol."""
        return self._duplicates.get(symbol, 0)

    def unpriced(self, symbol: str | None) -> int:
        """Trade messages of the symbol with a volume but no usable price."""
        return self._unpriced.get(symbol, 0)
