"""The API of `vnrec serve` in-process (FastAPI's test client, the real app, session and
player over a real data root): the snapshot and the pushes, the token, the controls."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from tests.replay.conftest import DAY, generated_day, import_day
from vnrec.calendar import DEFAULT_CALENDAR
from vnrec.cli.output import to_json
from vnrec.replay import replay
from vnrec.serve.app import build_app
from vnrec.serve.follow import LiveFollower
from vnrec.serve.player import DayPlayer
from vnrec.serve.session import Driver

TOKEN = "t0k3n-for-the-board"


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("app") / "data"
    import_day(root, generated_day(seed=3, messages=400), 50)
    return root


def _client(root: Path, driver: Driver, token: str | None = None) -> TestClient:
    failures: list[BaseException] = []

    def failed(error: BaseException) -> None:
        failures.append(error)
        raise AssertionError(f"serve failed: {error!r}")

    app, _ = build_app(root, driver, token=token, throttle=0.05, on_failure=failed)
    return TestClient(app)


def _wait(condition: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


@pytest.fixture
def fast_replay(root: Path) -> Iterator[TestClient]:
    with _client(root, DayPlayer(root, DAY, DEFAULT_CALENDAR, speed=1e7)) as client:
        yield client


def test_a_replayed_day_ends_on_the_replay_object(fast_replay: TestClient, root: Path) -> None:
    _wait(lambda: fast_replay.get("/api/status").json()["state"] == "finished", "the end")
    snapshot = fast_replay.get("/api/snapshot").json()
    expected = orjson.loads(to_json(replay(DAY, root).to_dict()))
    assert {key: snapshot[key] for key in expected} == expected
    assert snapshot["mode"] == "replay" and snapshot["lag_ms"] is None
    assert snapshot["last_event_ts"] == "2026-02-06T04:13:00+00:00"  # 400 x 20 s after 9:00
    assert snapshot["candles"] and {"symbol", "start", "buy_volume"} <= set(snapshot["candles"][0])
    assert set(snapshot["basis_series"]) == {row["symbol"] for row in snapshot["basis"]}
    assert snapshot["foreign_market"][0]["group"] == "market"
    assert fast_replay.get("/api/days").json() == {
        "days": ["2026-02-06"],
        "serving": "2026-02-06",
        "mode": "replay",
    }
    candles = fast_replay.get("/api/candles", params={"symbol": "FPT", "interval": "5m"}).json()
    assert candles and all(c["symbol"] == "FPT" for c in candles)
    assert (
        fast_replay.get("/api/candles", params={"symbol": "FPT", "interval": "7m"}).status_code
        == 400
    )


def test_pushes_start_with_the_latest_state_and_end_with_the_final_one(
    fast_replay: TestClient,
) -> None:
    _wait(lambda: fast_replay.get("/api/status").json()["state"] == "finished", "the end")
    snapshot = fast_replay.get("/api/snapshot").json()
    latest: dict[str, Any] = {}
    with fast_replay.websocket_connect("/ws") as socket:
        while set(latest) != {"stats", "foreign", "index", "basis", "alerts", "status"}:
            message = socket.receive_json()
            latest[message["channel"]] = message["data"]
    assert latest["stats"]["stats"] == snapshot["stats"]
    assert latest["stats"]["reference"] == snapshot["reference"]
    assert latest["foreign"]["foreign"] == snapshot["foreign"]
    assert latest["index"]["index"] == snapshot["index"]
    assert latest["basis"]["basis"] == snapshot["basis"]
    assert latest["alerts"]["alerts"] == snapshot["alerts"][-200:]
    assert latest["alerts"]["alert_count"] == len(snapshot["alerts"])
    assert latest["status"]["state"] == "finished"


def test_controls_pause_jump_and_resume(root: Path) -> None:
    with _client(root, DayPlayer(root, DAY, DEFAULT_CALENDAR, speed=1.0)) as client:
        _wait(lambda: client.get("/api/status").json()["events"] > 0, "the first message")
        status = client.post("/api/control", json={"action": "pause"}).json()
        assert status["state"] == "paused"
        status = client.post("/api/control", json={"action": "jump", "time": "10:00"}).json()
        _wait(lambda: client.get("/api/status").json()["last_seq"] > 50, "the jump")
        status = client.get("/api/status").json()
        clock = dt.datetime.fromisoformat(status["clock"])
        assert status["state"] == "paused" and clock == dt.datetime(2026, 2, 6, 3, 0, tzinfo=dt.UTC)
        last = dt.datetime.fromisoformat(status["last_event_ts"])
        assert last <= clock
        assert (
            client.post("/api/control", json={"action": "speed", "speed": 1e300}).status_code == 200
        )
        assert client.post("/api/control", json={"action": "resume"}).json()["state"] == "playing"
        _wait(lambda: client.get("/api/status").json()["state"] == "finished", "the end")
        for wrong in (
            {"action": "rewind"},
            {"action": "speed", "speed": 0},
            {"action": "speed"},
            {"action": "jump", "time": "25:00"},
            {"action": "pause", "extra": 1},
        ):
            assert client.post("/api/control", json=wrong).status_code == 422, wrong
        # JSON's 1e309 reads as infinity: refused, and the server goes on serving
        infinite = b'{"action": "speed", "speed": 1e309}'
        headers = {"content-type": "application/json"}
        assert client.post("/api/control", content=infinite, headers=headers).status_code == 422
        assert client.get("/api/status").status_code == 200


def test_live_mode_has_no_controls_and_waits_for_the_recording(tmp_path: Path) -> None:
    root = tmp_path / "data"
    root.mkdir()
    with _client(root, LiveFollower(root, DEFAULT_CALENDAR, DAY)) as client:
        _wait(lambda: client.get("/api/status").json()["date"] == "2026-02-06", "the board")
        status = client.get("/api/status").json()
        assert status["mode"] == "live" and status["state"] == "waiting" and status["stale"]
        response = client.post("/api/control", json={"action": "pause"})
        assert response.status_code == 409 and "replay mode" in response.json()["detail"]
        snapshot = client.get("/api/snapshot").json()
        assert snapshot["events"] == 0 and snapshot["stats"] == [] and snapshot["mode"] == "live"
        assert client.get("/api/days").json()["days"] == []


def test_the_token_guards_everything_but_the_static_files(root: Path) -> None:
    player = DayPlayer(root, DAY, DEFAULT_CALENDAR, speed=1e7)
    with _client(root, player, token=TOKEN) as client:
        for path in ("/", "/api/snapshot", "/api/status", "/api/days", "/docs", "/openapi.json"):
            response = client.get(path)
            assert response.status_code == 401, path
            assert TOKEN not in response.text
            assert client.get(path, params={"token": "wrong"}).status_code == 401
            assert client.get(path, headers={"Authorization": "Bearer wrong"}).status_code == 401
            assert client.get(path, params={"token": TOKEN}).status_code == 200, path
            ok = client.get(path, headers={"Authorization": f"Bearer {TOKEN}"})
            assert ok.status_code == 200, path
        assert client.get("/static/app.js").status_code == 200
        assert client.get("/static/vendor/uPlot.iife.min.js").status_code == 200
        with pytest.raises(WebSocketDisconnect), client.websocket_connect("/ws") as socket:
            socket.receive_json()
        with client.websocket_connect(f"/ws?token={TOKEN}") as socket:
            assert socket.receive_json()["channel"] in {"stats", "status", "foreign", "index"}


def test_the_openapi_schema_documents_the_contract(fast_replay: TestClient) -> None:
    schema = fast_replay.get("/openapi.json").json()
    assert {"/api/snapshot", "/api/days", "/api/status", "/api/control"} <= set(schema["paths"])
    snapshot = schema["components"]["schemas"]["Snapshot"]
    assert {"events", "stats", "candles", "alerts", "last_event_ts", "lag_ms", "mode"} <= set(
        snapshot["properties"]
    )
