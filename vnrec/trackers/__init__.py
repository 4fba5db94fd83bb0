"""Pure, deterministic trackers of SPEC.md section 4: no I/O, no wall clock, explicit state."""

from vnrec.results import BASIS_KEYS, FOREIGN_KEYS, INDEX_KEYS, STATS_KEYS
from vnrec.trackers.basis import BasisPoint, BasisTracker
from vnrec.trackers.book import QuoteBook
from vnrec.trackers.day import DayTrackers, TradeSink
from vnrec.trackers.foreign import ForeignFlow, ForeignTracker
from vnrec.trackers.index import IndexPoint, IndexTracker
from vnrec.trackers.stats import SessionStats
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
