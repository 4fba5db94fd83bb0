"""`vnrec serve` as a process: a replayed day at 5,000 messages/s pushed through the throttle,
ending on `vnrec replay`'s object; the live view of a recording made by `vnrec record` from
the emulator, killed without touching the recording; refusals as one line."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
from pathlib import Path
from typing import Any

import orjson
import pytest
from websockets.sync.client import connect

from tests.processes import interrupt, reap
from tests.recorder.harness import DAY, persisted
from tests.recorder.test_record_process import _env, _record
from tests.serve.servers import Served, serve_argv, serving
from vnrec.emulator.auth import Credentials
from vnrec.emulator.config import EmulatorConfig, Faults, Pacing
from vnrec.emulator.market import MarketConfig, SyntheticMarket
from vnrec.emulator.server import EmulatorServer
from vnrec.storage.importer import Importer
from vnrec.storage.layout import Layout

pytestmark = pytest.mark.slow

REPLAY_KEYS = ("date", "events", "stats", "foreign", "index", "basis", "alerts")
DATA_CHANNELS = ("stats", "foreign", "index", "basis", "alerts")
INPUT_RATE = 5_000  # messages per second fed to the board
THROTTLE_S = 0.5


def _replay_json(root: Path) -> dict[str, Any]:
    result = subprocess.run(
        [sys.executable, "-m", "vnrec.cli.main", "replay", "--data", str(root), "--date",
         DAY.isoformat(), "--format", "json"],
        capture_output=True, timeout=120, check=True,
    )  # fmt: skip
    document: dict[str, Any] = json.loads(result.stdout)
    return document


def _event_seconds(envelopes: list[dict[str, Any]]) -> float:
    def local(envelope: dict[str, Any]) -> dt.datetime:
        content = envelope["Content"]
        content = orjson.loads(content) if isinstance(content, str) else content
        clock = content.get("Time") or content["TradingTime"]
        return dt.datetime.combine(DAY, dt.time.fromisoformat(clock))

    return (local(envelopes[-1]) - local(envelopes[0])).total_seconds()


@pytest.fixture(scope="module")
def market_root(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, float]:
    """The emulator's synthetic day, imported; and the speed that feeds it at INPUT_RATE."""
    envelopes = SyntheticMarket(MarketConfig(DAY, symbols=8, activity=0.3, seed=9)).envelopes()
    root = tmp_path_factory.mktemp("market") / "data"
    with Importer(Layout(root)) as importer:
        importer.import_lines((orjson.dumps(e) for e in envelopes), "<market>")
        importer.commit()
    return root, INPUT_RATE * _event_seconds(envelopes) / len(envelopes)


def test_pushes_are_throttled_and_the_day_ends_on_the_replay(
    market_root: tuple[Path, float], tmp_path: Path
) -> None:
    """At 5,000 messages/s of input each channel pushes at most twice a second (plus the
    state at connect), and the last push of each carries the final state."""
    root, speed = market_root
    expected = _replay_json(root)
    args = ("--replay", DAY.isoformat(), "--speed", f"{speed:.3f}", "--throttle-ms", "500")
    with serving(root, tmp_path / "serve.log", *args) as served:
        counts = dict.fromkeys((*DATA_CHANNELS, "status"), 0)
        latest: dict[str, Any] = {}
        rates: list[float] = []
        with connect(served.url.replace("http", "ws") + "/ws", open_timeout=30) as socket:
            connected = time.monotonic()
            deadline = connected + 300
            snapshot: dict[str, Any] | None = None
            while True:
                assert time.monotonic() < deadline, f"no final state in 300 s: {counts}"
                try:
                    message = json.loads(socket.recv(timeout=1.0))
                except TimeoutError:
                    message = None
                if message is not None:
                    counts[message["channel"]] += 1
                    latest[message["channel"]] = message["data"]
                    if message["channel"] == "status":
                        rates.append(message["data"]["rate"])
                if snapshot is None and latest.get("status", {}).get("state") == "finished":
                    snapshot = served.get("/api/snapshot")
                if snapshot is not None and _carries(latest, snapshot):
                    break
            elapsed = time.monotonic() - connected
    assert {key: snapshot[key] for key in REPLAY_KEYS} == expected
    assert snapshot["status"]["state"] == "finished"
    for channel, count in counts.items():
        # Pushes are >= 0.5 s apart once connected; one more is the state sent at connect.
        assert count <= elapsed / THROTTLE_S + 2, (channel, count, elapsed)
    assert counts["stats"] >= 2 and max(rates) > 0
    print(f"\n{elapsed:.1f} s, peak input {max(rates):,.0f} msg/s, pushes {counts}")


