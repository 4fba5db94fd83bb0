"""Replay from Parquet: determinism, live/replay parity, user trackers, filters, pacing."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from vnrec.cli.output import to_json
from vnrec.errors import NoDataError
from vnrec.events import Event, QuoteEvent, TradeEvent, UnknownEvent
from vnrec.replay import OutOfOrderError, Pipeline, ReplayResult, events_from_tables, replay
from vnrec.replay.engine import most_often
from vnrec.storage.compact import compact_day
from vnrec.storage.layout import Layout

DAY = dt.date(2026, 2, 6)  # the generated day of conftest.py


class Recorder:
    """A user tracker that keeps every event it is given."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def on_event(self, event: Event) -> None:
        self.events.append(event)


def series(result: ReplayResult) -> tuple[list[Any], list[Any], list[Any]]:
    """The basis, foreign flow and index series as tuples, whichever engine made them."""
    found = result.trackers.series()
    basis = found["basis"]
    if isinstance(basis, pa.Table):
        basis = [tuple(row.values()) for row in _int_times(basis).to_pylist()]
    return [tuple(p) for p in basis], found["foreign"], found["index"]


def _int_times(table: pa.Table) -> pa.Table:
    index = table.schema.get_field_index("event_ts")
    return table.set_column(index, "event_ts", table.column(index).cast(pa.int64()))


def micro_batches(layout: Layout) -> list[dict[str, pa.Table]]:
    """The normalized tables of each committed batch, as the recorder hands them on."""
    batches = []
    for raw in layout.parts("raw", DAY):
        tables = {}
        for table in ("raw", "trades", "quotes", "foreign", "index", "bars", "status", "oddlot"):
            for part in layout.parts(table, DAY):
                if (part.first_seq, part.last_seq) == (raw.first_seq, raw.last_seq):
                    tables[table] = pq.read_table(part.path)
        batches.append(tables)
    return batches


def test_two_replays_give_byte_identical_json(day_root: Path) -> None:
    """The same data replayed twice gives the very same JSON bytes."""
    first = to_json(replay(DAY, data=day_root).to_dict())
    second = to_json(replay(DAY, data=day_root).to_dict())
    assert first == second


def test_result_shape(day_root: Path, envelopes: list[dict[str, Any]]) -> None:
    """The SPEC section 5 object: its keys in order, events = messages, sorted lists."""
    result = replay(DAY, data=day_root).to_dict()
    assert list(result) == ["date", "events", "stats", "foreign", "index", "basis", "alerts"]
    assert result["date"] == "2026-02-06"
    assert result["events"] == len(envelopes)
    for key, name in (
        ("stats", "symbol"),
        ("foreign", "symbol"),
        ("index", "index_id"),
        ("basis", "symbol"),
    ):
        names = [row[name] for row in result[key]]
        assert names == sorted(names) and names
    assert sum(row["duplicates"] for row in result["stats"]) > 0
    assert sum(row["front"] for row in result["basis"]) == 1


def test_live_batches_and_single_events_match_the_replay(day_root: Path) -> None:
    """Feeding the recorder's micro-batches, or event by event, gives the replay's result."""
    replayed = replay(DAY, data=day_root, keep_series=True)
    layout = Layout(day_root)

    by_batch = Pipeline(DAY)
    for tables in micro_batches(layout):
        by_batch.feed(tables)

    by_event = Pipeline(DAY)
    for tables in micro_batches(layout):
        for event in events_from_tables(tables):
            by_event.on_event(event)

    for live in (by_batch.result(), by_event.result()):
        assert to_json(live.to_dict()) == to_json(replayed.to_dict())
        assert series(live) == series(replayed)


def test_compaction_does_not_change_the_result(
    tmp_path: Path, import_generated_day: Callable[[Path, int], Layout]
) -> None:
    """One compacted file per table replays exactly like many small parts."""
    layout = import_generated_day(tmp_path / "data", 50)
    before = to_json(replay(DAY, data=layout.root).to_dict())
    compact_day(layout, DAY)
    assert len(layout.parts("trades", DAY)) == 1
    assert to_json(replay(DAY, data=layout.root, batch_rows=7).to_dict()) == before


