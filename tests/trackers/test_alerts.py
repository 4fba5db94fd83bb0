"""Alerts (SPEC.md 7.5): each rule at its threshold's edge (just below, at, above), the
60-second de-duplication, and a recording gap. Every case runs through both
implementations, the columnar engine at two window sizes and the per-event reference,
which must agree; the case then checks what they both say."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from tests.replay.test_trackers_api import _run
from vnrec import testing as f
from vnrec.cli.output import to_json
from vnrec.replay import Pipeline, engine, replay
from vnrec.replay.merge import merge_by_seq
from vnrec.replay.sources import parquet_streams
from vnrec.storage.gaps import recording_gaps
from vnrec.storage.importer import import_envelopes
from vnrec.storage.layout import Layout
from vnrec.trackers.day import DayTrackers

DAY = dt.date(2026, 3, 5)
DATE = "05/03/2026"
S = 1_000_000_000
BASE = int(dt.datetime(2026, 3, 5, 3, 0, tzinfo=dt.UTC).timestamp()) * S  # 10:00 local


def _clock(second: int) -> str:
    total = 10 * 3600 + second
    return f"{total // 3600:02d}:{total % 3600 // 60:02d}:{total % 60:02d}"


class Day:
    """Envelopes of a made-up day at given seconds after 10:00 local (each received then)."""

    def __init__(self) -> None:
        self.envelopes: list[dict[str, Any]] = []
        self.totals: dict[str, int] = {}

    def _add(self, second: int, envelope: dict[str, Any]) -> None:
        envelope["recv_ns"] = BASE + second * S + len(self.envelopes)
        self.envelopes.append(envelope)

    def trade(
        self, second: int, symbol: str, volume: int, price: float = 100.0, **extra: Any
    ) -> None:
        self.totals[symbol] = self.totals.get(symbol, 0) + volume
        self._add(
            second,
            f.trade(
                symbol, price, float(volume), float(self.totals[symbol]),
                time=_clock(second), date=DATE, **extra,
            ),
        )  # fmt: skip

    def quote(self, second: int, symbol: str, bid: float, ask: float) -> None:
        self._add(
            second,
            f.quote(symbol, [(bid, 1000.0)], [(ask, 1000.0)], time=_clock(second), date=DATE),
        )

    def foreign(self, second: int, symbol: str, buy_val: float, sell_val: float) -> None:
        self._add(
            second, f.foreign(symbol, 1.0, 1.0, buy_val, sell_val, time=_clock(second), date=DATE)
        )

    def index(self, second: int, value: float) -> None:
        self._add(second, f.index("VN30", value, time=_clock(second), date=DATE))


def _alerts(
    root: Path, day: Day, runs: list[tuple[str, list[tuple[int, str]]]] = ()
) -> list[dict[str, Any]]:
    """The day's alerts, after checking that every implementation gives the same."""
    layout = Layout(root)
    import_envelopes(layout, day.envelopes)
    for run_id, events in runs:
        _run(root, run_id, [(dt.datetime.fromtimestamp((BASE + s * S) / S, dt.UTC), e)
                            for s, e in events])  # fmt: skip
    state = layout.recorded_state(DAY)
    pipeline = Pipeline(DAY, day_trackers=DayTrackers(DAY), gaps=recording_gaps(state))
    for chunk in merge_by_seq(parquet_streams(layout, state)):
        pipeline.on_chunk(chunk)
    reference = pipeline.result().alerts
    # Windows of 3 rows computed one by one (what a rolling window carries from one
    # computation to the next), a few at a time, and the whole day at once.
    for rows, chunk in ((3, 1), (3, 97), (131_072, engine.ALERT_CHUNK)):
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(engine, "ALERT_CHUNK", chunk)
            alerts = replay(DAY, data=root, batch_rows=rows).alerts
        assert to_json(alerts) == to_json(reference), (rows, chunk)
    return reference


def _kinds(alerts: list[dict[str, Any]]) -> list[tuple[str, str, int]]:
    """(kind, symbol, second after 10:00) of each alert."""
    start = dt.datetime(2026, 3, 5, 3, 0, tzinfo=dt.UTC)
    return [(a["kind"], a["symbol"], int((a["event_ts"] - start).total_seconds())) for a in alerts]


