"""Import: every channel and wire quirk lands in the right typed column, read back with
both pyarrow and DuckDB; seq is 1..N per day and continues; unknown types stay in raw."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import duckdb
import orjson
import pyarrow.parquet as pq
import pytest

from vnrec import testing as f
from vnrec.errors import AlreadyImportedError
from vnrec.storage.importer import Reject, import_envelopes
from vnrec.storage.layout import Layout
from vnrec.storage.schema import SCHEMAS

DAY = dt.date(2026, 11, 5)


def _read(layout: Layout, table: str) -> list[dict[str, Any]]:
    parts = layout.parts(table, DAY)
    rows: list[dict[str, Any]] = []
    for part in parts:
        rows.extend(pq.read_table(part.path).to_pylist())
    return rows


def _duck(layout: Layout, table: str, sql: str) -> list[tuple[Any, ...]]:
    glob = str(layout.root / table / "*" / "*.parquet")
    con = duckdb.connect()
    con.execute(f"CREATE VIEW t AS SELECT * FROM read_parquet('{glob}', hive_partitioning=true)")
    return con.execute(sql).fetchall()


QUIRKS = [
    f.quote("MWG", [(71400.0, 12300.0)], [(71500.0, 800.0)], time="09:20:01"),
    f.trade("MWG", 71500.0, 800.0, 1313400.0, side="BU", time="09:20:03", AvgPrice=71473.2),
    # numeric strings, "NaN", nulls, Content as an object
    f.envelope(
        "X-TRADE",
        {
            "RType": "X-TRADE",
            "TradingDate": "05/11/2026",
            "Time": "09:00:00",
            "Isin": None,
            "Symbol": "MWG",
            "LastPrice": "71400",
            "LastVol": "24500",
            "TotalVol": "24500",
            "TotalVal": "1749300000",
            "AvgPrice": "NaN",
            "TradingSession": "ATO",
            "Side": None,
        },
        content_as_object=True,
    ),
    f.envelope(
        "X-TRADE",
        {
            "Rtype": "X-TRADE",
            "TradingDate": "05/11/2026",
            "Time": "13:45:10",
            "ISIN": "41I1GB000",
            "Symbol": "41I1GB000",
            "LastPrice": 1921.4,
            "LastVol": 12.0,
            "TotalVol": 151230.0,
        },
    ),
    f.foreign("MWG", 402100.0, 955300.0, 28743000000.0, 68290500000.0, time="10:15:00"),
    f.foreign(
        "FPT", 88200.0, 301000.0, 9614000000.0, 32809000000.0, prefixed=True, time="10:16:00"
    ),
    f.index("VN30", 1934.52, prior=1921.07, time="10:30:05", IndexType=None, MarketId=None),
    f.envelope(
        "MI",
        {
            "IndexID": "VNINDEX",
            "IndexValue": 1650.2,
            "TradingDate": "05/11/2026",
            "Time": "10:30:05",
            "Advances": 201,
            "Nochanges": 61,
            "Declines": 120,
            "TradingSession": None,
        },
    ),
    f.bar("MWG", 71500.0, 71600.0, 71400.0, 71600.0, 2100.0, date=None, time="10:31:00"),
    f.status("MWG", "BREAK"),
    f.envelope(
        "OL",
        {
            "RType": "OL",
            "TradingDate": "05/11/2026",
            "Time": "13:55:03",
            "StockNo": 2027,
            "Symbol": "MWG",
            "LastPrice": 71600,
            "LastVol": 37,
            "TotalVol": 25,
        },
    ),
    {
        "datatype": "Quote",
        "Content": orjson.dumps(
            {
                "RType": "Quote",
                "TradingDate": "05/11/2026",
                "Time": "13:56:00",
                "Symbol": "MWG",
                "BidPrice1": 71500.0,
            }
        ).decode(),
    },
    f.envelope("MDX", {"Sequence": 7, "Note": "unknown type"}),
    f.snapshot("SHS", 17200.0, 1500.0, 3550100.0, [(17100.0, 40100.0)], [(17200.0, 2200.0)]),
]


def test_every_channel_and_quirk_lands_in_typed_columns(layout: Layout) -> None:
    """Each documented field is in its typed column whatever the key spelling or number form."""
    report = import_envelopes(layout, QUIRKS)
    assert report.imported == len(QUIRKS) and report.rejected == 0
    trades = {r["seq"]: r for r in _read(layout, "trades")}
    assert trades[2]["last_price"] == 71500.0 and trades[2]["side"] == "BU"
    assert trades[2]["event_ts"] == dt.datetime(2026, 11, 5, 2, 20, 3, tzinfo=dt.UTC)
    assert trades[3]["last_vol"] == 24500 and trades[3]["total_val"] == 1749300000.0
    assert math.isnan(trades[3]["avg_price"]) and trades[3]["isin"] is None
    assert trades[3]["trading_session"] == "ATO" and trades[3]["side"] is None
    assert trades[4]["isin"] == "41I1GB000" and trades[4]["last_vol"] == 12
    assert trades[14]["data_type"] == "X" and trades[14]["total_vol"] == 3550100
    foreign = {r["symbol"]: r for r in _read(layout, "foreign")}
    assert foreign["MWG"]["buy_vol"] == 402100 and foreign["MWG"]["sell_val"] == 68290500000.0
    assert foreign["FPT"]["buy_vol"] == 88200 and foreign["FPT"]["sell_val"] == 32809000000.0
    assert foreign["FPT"]["event_ts"] == dt.datetime(2026, 11, 5, 3, 16, tzinfo=dt.UTC)
    index = {r["index_id"]: r for r in _read(layout, "index")}
    assert index["VN30"]["index_value"] == 1934.52 and index["VN30"]["prior_index_value"] == 1921.07
    assert index["VNINDEX"]["no_changes"] == 61 and index["VNINDEX"]["advances"] == 201
    bars = _read(layout, "bars")
    # a bar without TradingDate gets the day of its neighbours and its own time
    assert bars[0]["event_ts"] == dt.datetime(2026, 11, 5, 3, 31, tzinfo=dt.UTC)
    assert bars[0]["volume"] == 2100
    assert _read(layout, "status")[0]["trading_session"] == "BREAK"
    assert _read(layout, "oddlot")[0]["stock_no"] == 2027
    quotes = {r["seq"]: r for r in _read(layout, "quotes")}
    assert quotes[1]["bid_price1"] == 71400.0 and quotes[1]["ask_vol1"] == 800
    assert quotes[1]["bid_price2"] == 0.0  # SSI sends unused levels as 0
    assert quotes[12]["data_type"] == "Quote" and quotes[12]["bid_price1"] == 71500.0
    assert quotes[14]["data_type"] == "X" and quotes[14]["ask_price1"] == 17200.0


def test_raw_keeps_every_envelope_and_unknown_types(layout: Layout) -> None:
    """raw holds every message once with its Content text; unknown types only there."""
    import_envelopes(layout, QUIRKS)
    raw = _read(layout, "raw")
    assert [r["seq"] for r in raw] == list(range(1, len(QUIRKS) + 1))
    assert raw[12]["data_type"] == "MDX"
    assert orjson.loads(raw[12]["content"]) == {"Sequence": 7, "Note": "unknown type"}
    assert raw[0]["content"] == QUIRKS[0]["Content"]  # exactly as received
    assert raw[2]["content"] == orjson.dumps(QUIRKS[2]["Content"]).decode()  # object form
    normalized = set()
    for table in SCHEMAS:
        if table != "raw":
            normalized |= {r["seq"] for r in _read(layout, table)}
    assert normalized == set(range(1, len(QUIRKS) + 1)) - {13}


def test_duckdb_reads_the_layout_with_types_and_partition(layout: Layout) -> None:
    """DuckDB sees the hive date partition and the declared column types."""
    import_envelopes(layout, QUIRKS)
    rows = _duck(
        layout,
        "trades",
        "SELECT date, typeof(seq), typeof(last_vol), typeof(last_price),"
        " typeof(event_ts), count(*) FROM t GROUP BY ALL",
    )
    assert rows == [(DAY, "BIGINT", "BIGINT", "DOUBLE", "TIMESTAMP WITH TIME ZONE", 4)]
    assert _duck(layout, "raw", "SELECT min(seq), max(seq), count(DISTINCT seq) FROM t") == [
        (1, len(QUIRKS), len(QUIRKS))
    ]


def test_schemas_are_stable(layout: Layout) -> None:
    """Every written file has exactly the declared Arrow schema of its table."""
    import_envelopes(layout, QUIRKS)
    for table, schema in SCHEMAS.items():
        for part in layout.parts(table, DAY):
            assert pq.read_schema(part.path).remove_metadata().equals(schema), table


def test_second_import_is_refused_then_appends_with_continued_seq(layout: Layout) -> None:
    """Importing into a day that holds data needs --append; seq then continues."""
    import_envelopes(layout, QUIRKS[:3])
    with pytest.raises(AlreadyImportedError, match="already holds seq 1-3"):
        import_envelopes(layout, QUIRKS[:3])
    report = import_envelopes(layout, QUIRKS[3:6], append=True)
    assert report.days[DAY].first_seq == 4 and report.days[DAY].last_seq == 6
    assert [r["seq"] for r in _read(layout, "raw")] == [1, 2, 3, 4, 5, 6]


def test_seq_is_per_trading_day(layout: Layout) -> None:
    """Two days in one file each get their own 1..N sequence, in line order."""
    other = "06/11/2026"
    envelopes = [
        f.trade("A", 10000.0, 100.0, 100.0),
        f.trade("A", 10000.0, 100.0, 100.0, date=other),
        f.trade("A", 10000.0, 100.0, 200.0),
        f.trade("A", 10000.0, 100.0, 200.0, date=other),
        f.trade("A", 10000.0, 100.0, 300.0, date=other),
    ]
    report = import_envelopes(layout, envelopes)
    assert {d: (r.first_seq, r.last_seq) for d, r in report.days.items()} == {
        DAY: (1, 2),
        dt.date(2026, 11, 6): (1, 3),
    }
    assert layout.days("trades") == [DAY, dt.date(2026, 11, 6)]


def test_receive_time_decides_the_day_without_trading_date(layout: Layout) -> None:
    """A message without TradingDate takes the receive date in Ho Chi Minh City."""
    recv_ns = int(dt.datetime(2026, 11, 9, 3, 0, tzinfo=dt.UTC).timestamp() * 1e9)
    message = {**f.bar("MWG", 1.0, 1.0, 1.0, 1.0, 100.0, date=None), "recv_ns": recv_ns}
    import_envelopes(layout, [message])
    assert layout.days("bars") == [dt.date(2026, 11, 9)]
    row = pq.read_table(layout.parts("bars", dt.date(2026, 11, 9))[0].path).to_pylist()[0]
    assert row["recv_ns"] == recv_ns


def test_bad_lines_are_rejected_with_line_and_reason_and_good_ones_kept(layout: Layout) -> None:
    """Malformed lines go to the rejects file with file, line and reason; neighbours import."""
    seen: list[Reject] = []
    good = f.trade("A", 10000.0, 100.0, 100.0)
    envelopes: list[Any] = [
        good,
        {"DataType": "X-TRADE", "Content": "{not json"},
        {"Content": "{}"},
        {"DataType": "R", "Content": "[1, 2]"},
        {"DataType": "R", "Content": 12},
        f.trade("A", 10000.0, 100.0, 200.0),
    ]
    report = import_envelopes(layout, envelopes, source="cap.jsonl", on_reject=seen.append)
    assert report.imported == 2 and report.rejected == 4
    assert [(r.line, r.reason.split(" (")[0]) for r in seen] == [
        (2, "Content is not valid JSON"),
        (3, "missing DataType"),
        (4, "Content is a JSON list, not an object"),
        (5, "Content is neither a JSON string nor an object"),
    ]
    assert [r["seq"] for r in _read(layout, "raw")] == [1, 2]
    rejects = [orjson.loads(line) for line in report.rejects_files[0].read_bytes().splitlines()]
    assert [r["line"] for r in rejects] == [2, 3, 4, 5]
    assert rejects[0]["source"] == "cap.jsonl" and "not json" in rejects[0]["text"]
    assert report.rejects_files[0].parent == layout.rejects_dir(DAY)


def test_nested_values_in_scalar_fields_do_not_lose_the_row(layout: Layout) -> None:
    """A Content whose scalar field holds an object is kept (the object as JSON text)."""
    odd = f.envelope(
        "F",
        {
            "RType": "F",
            "TradingDate": "05/11/2026",
            "Time": "09:00:00",
            "Symbol": "MWG",
            "TradingSession": {"odd": True},
        },
    )
    import_envelopes(layout, [odd, f.status("FPT", "LO")])
    rows = _read(layout, "status")
    assert [r["symbol"] for r in rows] == ["MWG", "FPT"]
    assert orjson.loads(rows[0]["trading_session"]) == {"odd": True}


def test_bad_content_in_an_otherwise_clean_batch_is_rejected_by_line(layout: Layout) -> None:
    """When every envelope line is well formed, the batch is decoded in one call and a
    Content that is not JSON is still rejected with its own line number."""
    seen: list[Reject] = []
    envelopes = [
        f.trade("A", 10000.0, 100.0, 100.0),
        {"DataType": "X-TRADE", "Content": '{"Symbol": broken'},
        f.trade("A", 10000.0, 100.0, 200.0),
    ]
    report = import_envelopes(layout, envelopes, source="s", on_reject=seen.append)
    assert [(r.line, r.reason.split(" (")[0]) for r in seen] == [(2, "Content is not valid JSON")]
    assert report.imported == 2 and report.lines == 3
    assert [r["seq"] for r in _read(layout, "trades")] == [1, 2]


def test_values_that_are_not_what_their_field_is_are_rejected(layout: Layout) -> None:
    """A number that is no number, a date or time that is none: rejected with the line and
    the field; numeric strings, "NaN", nulls and blanks are accepted (unknown values)."""
    seen: list[Reject] = []
    envelopes = [
        f.trade("A", "abc", 100.0, 100.0),
        f.trade("A", 10_000.0, 100.0, 200.0, time="25:99:00"),
        f.trade("A", 10_000.0, 100.0, 300.0, date="32/13/2026"),
        f.quote("A", [(9_990.0, "1,000")], [(10_000.0, 100.0)]),
        f.index("VN30", 1_900.0, Advances="many"),
        f.trade("A", "10000", "100", "400", AvgPrice="NaN", Highest=None, Lowest=""),
        f.trade("A", 10_000.0, 100.0, 500.0, time=""),
    ]
    report = import_envelopes(layout, envelopes, source="cap.jsonl", on_reject=seen.append)
    assert [(r.line, r.reason) for r in seen] == [
        (1, "LastPrice is not a number: abc"),
        (2, "Time is not a HH:mm:ss time: 25:99:00"),
        (3, "TradingDate is not a dd/MM/yyyy date: 32/13/2026"),
        (4, "BidVol1 is not a number: 1,000"),
        (5, "Advances is not a number: many"),
    ]
    assert report.imported == 2
    rows = _read(layout, "trades")
    assert [(r["total_vol"], r["lowest"], r["event_ts"] is None) for r in rows] == [
        (400, None, False),
        (500, None, True),
    ]
    assert math.isnan(rows[0]["avg_price"])


def test_a_line_whose_day_is_unknown_is_rejected_not_placed_by_the_clock(
    layout: Layout,
) -> None:
    """No TradingDate, no recv_ns and no dated line before or after it in its batch: the
    line is rejected (kept under rejects/undated), never filed under today's date."""
    seen: list[Reject] = []
    bar = f.bar("A", 1.0, 1.0, 1.0, 1.0, 100.0, date=None)
    report = import_envelopes(layout, [bar], source="bars.jsonl", on_reject=seen.append)
    assert [r.reason for r in seen] == [
        "no TradingDate, and neither recv_ns nor a dated line around it to place it by"
    ]
    assert report.imported == 0 and not layout.days()
    assert report.rejects_files == [
        layout.root / "rejects" / "undated" / report.rejects_files[0].name
    ]
    dated = import_envelopes(layout, [bar, f.trade("A", 1.0, 100.0, 100.0)], source="ok")
    assert dated.imported == 2 and layout.days("bars") == [DAY]  # the next dated line
