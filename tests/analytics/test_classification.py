"""classified_trades and session_stats: the counting, repeat, snapshot and classification
rules of SPEC.md section 4 and docs/design.md, one rule per test."""

from __future__ import annotations

import datetime as dt
from typing import Any

import duckdb

from vnrec import testing
from vnrec.analytics.reports import STATS_KEYS, fetch_rows, session_stats

from .conftest import Connect, Write

DAY = dt.date(2026, 11, 5)  # testing.DEFAULT_DATE
BOOK = testing.quote("AAA", [(100.0, 10.0)], [(102.0, 10.0)])


def _trades(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    return fetch_rows(
        con,
        "SELECT seq, symbol, price, volume, value, classification, phase, side"
        " FROM classified_trades ORDER BY seq",
    )


def _classes(con: duckdb.DuckDBPyConnection) -> list[str]:
    return [row["classification"] for row in _trades(con)]


def test_price_against_the_book(write: Write, open_con: Connect) -> None:
    """At or above ask1 is buy, at or below bid1 is sell, inside the spread neutral."""
    prices = [102.0, 103.0, 100.0, 99.0, 101.0]
    write([BOOK, *(testing.trade("AAA", p, 100, 100 * (i + 1)) for i, p in enumerate(prices))])
    assert _classes(open_con()) == ["buy", "buy", "sell", "sell", "neutral"]


def test_no_quote_and_empty_sides(write: Write, open_con: Connect) -> None:
    """No book yet is neutral; an empty ask (0) never makes a buy, an empty bid never a sell."""
    write(
        [
            testing.trade("AAA", 100.0, 100, 100),
            testing.quote("AAA", [(100.0, 10.0)], []),
            testing.trade("AAA", 500.0, 100, 200),
            testing.trade("AAA", 90.0, 100, 300),
            testing.quote("AAA", [], [(102.0, 10.0)]),
            testing.trade("AAA", 1.0, 100, 400),
            testing.trade("AAA", 102.0, 100, 500),
            testing.quote("AAA", [], []),
            testing.trade("AAA", 102.0, 100, 600),
        ]
    )
    assert _classes(open_con()) == ["neutral", "neutral", "sell", "neutral", "buy", "neutral"]


def test_nan_book_price_is_an_empty_level(write: Write, open_con: Connect) -> None:
    """A "NaN" ask1 or bid1 is unknown: it classifies nothing (DuckDB orders NaN above all)."""
    write(
        [
            testing.quote("AAA", [("NaN", 10.0)], [("NaN", 10.0)]),  # type: ignore[list-item]
            testing.trade("AAA", 100.0, 100, 100),
        ]
    )
    assert _classes(open_con()) == ["neutral"]


def test_auctions_are_neutral_and_phased(write: Write, open_con: Connect) -> None:
    """ATO and ATC matches are neutral even at the ask; phase is ato, continuous, atc."""
    write(
        [
            BOOK,
            testing.trade("AAA", 102.0, 100, 100, session="ATO"),
            testing.trade("AAA", 102.0, 100, 200, session="LO"),
            testing.trade("AAA", 102.0, 100, 300, session="ATC"),
            testing.trade("AAA", 102.0, 100, 400, session=None),
        ]
    )
    rows = _trades(open_con())
    assert [r["classification"] for r in rows] == ["neutral", "buy", "neutral", "buy"]
    assert [r["phase"] for r in rows] == ["ato", "continuous", "atc", "continuous"]


def test_book_is_per_symbol(write: Write, open_con: Connect) -> None:
    """Another symbol's book never classifies a trade."""
    write([BOOK, testing.trade("BBB", 102.0, 100, 100)])
    assert _classes(open_con()) == ["neutral"]


def test_side_is_kept_not_used(write: Write, open_con: Connect) -> None:
    """The wire `Side` is carried alongside and never replaces the classification."""
    write([BOOK, testing.trade("AAA", 100.0, 100, 100, side="BU")])
    (row,) = _trades(open_con())
    assert (row["side"], row["classification"]) == ("BU", "sell")


def test_repeats_are_counted_apart(write: Write, open_con: Connect) -> None:
    """A trade whose TotalVol is positive and not above the largest counted one is a
    duplicate; TotalVol 0 or missing never makes a repeat."""
    write(
        [
            testing.trade("AAA", 100.0, 100, 100),
            testing.trade("AAA", 101.0, 200, 300),
            testing.trade("AAA", 100.0, 100, 100),  # repeat (below the max)
            testing.trade("AAA", 101.0, 200, 300),  # repeat (equal to the max)
            testing.trade("AAA", 101.0, 50, 0),  # unknown total: counted
            testing.trade("AAA", 101.0, 50, "NaN"),  # missing total: counted
            testing.trade("AAA", 102.0, 100, 400),
        ]
    )
    (stats,) = session_stats(open_con(), DAY)
    assert (stats["trades"], stats["volume"], stats["duplicates"]) == (5, 500, 2)


def test_unpriced_trades_are_counted_apart(write: Write, open_con: Connect) -> None:
    """X-TRADE messages with a volume but a price of 0, NaN or none are `unpriced`; their
    TotalVol does not make the next trade a repeat."""
    write(
        [
            testing.trade("AAA", 100.0, 100, 100),
            testing.trade("AAA", 0.0, 100, 200),
            testing.trade("AAA", "NaN", 100, 300),
            testing.trade("AAA", 100.0, 100, 200),
            testing.trade("AAA", 100.0, 0, 400),  # no volume: not a trade message at all
        ]
    )
    (stats,) = session_stats(open_con(), DAY)
    assert (stats["trades"], stats["volume"], stats["duplicates"], stats["unpriced"]) == (
        2,
        200,
        0,
        2,
    )


def test_non_trades_are_ignored(write: Write, open_con: Connect) -> None:
    """LastVol 0, price 0, NaN or missing are not trades, and do not raise the max TotalVol."""
    write(
        [
            testing.trade("AAA", 100.0, 0, 5000),
            testing.trade("AAA", 0.0, 100, 5000),
            testing.trade("AAA", "NaN", 100, 5000),
            testing.trade("AAA", 100.0, 100, 100),
        ]
    )
    (stats,) = session_stats(open_con(), DAY)
    assert (stats["trades"], stats["volume"], stats["duplicates"]) == (1, 100, 0)


def test_snapshots_count_the_increase_against_the_book_before(
    write: Write, open_con: Connect
) -> None:
    """An X counts TotalVol minus the max so far, classified against the book before it
    (not its own); an X without an increase is only a book update."""
    write(
        [
            BOOK,
            testing.trade("AAA", 101.0, 100, 100),
            # Its own book would make 102 a sell; the book before makes it a buy.
            testing.snapshot("AAA", 102.0, 7, 350, bids=[(102.0, 5.0)], asks=[(103.0, 5.0)]),
            testing.snapshot("AAA", 102.0, 7, 350, bids=[(102.0, 5.0)], asks=[(104.0, 5.0)]),
            testing.snapshot("AAA", 102.0, 0, 300, bids=[(102.0, 5.0)], asks=[(104.0, 5.0)]),
            testing.trade("AAA", 102.0, 10, 360),
        ]
    )
    con = open_con()
    rows = _trades(con)
    assert [(r["volume"], r["classification"]) for r in rows] == [
        (100, "neutral"),
        (250, "buy"),
        (10, "sell"),
    ]
    (stats,) = session_stats(con, DAY)
    assert (stats["trades"], stats["volume"], stats["duplicates"]) == (3, 360, 0)


def test_x_trade_after_snapshot_uses_the_snapshot_total(write: Write, open_con: Connect) -> None:
    """A counted X raises the max: an X-TRADE at or below its TotalVol is then a repeat."""
    write(
        [
            testing.snapshot("AAA", 100.0, 100, 1000),
            testing.trade("AAA", 100.0, 100, 1000),
            testing.trade("AAA", 100.0, 100, 1100),
        ]
    )
    (stats,) = session_stats(open_con(), DAY)
    assert (stats["trades"], stats["volume"], stats["duplicates"]) == (2, 1100, 1)


def test_counting_restarts_each_day(write: Write, open_con: Connect) -> None:
    """State is per trading day: yesterday's TotalVol does not make today's trades repeats."""
    write([testing.trade("AAA", 100.0, 100, 500, date="05/11/2026")])
    write([testing.trade("AAA", 100.0, 100, 100, date="06/11/2026")])
    con = open_con()
    assert [s["volume"] for s in session_stats(con, dt.date(2026, 11, 6))] == [100]


def test_session_stats_values(write: Write, open_con: Connect) -> None:
    """Every field of a symbol's stats, with ints for counts and volumes, floats for values,
    in the design.md key order."""
    write(
        [
            BOOK,
            testing.trade("AAA", 100.0, 300, 300, session="ATO"),
            testing.trade("AAA", 102.0, 100, 400),
            testing.trade("AAA", 100.0, 200, 600),
            testing.trade("AAA", 100.0, 200, 600),
            testing.trade("AAA", 101.0, 100, 700),
            testing.trade("AAA", 104.0, 100, 800, session="ATC"),
        ]
    )
    (stats,) = session_stats(open_con(), DAY)
    assert stats == {
        "symbol": "AAA",
        "trades": 5,
        "volume": 800,
        "value": 80700.0,
        "buy_volume": 100,
        "buy_value": 10200.0,
        "sell_volume": 200,
        "sell_value": 20000.0,
        "neutral_volume": 500,
        "neutral_value": 50500.0,
        "ato_volume": 300,
        "continuous_volume": 400,
        "atc_volume": 100,
        "open": 100.0,
        "high": 104.0,
        "low": 100.0,
        "close": 104.0,
        "vwap": 100.875,
        "duplicates": 1,
        "unpriced": 0,
    }
    assert tuple(stats) == STATS_KEYS
    assert all(type(stats[k]) is int for k in ("trades", "volume", "buy_volume", "duplicates"))
    assert all(type(stats[k]) is float for k in ("value", "buy_value", "sell_value", "open"))


def test_zero_sums_are_typed(write: Write, open_con: Connect) -> None:
    """Sides and phases without trades are 0 and 0.0, never null."""
    write([testing.trade("AAA", 100.0, 100, 100)])
    (stats,) = session_stats(open_con(), DAY)
    assert (stats["buy_volume"], stats["buy_value"], stats["atc_volume"]) == (0, 0.0, 0)
    assert type(stats["buy_value"]) is float


def test_stats_sorted_bytewise_and_filtered(write: Write, open_con: Connect) -> None:
    """Symbols sort bytewise (digits and capitals before lowercase); --symbol keeps one."""
    write([testing.trade(s, 100.0, 100, 100) for s in ("b1", "AAA", "41I1GB000", "Z")])
    con = open_con()
    assert [s["symbol"] for s in session_stats(con, DAY)] == ["41I1GB000", "AAA", "Z", "b1"]
    assert [s["symbol"] for s in session_stats(con, DAY, "Z")] == ["Z"]
    assert session_stats(con, DAY, "NONE") == []
