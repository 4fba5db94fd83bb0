"""The columnar trackers equal the per-event reference (vnrec.trackers.day) field for field
and byte for byte: whole days and report windows, windows of any size (a replay's Parquet
batches, a recorder's micro-batches), and rows no generator makes (NaN books, a missing
symbol or DataType, values too large for a float to hold exactly)."""

from __future__ import annotations

import datetime as dt
import itertools
import math
import random
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from tests.analytics.market import edge_case_day
from tests.replay.conftest import generated_day
from vnrec.cli.output import to_json
from vnrec.events import TradeEvent
from vnrec.replay import Pipeline, events_from_tables, make_filter, make_window, replay
from vnrec.replay.columnar import ColumnarDay
from vnrec.replay.merge import merge_by_seq
from vnrec.replay.outputs import TRADES_SCHEMA
from vnrec.replay.pipeline import ReplayResult
from vnrec.replay.sources import parquet_streams, unknown_only
from vnrec.storage.importer import import_envelopes
from vnrec.storage.layout import Layout
from vnrec.storage.schema import SCHEMAS
from vnrec.trackers.day import DayTrackers
from vnrec.trackers.trades import CountedTrade

EDGE_DAY = dt.date(2026, 3, 5)
GENERATED_DAY = dt.date(2026, 2, 6)
WINDOWS = [(None, None), ("09:30", "11:00"), ("13:00", None), (None, "10:15")]


def _reference(
    layout: Layout,
    day: dt.date,
    start: str | None = None,
    end: str | None = None,
    symbols: str | None = None,
) -> tuple[ReplayResult, list[CountedTrade]]:
    """The per-event pipeline over the day's Parquet events: the reference."""
    counted: list[CountedTrade] = []
    trackers = DayTrackers(day, window=make_window(day, start, end), trade_sinks=[counted.append])
    pipeline = Pipeline(day, day_trackers=trackers)
    streams = parquet_streams(layout, layout.recorded_state(day), make_filter(symbols))
    for chunk in merge_by_seq(streams):
        pipeline.on_chunk(chunk)
    return pipeline.result(), counted


def _columnar(
    layout: Layout, day: dt.date, batch_rows: int, **options: Any
) -> tuple[ReplayResult, list[tuple[Any, ...]]]:
    tables: list[pa.Table] = []
    result = replay(
        day, data=layout.root, batch_rows=batch_rows, trade_sinks=[tables.append], **options
    )
    return result, _trade_rows(tables)


def _trade_rows(tables: list[pa.Table]) -> list[tuple[Any, ...]]:
    if not tables:
        return []
    table = pa.concat_tables([t.cast(TRADES_SCHEMA) for t in tables])
    index = table.schema.get_field_index("event_ts")
    table = table.set_column(index, "event_ts", table.column(index).cast(pa.int64()))
    return [tuple(row.values()) for row in table.to_pylist()]


def _same_floats(left: list[tuple[Any, ...]], right: list[tuple[Any, ...]]) -> bool:
    """Tuples equal field for field, NaN equal to NaN (a book side can be NaN)."""

    def key(value: Any) -> Any:
        return "NaN" if isinstance(value, float) and math.isnan(value) else value

    return [tuple(map(key, row)) for row in left] == [tuple(map(key, row)) for row in right]


def _assert_same(
    columnar: ReplayResult, reference: ReplayResult, rows: list[Any], counted: list[Any]
) -> None:
    assert to_json(columnar.to_dict()) == to_json(reference.to_dict())
    assert columnar.to_dict() == reference.to_dict()
    assert _same_floats(rows, [tuple(t) for t in counted])


@pytest.fixture(scope="module")
def edge_root(tmp_path_factory: pytest.TempPathFactory) -> Layout:
    layout = Layout(tmp_path_factory.mktemp("edge"))
    for seed in (1, 2, 3):
        import_envelopes(layout, edge_case_day(EDGE_DAY, seed, events=900), append=True)
    import_envelopes(layout, generated_day(seed=11, messages=900))
    return layout