def _carries(latest: dict[str, Any], snapshot: dict[str, Any]) -> bool:
    """The last push of every data channel holds the snapshot's final state."""
    if not set(DATA_CHANNELS) <= set(latest):
        return False
    return (
        latest["stats"]["stats"] == snapshot["stats"]
        and latest["foreign"]["foreign"] == snapshot["foreign"]
        and latest["index"]["index"] == snapshot["index"]
        and latest["basis"]["basis"] == snapshot["basis"]
        and latest["alerts"]["alert_count"] == len(snapshot["alerts"])
        and latest["alerts"]["alerts"] == snapshot["alerts"][-200:]
    )


def _one_line_failure(argv: list[str]) -> str:
    result = subprocess.run(argv, capture_output=True, timeout=120, check=False)
    assert result.returncode == 1, result
    lines = result.stderr.decode().strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("vnrec: error: "), lines
    return lines[0]


def test_refusals_are_one_line(market_root: tuple[Path, float], tmp_path: Path) -> None:
    root, _ = market_root
    line = _one_line_failure(serve_argv(root, "--host", "0.0.0.0", "--port", "0"))
    assert "not loopback" in line and "--token" in line
    line = _one_line_failure(serve_argv(root, "--replay", "2026-02-09", "--port", "0"))
    assert "no recorded data for 2026-02-09" in line
    line = _one_line_failure(serve_argv(tmp_path / "nowhere", "--port", "0"))
    assert "no such directory" in line
    with serving(root, tmp_path / "first.log", "--replay", DAY.isoformat()) as served:
        port = served.url.rsplit(":", 1)[1]
        line = _one_line_failure(serve_argv(root, "--replay", DAY.isoformat(), "--port", port))
        assert f"cannot listen on 127.0.0.1:{port}" in line


