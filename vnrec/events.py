"""Typed, read-only market events handed to trackers, one per message part, in `seq` order.

Every event is a `NamedTuple` whose first three fields are `seq` (the recorder sequence
number), `recv_ns` (receive time, UTC nanoseconds, None when unknown) and `event_ts` (the
message's own time as UTC *microseconds* since the epoch, None when the message had no
usable time). Plain tuples keep the per-event cost low: a replay creates millions of them.

Missing numbers: trade and quote events carry NaN for a missing price or value and 0 for a
missing volume, so trackers compare without None checks (a NaN is never > 0). Foreign,
index, bar, status and odd-lot events keep None for a missing number, as stored.

An `X` (combined snapshot) message is delivered as two events with the same `seq`: first
its `TradeEvent` (so a trade is classified against the book before it), then its
`QuoteEvent` (the book update).
"""

from __future__ import annotations

import datetime as dt
import math
from typing import NamedTuple


class TradeEvent(NamedTuple):
    """A row of the `trades` table: a trade message, or the trade part of a snapshot (SSI's
    `X-TRADE` and legacy `Trade`, or `X`)."""

    seq: int
    recv_ns: int | None
    event_ts: int | None
    kind: str  # "trade" (one trade message) or "snapshot" (the trade part of a snapshot)
    symbol: str | None
    price: float  # LastPrice
    volume: int  # LastVol
    total_vol: int  # TotalVol, cumulative for the day
    total_val: float  # TotalVal, cumulative for the day
    session: str | None  # TradingSession: ATO, LO, ATC, ... (free text)
    side: str | None  # wire Side: BU, SD or None; never a classification
    ceiling: float = math.nan  # the message's Ceiling (NaN when missing)
    floor: float = math.nan  # the message's Floor (NaN when missing)


class BookLevels(NamedTuple):
    """Every level of a book, best first; an empty level has price 0."""

    bid_prices: tuple[float, ...]
    bid_vols: tuple[int, ...]
    ask_prices: tuple[float, ...]
    ask_vols: tuple[int, ...]


class QuoteEvent(NamedTuple):
    """A row of the `quotes` table: a book message, or the book part of a snapshot (SSI's
    `X-QUOTE` and legacy `Quote`, or `X`).

    `levels` holds the deeper book only when the reader was asked for more than one level;
    the best level is always in `bid1`/`ask1` (price 0 = empty side)."""

    seq: int
    recv_ns: int | None
    event_ts: int | None
    kind: str  # "quote" (a book message) or "snapshot" (the book part of a snapshot)
    symbol: str | None
    session: str | None
    bid1: float
    bid_vol1: int
    ask1: float
    ask_vol1: int
    levels: BookLevels | None


class ForeignEvent(NamedTuple):
    """An `R` message: foreign room and cumulative foreign trading since the open."""

    seq: int
    recv_ns: int | None
    event_ts: int | None
    symbol: str | None
    buy_vol: int | None
    sell_vol: int | None
    buy_val: float | None
    sell_val: float | None
    total_room: int | None
    current_room: int | None


class IndexEvent(NamedTuple):
    """An `MI` message."""

    seq: int
    recv_ns: int | None
    event_ts: int | None
    index_id: str | None
    value: float | None  # IndexValue
    prior_value: float | None
    change: float | None
    ratio_change: float | None
    advances: int | None
    declines: int | None
    no_changes: int | None
    total_qtty: int | None
    total_value: float | None
    session: str | None


class BarEvent(NamedTuple):
    """A `B` message (one-minute bar)."""

    seq: int
    recv_ns: int | None
    event_ts: int | None
    symbol: str | None
    open: float | None
    high: float | None
    low: float | None
    close: float | None
    volume: int | None
    value: float | None


class StatusEvent(NamedTuple):
    """An `F` message: a security's session and trading status."""

    seq: int
    recv_ns: int | None
    event_ts: int | None
    symbol: str | None
    session: str | None
    status: str | None


class OddLotEvent(NamedTuple):
    """An `OL` message (odd-lot board); never counted as a trade."""

    seq: int
    recv_ns: int | None
    event_ts: int | None
    symbol: str | None
    price: float | None
    volume: int | None
    total_vol: int | None
    session: str | None


class UnknownEvent(NamedTuple):
    """A message of a DataType vnrec does not model, kept as received (from `raw`)."""

    seq: int
    recv_ns: int | None
    event_ts: int | None  # always None: raw rows carry no parsed time
    data_type: str | None
    content: str | None


Event = (
    TradeEvent
    | QuoteEvent
    | ForeignEvent
    | IndexEvent
    | BarEvent
    | StatusEvent
    | OddLotEvent
    | UnknownEvent
)

EVENT_TYPES: tuple[type[Event], ...] = (
    TradeEvent,
    QuoteEvent,
    ForeignEvent,
    IndexEvent,
    BarEvent,
    StatusEvent,
    OddLotEvent,
    UnknownEvent,
)


class Trade(NamedTuple):
    """A counted trade (SPEC.md section 4), classified against the book just before it:
    what `on_trade` receives. `value` is the exact price x volume as a float; `basis` is
    price - VN30 for a VN30 index future once the day has a VN30 value, else None."""

    seq: int
    event_ts: int | None  # UTC microseconds, as every event's
    symbol: str | None
    price: float
    volume: int
    value: float
    side: str  # buy / sell / neutral: the classification (active buy, active sell)
    phase: str  # ato / continuous / atc
    wire_side: str | None  # the message's own Side (BU / SD / None), never substituted
    basis: float | None


class Gap(NamedTuple):
    """A span in which the recorder was not receiving (from the `connections` table: a
    disconnect, a stall or a killed recorder, until the next connect). `seq` is the first
    message after it; `start_ns`/`end_ns` are UTC nanoseconds; `reason` says what opened it.
    The quote state is empty after a gap: a book from before it may be stale."""

    seq: int
    start_ns: int
    end_ns: int
    reason: str

    @property
    def seconds(self) -> float:
        """How long the recorder was not receiving."""
        return (self.end_ns - self.start_ns) / 1e9


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def event_time(event_ts_us: int | None) -> dt.datetime | None:
    """An event's `event_ts` (UTC microseconds) as an aware UTC datetime."""
    if event_ts_us is None:
        return None
    return _EPOCH + dt.timedelta(microseconds=event_ts_us)


def to_event_ts(instant: dt.datetime) -> int:
    """An aware datetime as `event_ts` (UTC microseconds since the epoch)."""
    delta = instant - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