@pytest.mark.parametrize(
    ("day", "batch_rows"),
    [(GENERATED_DAY, 3), (EDGE_DAY, 41), (EDGE_DAY, 262_144), (GENERATED_DAY, 262_144)],
)
def test_whole_day_equals_the_per_event_trackers(
    edge_root: Layout, day: dt.date, batch_rows: int
) -> None:
    """Windows of a few rows to the whole day: the same JSON bytes and counted trades."""
    reference, counted = _reference(edge_root, day)
    result, rows = _columnar(edge_root, day, batch_rows)
    assert result.stats and result.basis  # the days exercise every tracker
    _assert_same(result, reference, rows, counted)


@pytest.mark.parametrize(("start", "end"), WINDOWS)
@pytest.mark.parametrize("symbols", [None, "VNM,AAA", "41I1G2000"])
def test_report_windows_and_symbols_equal_the_per_event_trackers(
    edge_root: Layout, start: str | None, end: str | None, symbols: str | None
) -> None:
    for day in (EDGE_DAY, GENERATED_DAY):
        reference, counted = _reference(edge_root, day, start, end, symbols)
        result, rows = _columnar(edge_root, day, 50, start=start, end=end, symbols=symbols)
        _assert_same(result, reference, rows, counted)


def _micro_batches(layout: Layout, day: dt.date) -> Iterator[dict[str, pa.Table]]:
    """Each committed import batch's tables, as the recorder hands them to --track."""
    import pyarrow.parquet as pq

    state = layout.recorded_state(day)
    for raw in state.table_parts("raw"):
        tables = {}
        for table in SCHEMAS:
            for part in state.table_parts(table):
                if (part.first_seq, part.last_seq) == (raw.first_seq, raw.last_seq):
                    tables[table] = pq.read_table(part.path)
        yield tables


def test_live_micro_batches_equal_the_replay(edge_root: Layout) -> None:
    for day in (EDGE_DAY, GENERATED_DAY):
        live = ColumnarDay(day)
        for tables in _micro_batches(edge_root, day):
            live.feed(unknown_only(tables))
        replayed = replay(day, data=edge_root.root)
        assert to_json(ReplayResult.of(day, live.events, live).to_dict()) == to_json(
            replayed.to_dict()
        )


def test_a_warm_start_from_parquet_then_micro_batches_equals_the_replay(
    edge_root: Layout,
) -> None:
    """`record --track` after a restart: the committed part from Parquet windows (text as
    dictionaries), the rest as micro-batches (plain text)."""
    from vnrec.replay.columns import ENGINE_COLUMNS
    from vnrec.replay.sources import window_streams
    from vnrec.replay.windows import seq_windows
    from vnrec.storage.commits import DayState

    for day in (EDGE_DAY,):
        state = edge_root.recorded_state(day)
        batches = list(_micro_batches(edge_root, day))
        assert len(batches) >= 2
        half = len(batches) // 2
        upto = state.table_parts("raw")[half - 1].last_seq
        warm = DayState(edge_root.root, day)
        for table in SCHEMAS:
            warm.parts[table] = [p for p in state.table_parts(table) if p.last_seq <= upto]
        live = ColumnarDay(day)
        columns = {table: list(names) for table, names in ENGINE_COLUMNS.items()}
        for window in seq_windows(window_streams(edge_root, warm, columns)):
            live.feed(window)
        for tables in batches[half:]:
            live.feed(unknown_only(tables))
        replayed = replay(day, data=edge_root.root)
        assert to_json(ReplayResult.of(day, live.events, live).to_dict()) == to_json(
            replayed.to_dict()
        )


# -- rows no generator makes -------------------------------------------------------------


def _table(name: str, rows: list[dict[str, Any]]) -> pa.Table:
    schema = SCHEMAS[name]
    columns = {f.name: [row.get(f.name) for row in rows] for f in schema}
    return pa.Table.from_pydict(columns, schema=schema)