def test_a_damaged_part_stops_the_server_with_one_line(
    market_root: tuple[Path, float], tmp_path: Path
) -> None:
    """The feed fails on a part whose bytes changed: the server stops, the command names
    the part on one line and exits 1 (nothing is written anywhere)."""
    source, _ = market_root
    root = tmp_path / "data"
    shutil.copytree(source, root)
    part = sorted((root / "trades" / f"date={DAY.isoformat()}").glob("*.parquet"))[0]
    data = bytearray(part.read_bytes())
    data[200:260] = bytes(b ^ 0xFF for b in data[200:260])
    part.write_bytes(bytes(data))
    result = subprocess.run(
        serve_argv(root, "--replay", DAY.isoformat(), "--speed", "1e9", "--port", "0"),
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1
    lines = result.stderr.decode().strip().splitlines()
    assert lines[0].startswith("vnrec serve: http://127.0.0.1:")  # it was serving
    assert len(lines) == 2 and lines[1].startswith("vnrec: error: committed part "), lines
    assert str(part) in lines[1]


def test_a_non_loopback_bind_with_a_token_serves_only_with_it(
    market_root: tuple[Path, float], tmp_path: Path
) -> None:
    root, _ = market_root
    token = "a-long-random-token-0123456789"
    args = ("--host", "0.0.0.0", "--replay", DAY.isoformat(), "--speed", "1e9")
    with serving(root, tmp_path / "serve.log", *args, "--token", token) as served:
        served.url = served.url.replace("0.0.0.0", "127.0.0.1")
        with pytest.raises(urllib.error.HTTPError) as refused:
            served.get("/api/status")
        assert refused.value.code == 401
        refused.value.close()  # its response holds the socket
        served.wait_for(
            lambda: served.get(f"/api/status?token={token}")["state"] == "finished", "the end"
        )
    assert token not in (tmp_path / "serve.log").read_text()


def test_the_live_view_follows_a_recording_and_dies_without_touching_it(tmp_path: Path) -> None:
    """emulator -> `vnrec record` -> `vnrec serve`: the view grows while the day is recorded
    (a dropped connection included); kill -9 of the view changes nothing in the recording;
    a view started again catches up and ends on the replay of the recording."""
    market = MarketConfig(DAY, symbols=4, activity=0.2, seed=12)
    total = len(SyntheticMarket(market).envelopes())
    config = EmulatorConfig(
        credentials=Credentials("vnrec-test-consumer", "s3cr3t-Consumer-Key-0123456789"),
        faults=Faults(drop_after=total // 2, lose_on_drop=3),
        pacing=Pacing(rate=1_000.0, hold=True),  # ~19 s: four of the recorder's 5 s segments
    )
    root = tmp_path / "data"
    layout = Layout(root)
    journal = root / "journal" / f"date={DAY.isoformat()}"
    root.mkdir()
    with (
        EmulatorServer.synthetic(config, market) as server,
        serving(root, tmp_path / "serve1.log", "--date", DAY.isoformat()) as first,
    ):
        assert first.get("/api/status")["state"] == "waiting"
        with open(tmp_path / "record.log", "wb") as log:
            recorder = subprocess.Popen(
                _record(root, "--duration", "600"), env=_env(server), stderr=log
            )
        try:
            seen = _growing_events(first, total)
            first.proc.send_signal(signal.SIGKILL)
            first.proc.wait()
            assert server.wait_finished(120), "the day was not sent in 120 s"
            sent = sum(c.sent for c in server.stats().connections)
            deadline = time.monotonic() + 120
            while persisted(layout, journal) < sent:
                assert recorder.poll() is None, (tmp_path / "record.log").read_text()[-2000:]
                assert time.monotonic() < deadline, "the day was not recorded in 120 s"
                time.sleep(0.05)
            with serving(root, tmp_path / "serve2.log", "--date", DAY.isoformat()) as second:
                second.wait_for(
                    lambda: second.get("/api/status")["events"] == sent, "the view to catch up"
                )
                live = second.get("/api/snapshot")
            assert interrupt(recorder) == 0, (tmp_path / "record.log").read_text()[-2000:]
        finally:
            reap(recorder)
    assert len(set(seen)) >= 2 and max(seen) < sent, seen  # grew while recording
    recorded = _replay_json(root)
    assert recorded["events"] == sent
    assert {key: live[key] for key in REPLAY_KEYS} == recorded
    assert [gap["reason"] for gap in live["gaps"]], "the dropped connection is a gap"
    assert live["status"]["mode"] == "live"
    verify = subprocess.run(
        [sys.executable, "-m", "vnrec.cli.main", "verify", "--data", str(root), "--date",
         DAY.isoformat(), "--format", "json"],
        capture_output=True, timeout=120, check=False,
    )  # fmt: skip
    assert verify.returncode == 0, verify.stderr.decode()[-2000:]


def _growing_events(served: Served, total: int) -> list[int]:
    """The view's message count, sampled until it has taken two values (the recorder
    commits a segment of its journal every 5 s)."""
    seen: list[int] = []
    deadline = time.monotonic() + 120
    while len({n for n in seen if 0 < n < total}) < 2:
        assert time.monotonic() < deadline, f"the view did not grow: {seen}"
        seen.append(served.get("/api/status")["events"])
        time.sleep(0.05)
    return sorted({n for n in seen if 0 < n < total})
