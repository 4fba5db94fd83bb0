"""vnrec: record, replay and query SSI FastConnect market data for the Vietnamese markets.

The public face for tracker authors: `Tracker` (subclass it, or give any object some of its
methods), the `Trade` and `Gap` it is handed, and the events of `vnrec.events`. Replaying
is `vnrec.replay.replay`; SQL is `vnrec.analytics.connect`.
"""

from vnrec.events import (
    BarEvent,
    ForeignEvent,
    Gap,
    IndexEvent,
    OddLotEvent,
    QuoteEvent,
    StatusEvent,
    Trade,
    TradeEvent,
    UnknownEvent,
    event_time,
)
from vnrec.trackers.base import Tracker, TrackerError

__version__ = "0.1.0"

__all__ = [
    "BarEvent",
    "ForeignEvent",
    "Gap",
    "IndexEvent",
    "OddLotEvent",
    "QuoteEvent",
    "StatusEvent",
    "Tracker",
    "TrackerError",
    "Trade",
    "TradeEvent",
    "UnknownEvent",
    "event_time",
]