def test_volume_spike_at_three_times_the_mean(tmp_path: Path) -> None:
    """10 trades of 1,000 in the 20 minutes before: 2,999 is no spike, 3,000 is; 9 trades
    are too few; the trades of the same second and those 20 minutes back do not count."""
    day = Day()
    for symbol, last in (("BELOW", 2_999), ("AT", 3_000), ("ABOVE", 5_000)):
        for i in range(10):
            day.trade(60 + 60 * i, symbol, 1_000)
        day.trade(660, symbol, last)
    for i in range(9):  # too few
        day.trade(60 + 60 * i, "FEW", 1_000)
    day.trade(660, "FEW", 10_000)
    # EDGE: one trade exactly 20 min before (excluded), ten later ones of 100, then one
    # of 300 at the same second as a 100 000 one that came first (excluded too).
    day.trade(0, "EDGE", 100_000)
    for i in range(10):
        day.trade(60 + i, "EDGE", 100)
    day.trade(1200, "EDGE", 100_000)
    day.trade(1200, "EDGE", 300)
    alerts = _alerts(tmp_path, day)
    spikes = [
        (a["symbol"], a["value"], a["threshold"]) for a in alerts if a["kind"] == "volume_spike"
    ]
    assert ("AT", 3_000.0, 3_000.0) in spikes and ("ABOVE", 5_000.0, 3_000.0) in spikes
    assert not any(s[0] in ("BELOW", "FEW") for s in spikes)
    assert ("EDGE", 100_000.0, 300.0) in spikes
    assert ("EDGE", 300.0, 300.0) not in spikes  # same second: its window is the ten of 100,
    # but the de-duplication already had EDGE's volume_spike at that second


def test_ceiling_and_floor_hits_are_transitions(tmp_path: Path) -> None:
    """At the limit after a trade that was not: an alert; still at it: none; just inside:
    none; back at it after 60 s: an alert, within 60 s: suppressed."""
    day = Day()
    limits = {"Ceiling": 107.0, "Floor": 93.0}
    for second, price in ((0, 106.9), (10, 107.0), (20, 107.0), (30, 106.0), (40, 107.5),
                          (100, 100.0), (101, 107.0)):  # fmt: skip
        day.trade(second, "CEIL", 100, price, **limits)
    for second, price in ((0, 93.1), (10, 93.0), (20, 92.0), (30, 95.0), (120, 93.0)):
        day.trade(second, "FLOOR", 100, price, **limits)
    day.trade(5, "NOLIMIT", 100, 1_000.0, Ceiling=0.0, Floor="NaN")
    alerts = _alerts(tmp_path, day)
    assert _kinds(alerts) == [  # by seq: every CEIL trade came before the FLOOR ones
        ("ceiling_hit", "CEIL", 10),  # 40: at it again after 106, but 30 s after the last
        ("ceiling_hit", "CEIL", 101),
        ("floor_hit", "FLOOR", 10),
        ("floor_hit", "FLOOR", 120),
    ]
    assert [(a["value"], a["threshold"]) for a in alerts[::2]] == [(107.0, 107.0), (93.0, 93.0)]


def test_foreign_acceleration_edges(tmp_path: Path) -> None:
    """N5 of 1e9 (at the minimum) and a change of exactly 30 %: an alert; 29.99 %: none;
    N5 just under 1e9: none; the R of N5 must be at least 5 minutes before."""
    day = Day()
    day.foreign(0, "AT", 1_000_000_000.0, 0.0)
    day.foreign(300, "AT", 1_300_000_000.0, 0.0)  # +30 % of |N5|, N5 exactly 5 min back
    day.foreign(0, "BELOW", 1_000_000_000.0, 0.0)
    day.foreign(300, "BELOW", 1_299_900_000.0, 0.0)
    day.foreign(0, "SMALL", 999_999_999.0, 0.0)
    day.foreign(300, "SMALL", 2_000_000_000.0, 0.0)
    day.foreign(1, "LATE", 1_000_000_000.0, 0.0)
    day.foreign(300, "LATE", 2_000_000_000.0, 0.0)  # 4 min 59 s: no N5 yet
    day.foreign(0, "SHORT", 0.0, 2_000_000_000.0)
    day.foreign(400, "SHORT", 0.0, 1_000_000_000.0)  # net -2e9 -> -1e9: +1e9 >= 0.6e9
    alerts = _alerts(tmp_path, day)
    assert [(a["symbol"], a["value"], a["threshold"]) for a in alerts] == [
        ("AT", 300_000_000.0, 300_000_000.0),
        ("SHORT", 1_000_000_000.0, 600_000_000.0),
    ]


