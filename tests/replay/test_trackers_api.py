"""User trackers (vnrec.Tracker) and recording gaps: what a tracker is given and in what
order, the counted trades equal the SQL's classified trades, a gap empties the quote state
in every implementation (columnar, per-event reference, SQL), and a failing tracker is
named with its day and seq."""

from __future__ import annotations

import datetime as dt
import math
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.analytics.market import edge_case_day
from vnrec import Gap, Tracker, Trade
from vnrec.analytics.connection import read_views
from vnrec.analytics.reports import session_stats
from vnrec.cli.output import to_json
from vnrec.events import TradeEvent
from vnrec.recorder.connections import DAY_EVENT, ConnectionLog
from vnrec.replay import Pipeline, replay
from vnrec.replay.merge import merge_by_seq
from vnrec.replay.sources import parquet_streams
from vnrec.storage.gaps import recording_gaps
from vnrec.storage.importer import import_envelopes
from vnrec.storage.layout import Layout
from vnrec.trackers.base import TrackerError
from vnrec.trackers.day import DayTrackers

DAY = dt.date(2026, 3, 5)
S = 1_000_000_000
# 08:45 local on DAY, in UTC nanoseconds: message i is received i seconds later.
BASE = int(dt.datetime(2026, 3, 5, 1, 45, tzinfo=dt.UTC).timestamp()) * S
MESSAGES = 900


def _at(line: int, offset_s: float = 0.0) -> dt.datetime:
    """The receive time of 0-based line `line`, shifted by `offset_s`."""
    return dt.datetime.fromtimestamp((BASE + line * S) / S + offset_s, dt.UTC)


def _run(root: Path, run_id: str, events: list[tuple[dt.datetime, str]]) -> None:
    log = ConnectionLog(root, run_id)
    log.record(events[0][0], DAY_EVENT, DAY.isoformat(), 0)
    for at, event in events:
        log.record(at, event, "test", 0)
    log.close()


def _day(root: Path, *, connections: bool = True) -> Layout:
    layout = Layout(root)
    # Copies: the generator sends a repeated message as the same object again.
    envelopes = [dict(e) for e in edge_case_day(DAY, seed=5, events=MESSAGES)]
    for line, envelope in enumerate(envelopes):
        envelope["recv_ns"] = BASE + line * S
    import_envelopes(layout, envelopes)
    if connections:
        # Run a: a disconnect (gap before line 401), a stall (before line 651), then killed
        # after its last event; run b connects before line 801 and stops cleanly.
        _run(root, "a", [
            (_at(0, -2), "start"), (_at(0, -1), "connect"),
            (_at(300, 0.5), "disconnect"), (_at(400, -0.5), "connect"),
            (_at(600, 0.5), "stall"), (_at(650, -0.5), "connect"), (_at(700, 0.2), "subscribe"),
        ])  # fmt: skip
        _run(root, "b", [
            (_at(800, -0.7), "start"), (_at(800, -0.5), "connect"), (_at(890, 0.5), "stop"),
        ])  # fmt: skip
    return layout


@pytest.fixture(scope="module")
def layout(tmp_path_factory: pytest.TempPathFactory) -> Layout:
    return _day(tmp_path_factory.mktemp("gaps"))


