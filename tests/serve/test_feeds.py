"""What feeds the live board: a recorded day played by event time (pause, resume, jump), and a
recording followed while it grows (gaps included). Both end on the replay object that
`vnrec replay` computes; the wall clock is a fake the test moves."""

from __future__ import annotations

import datetime as dt
import itertools
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pytest

from tests.replay.conftest import DAY, generated_day
from vnrec.calendar import DEFAULT_CALENDAR, HCM_TZ
from vnrec.cli.output import to_json
from vnrec.errors import BadInputError
from vnrec.recorder.connections import CONNECTIONS_SCHEMA
from vnrec.replay import replay
from vnrec.serve.follow import LiveFollower
from vnrec.serve.player import DayPlayer, release_times, split_window
from vnrec.serve.session import Session
from vnrec.storage.gaps import pending_dir, recording_gaps
from vnrec.storage.importer import Importer
from vnrec.storage.layout import Layout
from vnrec.storage.writer import write_parquet_atomic

RECV_START_NS = 1_770_343_200_000_000_000  # 2026-02-06 09:00 in Vietnam
RECV_STEP_NS = 20_000_000_000  # as the generated day's event times: a message per 20 s


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def _failed(error: BaseException) -> None:
    raise AssertionError(f"the feed failed: {error!r}")


def _import(root: Path, envelopes: list[dict[str, Any]], append: bool) -> None:
    with Importer(Layout(root), append=append, batch_lines=37) as importer:
        importer.import_lines((orjson.dumps(e) for e in envelopes), "<test>")
        importer.commit()


def _replay_json(root: Path) -> bytes:
    return to_json(replay(DAY, root).to_dict(), indent=False)


def _replay_part(document: dict[str, Any]) -> bytes:
    keys = ("date", "events", "stats", "foreign", "index", "basis", "alerts")
    return to_json({key: document[key] for key in keys}, indent=False)


def _local_time(envelope: dict[str, Any]) -> str:
    content = envelope["Content"]
    content = orjson.loads(content) if isinstance(content, str) else content
    return str(content.get("Time") or content["TradingTime"])  # foreign: TradingTime


@pytest.fixture(scope="module")
def envelopes() -> list[dict[str, Any]]:
    return generated_day(seed=11, messages=500)


@pytest.fixture(scope="module")
def day_root(tmp_path_factory: pytest.TempPathFactory, envelopes: list[dict[str, Any]]) -> Path:
    root = tmp_path_factory.mktemp("serve") / "data"
    _import(root, envelopes, append=False)
    return root


def test_release_times_carry_the_latest_event_time_and_cut_whole_messages() -> None:
    stamp = pa.timestamp("us", tz="UTC")
    window = {
        "trades": pa.table(
            {"seq": pa.array([1, 4], pa.int64()), "event_ts": pa.array([100, 90], stamp)}
        ),
        "quotes": pa.table(
            {"seq": pa.array([1, 3], pa.int64()), "event_ts": pa.array([100, None], stamp)}
        ),
        "raw": pa.table({"seq": pa.array([2], pa.int64())}),
    }
    seqs, times = release_times(window, floor=50)
    assert seqs.tolist() == [1, 1, 2, 3, 4]
    # A message without a time, or stamped earlier, goes with the latest before it.
    assert times.tolist() == [100, 100, 100, 100, 100]
    head, tail = split_window(window, 3)
    assert head["trades"].column("seq").to_pylist() == [1]
    assert head["quotes"].column("seq").to_pylist() == [1]
    assert head["raw"].column("seq").to_pylist() == [2]
    assert tail["quotes"].column("seq").to_pylist() == [3]
    assert tail["trades"].column("seq").to_pylist() == [4]


def test_a_day_is_played_by_event_time_and_ends_on_the_replay(
    day_root: Path, envelopes: list[dict[str, Any]]
) -> None:
    clock = FakeClock()
    player = DayPlayer(day_root, DAY, DEFAULT_CALENDAR, speed=10.0, monotonic=clock)
    session = Session(player, _failed, monotonic=clock)

    def due_by(local: str) -> int:
        return sum(1 for e in envelopes if _local_time(e) <= local)

    player.step(session)  # starts at the first event time: 09:00:00
    assert session.status()["events"] == due_by("09:00:00")
    clock.now += 6.0  # 60 s of event time at 10 x
    player.step(session)
    assert session.status()["events"] == due_by("09:01:00")

    player.pause()
    clock.now += 600.0
    _changed, wait = player.step(session)
    assert session.status()["events"] == due_by("09:01:00")
    assert wait is None and session.status()["state"] == "paused"
    player.resume()
    clock.now += 2.0
    player.step(session)
    assert session.status()["events"] == due_by("09:01:20")

    player.jump(dt.time(10, 30))  # forward: everything up to 10:30 at once
    while player.step(session)[1] == 0.0:
        pass
    assert session.status()["events"] == due_by("10:30:00")
    player.jump(dt.time(9, 10))  # back: the day again, on a fresh board
    player.step(session)
    assert session.status()["events"] == due_by("09:10:00")
    assert session.status()["state"] == "playing"

    player.set_speed(1e300)  # as fast as it goes: the day's clock must stay a number
    clock.now += 1.0
    while session.status()["state"] != "finished":
        player.step(session)
    assert session.status()["events"] == len(envelopes)
    assert _replay_part(session.snapshot()) == _replay_json(day_root)


