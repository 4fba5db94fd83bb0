"""Quote state: X-QUOTE, Quote and X messages set a symbol's book; price 0 = empty level."""

from __future__ import annotations

from vnrec.events import QuoteEvent
from vnrec.trackers import QuoteBook


def quote(seq: int, kind: str, symbol: str, bid1: float, ask1: float) -> QuoteEvent:
    return QuoteEvent(seq, None, None, kind, symbol, "LO", bid1, 10, ask1, 20, None)


def test_no_book_before_the_first_quote() -> None:
    """A symbol never quoted has both sides empty and no quote event."""
    book = QuoteBook()
    assert book.top("VNM") == (0.0, 0.0)
    assert book.latest("VNM") is None


def test_each_quote_replaces_the_symbols_book() -> None:
    """The latest X-QUOTE, Quote or X of a symbol is its book; other symbols are untouched."""
    book = QuoteBook()
    book.on_quote(quote(1, "quote", "VNM", 100.0, 101.0))
    book.on_quote(quote(2, "quote", "FPT", 50.0, 51.0))
    book.on_quote(quote(3, "snapshot", "VNM", 102.0, 0.0))
    assert book.top("VNM") == (102.0, 0.0)  # ask side now empty
    book.on_quote(quote(4, "quote", "VNM", 99.0, 100.0))
    assert book.top("VNM") == (99.0, 100.0)
    assert book.top("FPT") == (50.0, 51.0)
    latest = book.latest("VNM")
    assert latest is not None and (latest.seq, latest.ask_vol1) == (4, 20)
