"""Pure, deterministic trackers of SPEC.md section 4: no I/O, no wall clock, explicit state."""

from vnrec.trackers.basis import BASIS_KEYS, BasisPoint, BasisTracker
from vnrec.trackers.book import QuoteBook
from vnrec.trackers.day import DayTrackers, TradeSink
from vnrec.trackers.foreign import FOREIGN_KEYS, ForeignFlow, ForeignTracker
from vnrec.trackers.index import INDEX_KEYS, IndexPoint, IndexTracker
from vnrec.trackers.stats import STATS_KEYS, SessionStats
from vnrec.trackers.trades import CountedTrade, TradeCounter, classify, phase_of

__all__ = [
    "BASIS_KEYS",
    "FOREIGN_KEYS",
    "INDEX_KEYS",
    "STATS_KEYS",
    "BasisPoint",
    "BasisTracker",
    "CountedTrade",
    "DayTrackers",
    "ForeignFlow",
    "ForeignTracker",
    "IndexPoint",
    "IndexTracker",
    "QuoteBook",
    "SessionStats",
    "TradeCounter",
    "TradeSink",
    "classify",
    "phase_of",
]
