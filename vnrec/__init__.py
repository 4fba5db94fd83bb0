"""vnrec: record, replay and query SSI FastConnect market data for the Vietnamese markets."""

__version__ = "0.1.0"