def test_the_day_has_three_gaps(layout: Layout) -> None:
    gaps = recording_gaps(layout.recorded_state(DAY))
    assert [g.seq for g in gaps] == [401, 651, 801]  # seq n is line n - 1
    assert [g.end_ns for g in gaps] == [BASE + line * S - S // 2 for line in (400, 650, 800)]
    # A gap starts at its span's start or at the message before it, whichever is later
    # (this made-up day has messages while "disconnected").
    assert [g.start_ns for g in gaps] == [BASE + line * S for line in (399, 649, 799)]
    assert [g.reason for g in gaps[:2]] == ["disconnect: test", "stall: test"]
    assert gaps[2].reason == "recorder stopped without a clean stop"


def _reference(layout: Layout) -> str:
    state = layout.recorded_state(DAY)
    pipeline = Pipeline(DAY, day_trackers=DayTrackers(DAY), gaps=recording_gaps(state))
    for chunk in merge_by_seq(parquet_streams(layout, state)):
        pipeline.on_chunk(chunk)
    return to_json(pipeline.result().to_dict()).decode()


def _stats_by_sql(layout: Layout) -> list[dict[str, Any]]:
    return read_views(layout.root, lambda con: session_stats(con, DAY), days=[DAY])


def test_a_gap_empties_the_quote_state_everywhere(layout: Layout, tmp_path: Path) -> None:
    """Columnar replay (any window size) == per-event reference == SQL on a day with gaps,
    and the gaps change the classification (the same day without them differs)."""
    expected = _reference(layout)
    for rows in (37, 131_072):
        assert to_json(replay(DAY, data=layout.root, batch_rows=rows).to_dict()).decode() == (
            expected
        )
    assert replay(DAY, data=layout.root).stats == _stats_by_sql(layout)
    plain = _day(tmp_path / "plain", connections=False)
    assert replay(DAY, data=plain.root).stats != replay(DAY, data=layout.root).stats


class Everything(Tracker):
    """Writes down everything it is given."""

    def __init__(self) -> None:
        self.log: list[tuple[Any, ...]] = []

    def on_start(self, day: dt.date) -> None:
        self.log.append(("start", day))

    def on_event(self, event: Any) -> None:
        self.log.append(("event", event.seq, type(event).__name__))

    def on_trade(self, trade: Trade) -> None:
        self.log.append(("trade", trade.seq, trade))

    def on_gap(self, gap: Gap) -> None:
        self.log.append(("gap", gap.seq, gap))

    def on_end(self) -> None:
        self.log.append(("end",))

    def result(self) -> dict[str, int]:
        kinds = [entry[0] for entry in self.log]
        return {kind: kinds.count(kind) for kind in ("event", "trade", "gap")}


def test_a_tracker_gets_events_trades_and_gaps_in_seq_order(layout: Layout) -> None:
    tracker = Everything()
    result = replay(DAY, data=layout.root, trackers=[tracker], batch_rows=50)
    log = tracker.log
    assert log[0] == ("start", DAY) and log[-1] == ("end",)
    seqs = [entry[1] for entry in log[1:-1]]
    assert seqs == sorted(seqs)
    gaps = recording_gaps(layout.recorded_state(DAY))
    assert [entry[2] for entry in log if entry[0] == "gap"] == gaps
    for index, entry in enumerate(log):
        if entry[0] == "gap":  # before every event of its seq
            assert log[index + 1][0] == "event" and log[index + 1][1] == entry[1]
        if entry[0] == "trade":  # after every event of its seq
            assert log[index - 1][1] == entry[1] and log[index + 1][1] != entry[1]
    state = layout.recorded_state(DAY)
    rows = sum(
        p.rows for t in ("trades", "quotes", "foreign", "index") for p in state.table_parts(t)
    )
    trades = read_views(
        layout.root, lambda con: con.sql("SELECT count(*) FROM classified_trades").fetchall()
    )[0][0]
    assert result.to_dict()["trackers"] == {"Everything": tracker.result()}
    assert result.tracker_results == {"Everything": {"event": rows, "trade": trades, "gap": 3}}


def test_counted_trades_equal_the_sql(layout: Layout) -> None:
    """Every counted trade, with its classification, phase, wire side and basis, equals the
    SQL's classified trades and basis rows (an independent implementation)."""

    class Trades(Tracker):
        def __init__(self) -> None:
            self.trades: list[Trade] = []

        def on_trade(self, trade: Trade) -> None:
            self.trades.append(trade)

    tracker = Trades()
    replay(DAY, data=layout.root, trackers=[tracker], batch_rows=64)

    def read(con: Any) -> tuple[list[tuple[Any, ...]], dict[int, float]]:
        trades = con.sql(
            "SELECT seq, epoch_us(event_ts), symbol, price, volume, value, classification,"
            " phase, side FROM classified_trades ORDER BY seq"
        ).fetchall()
        basis = dict(con.sql("SELECT seq, basis FROM basis WHERE basis IS NOT NULL").fetchall())
        return trades, basis

    sql, basis = read_views(layout.root, read, days=[DAY])
    assert [tuple(t[:9]) for t in tracker.trades] == sql
    with_basis = {t.seq: t.basis for t in tracker.trades if t.basis is not None}
    assert with_basis == basis and len(basis) > 10
    assert all(isinstance(t.value, float) and not math.isnan(t.price) for t in tracker.trades)


def test_only_what_a_tracker_defines_is_built(layout: Layout) -> None:
    """A tracker of trade events only gets trade events; one that defines nothing but
    `result` changes nothing and costs no event."""

    class TradeEvents(Tracker):
        event_types = (TradeEvent,)

        def __init__(self) -> None:
            self.kinds: set[str] = set()

        def on_event(self, event: Any) -> None:
            self.kinds.add(type(event).__name__)

    class Nothing:
        def result(self) -> str:
            return "ok"

    events = TradeEvents()
    result = replay(DAY, data=layout.root, trackers=[events, Nothing()])
    assert events.kinds == {"TradeEvent"}
    assert result.tracker_results == {"TradeEvents": None, "Nothing": "ok"}


@pytest.mark.parametrize(
    ("hook", "where"),
    [("on_start", "at the start"), ("on_trade", "at seq {seq}"), ("result", "in result()")],
)
def test_a_failing_tracker_is_named_with_its_day_and_seq(
    layout: Layout, hook: str, where: str
) -> None:
    seen: list[int] = []

    class Boom(Tracker):
        def on_start(self, day: dt.date) -> None:
            if hook == "on_start":
                raise ValueError("no start")

        def on_trade(self, trade: Trade) -> None:
            seen.append(trade.seq)
            if hook == "on_trade" and len(seen) == 5:
                raise ValueError("fifth trade")

        def result(self) -> None:
            raise ValueError("no result")

    with pytest.raises(TrackerError) as failure:
        replay(DAY, data=layout.root, trackers=[Boom()])
    place = where.format(seq=seen[-1] if seen else 0)
    assert str(failure.value).startswith(f"tracker Boom failed on {DAY.isoformat()} {place}: ")


def test_two_trackers_with_one_name_are_refused(layout: Layout) -> None:
    with pytest.raises(Exception, match="two trackers are named 'Everything'"):
        replay(DAY, data=layout.root, trackers=[Everything(), Everything()])


def test_gaps_are_read_only_for_days_with_connections(tmp_path: Path, layout: Layout) -> None:
    """A copy of the day whose connections table is gone has no gaps."""
    copy = tmp_path / "copy"
    shutil.copytree(layout.root, copy)
    shutil.rmtree(copy / "connections")
    assert recording_gaps(Layout(copy).recorded_state(DAY)) == []