def _both(tables: Mapping[str, pa.Table], day: dt.date = EDGE_DAY) -> tuple[Any, Any]:
    counted: list[CountedTrade] = []
    reference = Pipeline(day, day_trackers=DayTrackers(day, trade_sinks=[counted.append]))
    for event in events_from_tables(tables):
        reference.on_event(event)
    sunk: list[pa.Table] = []
    columnar = ColumnarDay(day, trade_sinks=[sunk.append])
    columnar.feed(unknown_only(tables))
    got = ReplayResult.of(day, columnar.events, columnar)
    assert to_json(got.to_dict()) == to_json(reference.result().to_dict())
    assert _same_floats(_trade_rows(sunk), [tuple(t) for t in counted])
    return got, counted


def _trade(seq: int, **fields: Any) -> dict[str, Any]:
    row = {
        "seq": seq,
        "data_type": "X-TRADE",
        "symbol": "AAA",
        "last_price": 10_000.0,
        "last_vol": 100,
        "total_vol": 100 * seq,
        "trading_session": "LO",
    }
    row.update(fields)
    return row


def test_nan_books_missing_symbols_and_data_types() -> None:
    quotes = _table(
        "quotes",
        [
            {
                "seq": 1,
                "data_type": "X-QUOTE",
                "symbol": "AAA",
                "bid_price1": math.nan,
                "ask_price1": 10_000.0,
            },
            {
                "seq": 3,
                "data_type": "X-QUOTE",
                "symbol": "AAA",
                "bid_price1": 10_000.0,
                "ask_price1": None,
            },
            {
                "seq": 5,
                "data_type": "X-QUOTE",
                "symbol": None,
                "bid_price1": 9_000.0,
                "ask_price1": 9_500.0,
            },
        ],
    )
    trades = _table(
        "trades",
        [
            _trade(2),  # at the ask: buy; the bid is NaN
            _trade(4),  # at the bid with a missing ask: sell
            _trade(6, symbol=None, last_price=9_500.0),  # the book of the missing symbol
            _trade(7, data_type=None, total_vol=0),  # no DataType: an X-TRADE's rules
            _trade(8, last_price=math.nan),  # unpriced
            _trade(9, last_price=-1.0, last_vol=5),  # unpriced
            _trade(10, total_vol=200),  # a repeat
            _trade(11, data_type="X", last_vol=0, total_vol=1_150),  # a snapshot adding 750
            _trade(12, trading_session="ATC"),  # auction: neutral
        ],
    )
    result, counted = _both({"quotes": quotes, "trades": trades})
    (stats,) = result.stats
    assert (stats["duplicates"], stats["unpriced"]) == (1, 2)
    assert [t.side for t in counted] == ["buy", "sell", "buy", "sell", "sell", "neutral"]
    assert counted[2].symbol is None
    assert counted[4].volume == 1_150 - 400


def _foreign_and_index_rows(rng: random.Random, rows: int) -> list[tuple[str, dict[str, Any]]]:
    """`R` and `MI` rows in seq order whose figures go up, down, missing or NaN, some without
    a symbol, index id or event time: what the day-end results read."""
    start = dt.datetime(2026, 3, 5, 2, 0, tzinfo=dt.UTC)  # 09:00 local
    made: list[tuple[str, dict[str, Any]]] = []
    for seq in range(1, rows + 1):
        stamp = None if rng.random() < 0.05 else start + dt.timedelta(seconds=seq * 20)
        if rng.random() < 0.3:
            value = rng.choice([None, math.nan, -1.0, 0.0, 1_250.5, 1_300.25, 1_310.0])
            row = {
                "seq": seq,
                "event_ts": stamp,
                "index_id": rng.choice(["VN30", "VNINDEX", None]),
                "index_value": value,
                "prior_index_value": rng.choice([None, 1_240.0]),
                "advances": rng.choice([None, 10, 12]),
                "declines": rng.choice([None, 3]),
            }
            made.append(("index", row))
            continue
        row = {"seq": seq, "event_ts": stamp, "symbol": rng.choice(["VNM", "FPT", "AAA", None])}
        for name in ("buy_vol", "sell_vol"):
            row[name] = rng.choice([None, rng.randrange(0, 1_000)])
        for name in ("buy_val", "sell_val"):
            row[name] = rng.choice([None, math.nan, rng.randrange(0, 1_000) * 1_000.5])
        row["total_room"], row["current_room"] = rng.choice([(None, None), (10**9, 5 * 10**8)])
        made.append(("foreign", row))
    return made