def test_a_wrong_speed_and_a_day_not_recorded_are_refused(day_root: Path) -> None:
    for wrong in (0, -1, float("nan"), float("inf")):
        with pytest.raises(BadInputError, match="--speed must be a finite number > 0"):
            DayPlayer(day_root, DAY, DEFAULT_CALENDAR, speed=wrong)
    with pytest.raises(Exception, match="no recorded data for 2026-02-07"):
        DayPlayer(day_root, dt.date(2026, 2, 7), DEFAULT_CALENDAR, speed=1)


def _connection_row(run: str, seconds: int, event: str, reason: str = "") -> dict[str, Any]:
    ts = dt.datetime.fromtimestamp((RECV_START_NS + seconds * 1_000_000_000) / 1e9, dt.UTC)
    return {"run_id": run, "ts": ts, "event": event, "reason": reason, "messages": 0}


def test_a_growing_recording_is_followed_with_its_gaps(
    tmp_path: Path, envelopes: list[dict[str, Any]]
) -> None:
    """Committed batch after batch, with a finished run's disconnection and a running run's
    stall in the `connections` events: the follower feeds each batch, places each gap where
    the replay does, and ends on the replay object."""
    root = tmp_path / "data"
    stamped = [
        {**envelope, "recv_ns": RECV_START_NS + i * RECV_STEP_NS}
        for i, envelope in enumerate(envelopes)
    ]
    finished = [
        _connection_row("r1", -5, "connect"),
        _connection_row("r1", 1_001, "disconnect", "socket closed"),
    ]  # and no `stop`: r1 was killed
    running = [
        _connection_row("r2", 1_200, "connect"),
        _connection_row("r2", 4_010, "stall", "no message for 30 s"),
        _connection_row("r2", 4_400, "connect"),
    ]
    connections = root / "connections" / f"date={DAY.isoformat()}" / "run-r1.parquet"
    write_parquet_atomic(pa.Table.from_pylist(finished, schema=CONNECTIONS_SCHEMA), connections)
    pending = pending_dir(root)
    pending.mkdir(parents=True)
    log = b"".join(orjson.dumps({**row, "ts": row["ts"].isoformat()}) + b"\n" for row in running)
    (pending / "run-r2.jsonl").write_bytes(log + b'{"run_id": "r2", "ts": "2026-02-')  # torn

    now_ns = [RECV_START_NS]
    follower = LiveFollower(root, DEFAULT_CALENDAR, DAY, clock_ns=lambda: now_ns[0])
    session = Session(follower, _failed)
    assert follower.step(session) == (set(), 0.25)
    assert session.status()["state"] == "waiting" and session.status()["stale"]
    cuts = [0, 60, 61, 200, 220, 221, 400, len(stamped)]  # gaps at 61 and 221
    for first, last in itertools.pairwise(cuts):
        _import(root, stamped[first:last], append=first > 0)
        changed, _ = follower.step(session)
        assert "status" in changed
        assert session.status()["events"] == last
        assert follower.step(session) == (set(), 0.25)  # nothing new committed
    now_ns[0] = stamped[-1]["recv_ns"] + 2_000_000_000
    status = session.status()
    assert status["state"] == "following" and status["lag_ms"] == 2_000
    assert not status["stale"]

    # The running run ends as it would: its log becomes the day's Parquet file.
    from vnrec.recorder.connections import finalize

    (pending / "run-r2.jsonl").write_bytes(log)
    finalize(root, pending / "run-r2.jsonl")
    expected = recording_gaps(Layout(root).state(DAY))
    assert [g.seq for g in expected] == [61, 221]
    snapshot = session.snapshot()
    assert [(g["seq"], g["reason"]) for g in snapshot["gaps"]] == [
        (g.seq, g.reason) for g in expected
    ]
    assert _replay_part(snapshot) == _replay_json(root)


def test_today_is_the_day_in_vietnam() -> None:
    from vnrec.serve.follow import today_in_vietnam

    late = dt.datetime(2026, 2, 5, 23, 30, tzinfo=HCM_TZ)  # 16:30 UTC
    assert today_in_vietnam(int(late.timestamp()) * 1_000_000_000) == dt.date(2026, 2, 5)
    after = dt.datetime(2026, 2, 6, 0, 30, tzinfo=HCM_TZ)  # still 2026-02-05 in UTC
    assert today_in_vietnam(int(after.timestamp()) * 1_000_000_000) == dt.date(2026, 2, 6)