def test_basis_flip_on_the_front_contract(tmp_path: Path) -> None:
    """The day's front contract (March 2026, 41I1G3000, expiring on the 19th) flips sign:
    an alert per flip (60 s apart); a zero basis is no sign; other contracts never."""
    day = Day()
    day.index(0, 1300.0)
    for second, price in ((10, 1301.0), (20, 1300.0), (30, 1299.0), (40, 1298.0),
                          (100, 1302.0), (110, 1299.0)):  # fmt: skip
        day.trade(second, "41I1G3000", 1, price)
        day.trade(second, "41I1G4000", 1, price)  # April: not the front contract
    alerts = _alerts(tmp_path, day)
    assert _kinds(alerts) == [("basis_flip", "41I1G3000", 30), ("basis_flip", "41I1G3000", 100)]
    assert [a["value"] for a in alerts] == [-1.0, 2.0]


def _imbalance(day: Day, symbol: str, start: int, buy: int, sell: int) -> None:
    day.quote(start, symbol, 99.0, 100.0)
    day.trade(start + 1, symbol, buy, 100.0)  # at the ask: an active buy
    day.trade(start + 2, symbol, sell, 99.0)  # at the bid: an active sell


def test_imbalance_edges_and_transitions(tmp_path: Path) -> None:
    """75,000 bought and 25,000 sold in 5 minutes: ratio 3 and 100,000 in all, an alert;
    74,999 bought: under 100,000, none; staying imbalanced: no new alert; auctions
    are not evaluated; all sells: ratio 0; all buys: ratio null (no sell to divide by)."""
    day = Day()
    _imbalance(day, "AT", 0, 75_000, 25_000)  # the alert comes on the sell (seconds 2)
    day.trade(3, "AT", 100_000, 100.0)  # still imbalanced: none
    _imbalance(day, "UNDER", 0, 74_999, 25_000)
    _imbalance(day, "RATIO", 0, 74_000, 26_000)
    day.quote(0, "SELLS", 99.0, 100.0)
    day.trade(1, "SELLS", 200_000, 99.0)
    day.quote(0, "BUYS", 99.0, 100.0)
    day.trade(1, "BUYS", 200_000, 100.0)
    day.quote(0, "AUCTION", 99.0, 100.0)
    day.trade(1, "AUCTION", 500_000, 100.0, session="ATC")
    alerts = _alerts(tmp_path, day)
    imbalances = [(a["symbol"], a["value"]) for a in alerts if a["kind"] == "imbalance"]
    assert imbalances == [("AT", 3.0), ("SELLS", 0.0), ("BUYS", None)]


def test_the_de_duplication_window(tmp_path: Path) -> None:
    """The same kind and symbol within 60 s of the last one emitted: suppressed, and the
    suppressed one moves no timer; 60 s after the last emitted: emitted."""
    day = Day()
    limits = {"Ceiling": 107.0, "Floor": 93.0}
    for second, price in ((0, 107.0), (1, 100.0), (59, 107.0), (60, 100.0), (60, 107.0)):
        day.trade(second, "DUP", 100, price, **limits)
    assert _kinds(_alerts(tmp_path, day)) == [("ceiling_hit", "DUP", 0), ("ceiling_hit", "DUP", 60)]


def test_a_gap_starts_the_trade_rules_afresh(tmp_path: Path) -> None:
    """Ten trades, a recording gap, a big trade: no spike (its window was emptied); at the
    ceiling before and after the gap: an alert after it too (the transition was reset)."""
    day = Day()
    limits = {"Ceiling": 107.0, "Floor": 93.0}
    for i in range(10):
        day.trade(10 + i, "SPIKE", 1_000)
    day.trade(20, "CEIL", 100, 107.0, **limits)
    day.trade(200, "SPIKE", 50_000)
    day.trade(200, "CEIL", 100, 107.0, **limits)
    runs = [("a", [(0, "start"), (0, "connect"), (50, "disconnect"), (150, "connect"),
                   (300, "stop")])]  # fmt: skip
    alerts = _alerts(tmp_path, day, runs)
    assert _kinds(alerts) == [("ceiling_hit", "CEIL", 20), ("ceiling_hit", "CEIL", 200)]
    without = tmp_path / "without"
    assert ("volume_spike", "SPIKE", 200) in _kinds(_alerts(without, day))