@pytest.mark.parametrize("seed", range(6))
def test_foreign_and_index_results_equal_the_per_event_trackers(seed: int) -> None:
    """The latest foreign figures and index values, and the re-baselines, computed once at
    the day's end from every window's rows, equal the per-event trackers' for every report
    window, the day cut into windows at random."""
    rng = random.Random(seed)
    made = _foreign_and_index_rows(rng, 400)
    for start, end in WINDOWS:
        window = make_window(EDGE_DAY, start, end)
        trackers = DayTrackers(EDGE_DAY, window=window)
        reference = Pipeline(EDGE_DAY, day_trackers=trackers)
        all_tables = {
            name: _table(name, [row for kind, row in made if kind == name])
            for name in ("foreign", "index")
        }
        for event in events_from_tables(all_tables):
            reference.on_event(event)
        columnar = ColumnarDay(EDGE_DAY, window=window)
        cuts = sorted(rng.sample(range(1, len(made)), 7))
        for low, high in itertools.pairwise([0, *cuts, len(made)]):
            part = made[low:high]
            columnar.feed(
                {
                    name: _table(name, rows)
                    for name in ("foreign", "index")
                    if (rows := [row for kind, row in part if kind == name])
                }
            )
        result = reference.result()
        assert to_json(columnar.foreign_rows()) == to_json(result.foreign)
        assert to_json(columnar.index_rows()) == to_json(result.index)
        assert columnar.rebaselined() == trackers.foreign.rebaselined()
        assert columnar.rebaselined()  # the rows re-baseline some symbol


def test_values_beyond_float_precision_are_exact() -> None:
    """A value of more than 2**53 units is still the float nearest the exact quotient."""
    trades = _table(
        "trades",
        [
            _trade(1, last_price=123_456.7891, last_vol=987_654_321, total_vol=987_654_321),
            _trade(2, last_price=0.0001, last_vol=3, total_vol=987_654_324),
        ],
    )
    result, counted = _both({"trades": trades})
    units = 1_234_567_891 * 987_654_321 + 3
    assert result.stats[0]["value"] == units / 10_000
    assert counted[0].value == 1_234_567_891 * 987_654_321 / 10_000


def test_a_window_going_back_in_seq_is_refused() -> None:
    day = ColumnarDay(EDGE_DAY)
    day.feed({"trades": _table("trades", [_trade(5)])})
    with pytest.raises(Exception, match="seq 3 fed after seq 5"):
        day.feed({"trades": _table("trades", [_trade(3)])})


def test_user_trackers_get_only_their_event_types(edge_root: Layout) -> None:
    """A tracker declaring trades gets every trade event, in seq order, and nothing else;
    the built-in results do not depend on it."""

    class Trades:
        event_types = (TradeEvent,)

        def __init__(self) -> None:
            self.seen: list[Any] = []

        def on_event(self, event: Any) -> None:
            self.seen.append(event)

    tracker = Trades()
    with_user = replay(EDGE_DAY, data=edge_root.root, trackers=[tracker], batch_rows=33)
    without = replay(EDGE_DAY, data=edge_root.root)
    assert with_user.to_dict().pop("trackers") == {"Trades": None}  # no result()
    assert to_json(with_user.to_dict() | {"trackers": None}) != to_json(without.to_dict())
    assert "trackers" not in without.to_dict()
    plain = with_user.to_dict()
    del plain["trackers"]
    assert to_json(plain) == to_json(without.to_dict())
    assert tracker.seen and all(type(e) is TradeEvent for e in tracker.seen)
    seqs = [e.seq for e in tracker.seen]
    assert seqs == sorted(seqs)
    state = edge_root.recorded_state(EDGE_DAY)
    assert len(seqs) == sum(p.rows for p in state.table_parts("trades"))


def test_empty_day_directory(tmp_path: Path) -> None:
    """Nothing fed: no rows, no events."""
    day = ColumnarDay(EDGE_DAY)
    day.feed({})
    assert ReplayResult.of(EDGE_DAY, day.events, day).to_dict()["stats"] == []
    assert day.events == 0