def test_a_compaction_under_a_running_replay_changes_nothing(
    tmp_path: Path,
    import_generated_day: Callable[[Path, int], Layout],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The day is compacted while a replay is in its first batch: the parts it has not
    opened yet are gone, it goes on in the merged file from the next seq; every event is
    seen once and the result is the same."""
    layout = import_generated_day(tmp_path / "data", 50)
    expected = to_json(replay(DAY, data=layout.root).to_dict())
    alone = Recorder()
    replay(DAY, data=layout.root, trackers=[alone], batch_rows=16)

    class CompactingRecorder(Recorder):
        def on_event(self, event: Event) -> None:
            if not self.events:
                compact_day(layout, DAY)
            super().on_event(event)

    racing = CompactingRecorder()
    reads = []
    read_state = Layout.state

    def counted(self: Layout, day: dt.date) -> object:
        reads.append(day)
        return read_state(self, day)

    monkeypatch.setattr(Layout, "state", counted)
    result = replay(DAY, data=layout.root, trackers=[racing], batch_rows=16)
    assert len(reads) > 2, "the replay never had to follow the compaction"
    assert len(layout.parts("trades", DAY)) == 1
    assert to_json(result.to_dict(trackers=False)) == expected
    assert racing.events == alone.events


def test_user_tracker_sees_every_event_in_seq_order(
    day_root: Path, envelopes: list[dict[str, Any]]
) -> None:
    """A plain object with on_event gets every event; seqs never go down; X = trade, then book."""
    mine = Recorder()
    replay(DAY, data=day_root, trackers=[mine])
    seqs = [e.seq for e in mine.events]
    assert seqs == sorted(seqs)
    assert len(set(seqs)) == len(envelopes)
    assert any(isinstance(e, UnknownEvent) for e in mine.events)
    for before, after in zip(mine.events, mine.events[1:], strict=False):
        if before.seq == after.seq:
            assert isinstance(before, TradeEvent) and isinstance(after, QuoteEvent)
            assert before.kind == "snapshot"


def test_symbol_filter_and_report_window(day_root: Path) -> None:
    """--symbols keeps only those symbols' results; --from/--to reports [from, to) while
    every tracker, user trackers included, sees the whole day."""
    only = replay(DAY, data=day_root, symbols="VNM,41I1G2000")
    assert [r["symbol"] for r in only.stats] == ["41I1G2000", "VNM"]
    assert [r["symbol"] for r in only.foreign] == ["VNM"]
    assert only.index  # index events carry no symbol and are kept
    assert [r["symbol"] for r in only.basis] == ["41I1G2000"]
    whole, mine = Recorder(), Recorder()
    full = replay(DAY, data=day_root, trackers=[whole])
    window = replay(DAY, data=day_root, start="10:00", end="11:00", trackers=[mine])
    assert mine.events == whole.events and window.events == full.events
    in_window = sum(r["trades"] for r in window.stats)
    assert 0 < in_window < sum(r["trades"] for r in full.stats)


def _windowed(envelopes: list[dict[str, Any]], tmp_path: Path, **window: str) -> ReplayResult:
    from vnrec.storage.importer import import_envelopes

    layout = Layout(tmp_path / "data")
    import_envelopes(layout, envelopes)
    return replay(DAY, data=layout.root, **window)  # type: ignore[arg-type]


def test_a_window_counts_with_the_whole_days_state(tmp_path: Path) -> None:
    """An X snapshot at 13:30 after a trade at 10:00 counts only its increase; a repeat of
    an earlier trade stays a repeat; the book before the window classifies; foreign and
    index stand as they were at the window's end (SPEC.md 7.2)."""
    from vnrec import testing as f

    d = "06/02/2026"
    envelopes = [
        f.quote("VNM", [(59_900.0, 10.0)], [(60_000.0, 10.0)], time="09:30:00", date=d),
        f.trade("VNM", 60_000.0, 1_000.0, 1_000.0, time="10:00:00", date=d),
        f.foreign("VNM", 100.0, 0.0, 6e6, 0.0, time="10:00:00", date=d),
        f.index("VN30", 1_900.0, time="10:00:00", date=d),
        f.snapshot("VNM", 60_000.0, 500.0, 1_500.0, [(59_900.0, 10.0)], [(60_000.0, 10.0)],
                   time="13:30:00", date=d),
        f.trade("VNM", 60_000.0, 1_000.0, 1_000.0, time="13:31:00", date=d),  # a repeat
        f.trade("VNM", 59_900.0, 200.0, 1_700.0, time="13:32:00", date=d),  # at the bid
        f.foreign("VNM", 300.0, 0.0, 18e6, 0.0, time="13:40:00", date=d),
        f.index("VN30", 1_910.0, time="14:10:00", date=d),
        f.trade("VNM", 60_000.0, 100.0, 1_800.0, time="14:20:00", date=d),
    ]  # fmt: skip
    result = _windowed(envelopes, tmp_path, start="13:00", end="14:00")
    (stats,) = result.stats
    assert (stats["trades"], stats["volume"], stats["duplicates"]) == (2, 700, 1)
    assert (stats["buy_volume"], stats["sell_volume"]) == (500, 200)  # X at the ask: buy
    assert (stats["open"], stats["close"]) == (60_000.0, 59_900.0)
    (foreign,) = result.foreign
    assert foreign["buy_volume"] == 300
    (index,) = result.index
    assert index["value"] == 1_900.0  # the 14:10 value is after the window
    assert result.events == len(envelopes)


def test_pacing_follows_event_time(day_root: Path) -> None:
    """--speed N sleeps so that event time runs N times faster than the injected clock."""
    now = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    mine = Recorder()
    replay(
        DAY,
        data=day_root,
        start="09:00",
        end="09:10",
        speed=60.0,
        clock=lambda: now[0],
        sleep=sleep,
        trackers=[mine],
    )
    stamps = [e.event_ts for e in mine.events if e.event_ts is not None]
    span_s = (max(stamps) - min(stamps)) / 1e6
    assert slept and all(s > 0 for s in slept)
    assert now[0] == pytest.approx(span_s / 60.0)


def test_progress_is_reported(day_root: Path) -> None:
    """The progress callback gets a growing message count ending at the total."""
    counts: list[int] = []
    result = replay(DAY, data=day_root, progress=counts.append, batch_rows=16)
    assert counts == sorted(counts) and counts[-1] == result.events and len(counts) > 1


def test_missing_day_is_an_error(day_root: Path) -> None:
    """Replaying a day with no data says so."""
    with pytest.raises(NoDataError):
        replay("2026-02-09", data=day_root)


def test_events_out_of_seq_order_are_refused() -> None:
    """The pipeline refuses an event older than one it already processed."""
    pipeline = Pipeline(DAY)
    pipeline.on_event(UnknownEvent(5, None, None, "ZZ", None))
    with pytest.raises(OutOfOrderError):
        pipeline.on_event(UnknownEvent(4, None, None, "ZZ", None))


class TradesOnly(Recorder):
    """A user tracker that asks for trade events only."""

    event_types = (TradeEvent,)


def test_event_types_limits_what_a_tracker_receives(day_root: Path) -> None:
    """A tracker with `event_types` gets exactly those events, next to one that gets all."""
    everything, trades = Recorder(), TradesOnly()
    replay(DAY, data=day_root, trackers=[everything, trades])
    assert trades.events == [e for e in everything.events if isinstance(e, TradeEvent)]
    assert trades.events


def test_a_warning_names_the_most_often_symbols_and_counts_the_rest() -> None:
    counts = {f"S{i:03d}": i % 7 + 1 for i in range(400)}
    line = most_often(counts, shown=3)
    assert line == "S006 x7, S013 x7, S020 x7 and 397 more symbols"
    assert most_often({"VNM": 2, "FPT": 2}) == "FPT x2, VNM x2"
    assert most_often({"VNM": 1, "FPT": 2, "HPG": 3}, shown=2) == "HPG x3, FPT x2 and 1 more symbol"