@pytest.mark.parametrize("seed", [1, 2])
def test_a_busy_day_agrees_in_both_implementations(tmp_path: Path, seed: int) -> None:
    """Many symbols and every rule firing, with time going back now and then."""
    import random

    rng = random.Random(seed)
    day = Day()
    day.index(0, 1300.0)
    second = 0
    for _ in range(4_000):
        second += rng.choice((0, 1, 2, 5))
        symbol = rng.choice(("AAA", "BBB", "CCC", "41I1G3000"))
        when = second - rng.choice((0, 0, 0, 0, 30))  # now and then an earlier time
        roll = rng.random()
        if roll < 0.3:
            day.quote(when, symbol, 99.0, 100.0)
        elif roll < 0.9:
            volume = rng.choice((100, 1_000, 10_000, 50_000))
            price = rng.choice((93.0, 99.0, 100.0, 107.0))
            session = "ATC" if rng.random() < 0.05 else "LO"
            if symbol == "41I1G3000":
                price = rng.choice((1299.0, 1300.0, 1301.0))
            day.trade(when, symbol, volume, price, Ceiling=107.0, Floor=93.0, session=session)
        elif roll < 0.97:
            day.foreign(when, symbol, rng.randrange(10) * 1e9, rng.randrange(10) * 1e9)
        else:
            day.index(when, 1300.0 + rng.choice((-2, 0, 2)))
    alerts = _alerts(tmp_path, day)
    assert {a["kind"] for a in alerts} == {
        "volume_spike", "ceiling_hit", "floor_hit", "foreign_acceleration", "basis_flip",
        "imbalance",
    }  # fmt: skip


def test_the_alerts_command_and_the_stored_alerts(tmp_path: Path) -> None:
    """`vnrec alerts` prints the replay's alerts; compaction stores them and the command
    answers from the file while the day is unchanged; an append makes it stale."""
    import orjson
    import pyarrow.parquet as pq
    import typer
    from typer.testing import CliRunner

    from vnrec.cli import cmd_analytics, cmd_storage
    from vnrec.storage.alerts_cache import fresh_alerts

    def vnrec(module: Any, *args: str) -> Any:
        app = typer.Typer()

        @app.callback()
        def _root() -> None:
            """Group the command under its name."""

        module.register(app)
        return CliRunner().invoke(app, [*args, "--data", str(tmp_path)])

    day = Day()
    limits = {"Ceiling": 107.0, "Floor": 93.0}
    for second in range(0, 600, 30):
        day.trade(second, "AAA", 100, 107.0 if second % 60 else 100.0, **limits)
        day.trade(second, "BBB", 100, 93.0 if second % 60 else 100.0, **limits)
    expected = _alerts(tmp_path, day)
    layout = Layout(tmp_path)
    assert fresh_alerts(layout, DAY) is None

    def printed(*extra: str) -> list[dict[str, Any]]:
        result = vnrec(
            cmd_analytics, "alerts", "--date", DAY.isoformat(), "--format", "json", *extra
        )
        assert result.exit_code == 0, result.output
        rows: list[dict[str, Any]] = orjson.loads(result.stdout)
        return rows

    as_json = orjson.loads(to_json(expected))
    assert printed() == as_json and len(as_json) == 20
    assert printed("--kind", "floor_hit", "--symbol", "BBB") == [
        a for a in as_json if a["kind"] == "floor_hit"
    ]
    assert vnrec(cmd_storage, "compact", "--date", DAY.isoformat()).exit_code == 0
    stored = fresh_alerts(layout, DAY)
    assert stored is not None
    assert orjson.loads(to_json(pq.read_table(stored).to_pylist())) == as_json
    assert printed() == as_json
    more = Day()
    more.trade(700, "AAA", 100, 100.0, **limits)
    import_envelopes(layout, more.envelopes, append=True)
    assert fresh_alerts(layout, DAY) is None
    failed = vnrec(cmd_analytics, "alerts", "--date", DAY.isoformat(), "--kind", "nope")
    assert failed.exit_code == 1 and "not an alert kind" in str(failed.exception)
