"""The event iterator over normalized Arrow tables: types, X ordering, nulls, unknowns."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from vnrec import testing as f
from vnrec.events import (
    BookLevels,
    ForeignEvent,
    IndexEvent,
    QuoteEvent,
    TradeEvent,
    UnknownEvent,
    event_time,
)
from vnrec.replay import events_from_tables, make_filter, make_window
from vnrec.storage.importer import import_envelopes
from vnrec.storage.layout import Layout

DAY = dt.date(2026, 11, 5)


def tables_of(tmp_path: Path, envelopes: list[dict[str, object]]) -> dict[str, pa.Table]:
    layout = Layout(tmp_path / "data")
    import_envelopes(layout, envelopes)
    return {
        table: pa.concat_tables(pq.read_table(p.path) for p in layout.parts(table, DAY))
        for table in ("raw", "trades", "quotes", "foreign", "index", "bars", "status", "oddlot")
        if layout.parts(table, DAY)
    }


def test_snapshot_is_a_trade_then_a_book_update(tmp_path: Path) -> None:
    """An X message gives a TradeEvent then a QuoteEvent with the same seq, in seq order."""
    tables = tables_of(
        tmp_path,
        [
            f.quote("SHS", [(17_000.0, 100.0)], [(17_100.0, 100.0)], time="10:00:00"),
            f.snapshot("SHS", 17_200.0, 100.0, 500.0, [(17_100.0, 1.0)], [(17_200.0, 1.0)]),
            f.trade("SHS", 17_200.0, 100.0, 600.0, time="10:00:01"),
        ],
    )
    events = list(events_from_tables(tables))
    assert [(type(e).__name__, e.seq) for e in events] == [
        ("QuoteEvent", 1),
        ("TradeEvent", 2),
        ("QuoteEvent", 2),
        ("TradeEvent", 3),
    ]
    snapshot_trade, snapshot_book = events[1], events[2]
    assert isinstance(snapshot_trade, TradeEvent) and isinstance(snapshot_book, QuoteEvent)
    assert snapshot_trade.kind == snapshot_book.kind == "snapshot"
    assert (snapshot_trade.price, snapshot_trade.total_vol) == (17_200.0, 500)
    assert (snapshot_book.bid1, snapshot_book.ask1) == (17_100.0, 17_200.0)


def test_event_fields_and_times(tmp_path: Path) -> None:
    """Fields come typed from the normalized columns; event_ts is UTC microseconds."""
    tables = tables_of(
        tmp_path,
        [
            {
                **f.trade("VNM", 60_000.0, 100.0, 100.0, time="09:20:00", side="BU"),
                "recv_ns": 1_793_000_000_000_000_000,
            },
            f.foreign("VNM", 10.0, 5.0, 600_000.0, 300_000.0, prefixed=True),
            f.index("VN30", 1_900.5, prior=1_890.0),
        ],
    )
    trade, foreign, index = events_from_tables(tables)
    assert trade == TradeEvent(
        1,
        1_793_000_000_000_000_000,
        trade.event_ts,
        "trade",
        "VNM",
        60_000.0,
        100,
        100,
        0.0,
        "LO",
        "BU",
    )
    assert event_time(trade.event_ts) == dt.datetime(2026, 11, 5, 2, 20, tzinfo=dt.UTC)
    assert isinstance(foreign, ForeignEvent) and foreign.buy_vol == 10
    assert foreign.buy_val == 600_000.0 and foreign.total_room == 1_000_000_000
    assert isinstance(index, IndexEvent) and index.value == 1_900.5 and index.index_id == "VN30"


def test_missing_numbers(tmp_path: Path) -> None:
    """A "NaN" on the wire: NaN price and 0 volume in trade events; None in foreign events."""
    tables = tables_of(
        tmp_path,
        [
            f.trade("VNM", "NaN", "NaN", "NaN"),
            f.foreign("VNM", "NaN", 5.0, 1.0, 1.0),  # type: ignore[arg-type]
        ],
    )
    trade, foreign = events_from_tables(tables)
    assert isinstance(trade, TradeEvent) and math.isnan(trade.price)
    assert (trade.volume, trade.total_vol) == (0, 0)
    assert isinstance(foreign, ForeignEvent) and foreign.buy_vol is None


def test_unknown_types_are_delivered_from_raw(tmp_path: Path) -> None:
    """A DataType vnrec does not model arrives as an UnknownEvent with its content as sent."""
    tables = tables_of(
        tmp_path,
        [
            f.trade("VNM", 60_000.0, 100.0, 100.0),
            {"DataType": "ZZ", "Content": '{"TradingDate":"05/11/2026","A":1}'},
        ],
    )
    trade, unknown = events_from_tables(tables)
    assert isinstance(trade, TradeEvent)
    assert unknown == UnknownEvent(2, None, None, "ZZ", '{"TradingDate":"05/11/2026","A":1}')


def test_deeper_book_on_request(tmp_path: Path) -> None:
    """book_levels=3 fills QuoteEvent.levels; by default only the best level is read."""
    tables = tables_of(
        tmp_path,
        [f.quote("VNM", [(10.0, 1.0), (9.0, 2.0)], [(11.0, 3.0), (12.0, 4.0), (13.0, 5.0)])],
    )
    (plain,) = events_from_tables(tables)
    (deep,) = events_from_tables(tables, book_levels=3)
    assert isinstance(plain, QuoteEvent) and plain.levels is None
    assert isinstance(deep, QuoteEvent)
    assert deep.levels == BookLevels((10.0, 9.0, 0.0), (1, 2, 0), (11.0, 12.0, 13.0), (3, 4, 5))


def test_filters(tmp_path: Path) -> None:
    """A symbol filter keeps index and unknown events (they carry no symbol)."""
    tables = tables_of(
        tmp_path,
        [
            f.trade("VNM", 1.0, 100.0, 100.0, time="09:10:00"),
            f.trade("FPT", 1.0, 100.0, 100.0, time="09:20:00"),
            f.index("VN30", 1_900.0, time="09:20:00"),
            f.trade("VNM", 1.0, 100.0, 200.0, time="09:30:00"),
            {"DataType": "ZZ", "Content": '{"TradingDate":"05/11/2026"}'},
        ],
    )
    only_vnm = events_from_tables(tables, make_filter("VNM"))
    assert [e.seq for e in only_vnm] == [1, 3, 4, 5]
    assert [e.seq for e in events_from_tables(tables, make_filter(None))] == [1, 2, 3, 4, 5]


@pytest.mark.parametrize("bad", ["9h", "25:00"])
def test_bad_times_are_refused(bad: str) -> None:
    """A --from/--to that is not HH:MM is bad input."""
    from vnrec.errors import BadInputError

    with pytest.raises(BadInputError):
        make_window(DAY, bad, None)
