"""The recorder end to end: real ssi-fc-data client, real emulator, loopback. A day is
recorded exactly; faults produce the documented behaviour, visible in `connections`."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.recorder.harness import (
    DAY,
    connection_events,
    data_dir,
    emulator,
    raw_rows,
    recorder_config,
    recording,
    truth,
)
from vnrec.emulator.config import Faults
from vnrec.errors import AuthError
from vnrec.storage.components import read_components

pytestmark = pytest.mark.slow


def test_a_synthetic_day_is_recorded_exactly(tmp_path: Path) -> None:
    """Every message once, in order, seq 1..N, each table in Parquet; connections logged."""
    expected = truth()
    layout = data_dir(tmp_path)
    with emulator() as server, recording(server, layout, recorder_config()) as run:
        assert server.wait_finished(60)
        run.wait_for(lambda: run.recorded() >= len(expected))
        summary = run.stop()
        vn30 = next(s for s in server.universe.indices if s.index_id == "VN30").members
    rows = raw_rows(layout)
    assert [seq for seq, _, _ in rows] == list(range(1, len(expected) + 1))
    assert [(t, c) for _, t, c in rows] == [(e["DataType"], e["Content"]) for e in expected]
    assert summary.messages == len(expected) and summary.reconnects == 0
    assert summary.per_type["X-TRADE"] == sum(e["DataType"] == "X-TRADE" for e in expected)
    assert layout.parts("trades", DAY) and layout.parts("quotes", DAY)
    events = [e for e, _ in connection_events(layout)]
    assert events[:4] == ["start", "connect", "subscribe", "day"] and events[-1] == "stop"
    assert not list((layout.root / "journal" / f"date={DAY}").glob("segment-*"))
    # The day's VN30 members, as SSI's IndexComponents gave them at start.
    members = read_components(layout.root).to_pylist()
    assert sorted(m["symbol"] for m in members) == sorted(vn30) and vn30
    assert {(m["date"], m["index_id"]) for m in members} == {(DAY, "VN30")}


def test_components_that_cannot_be_fetched_do_not_stop_the_recording(tmp_path: Path) -> None:
    """An index SSI does not know: a warning and a connections row, and the day recorded."""
    expected = truth()
    layout = data_dir(tmp_path)
    config = recorder_config(components=("VN30", "NOPE"))
    with emulator() as server, recording(server, layout, config) as run:
        assert server.wait_finished(60)
        run.wait_for(lambda: run.recorded() >= len(expected))
        run.stop()
    assert len(raw_rows(layout)) == len(expected)
    failed = [r for e, r in connection_events(layout) if e == "components_failed"]
    assert len(failed) == 1 and failed[0].startswith("NOPE: ")
    assert {m["index_id"] for m in read_components(layout.root).to_pylist()} == {"VN30"}


def test_dropped_socket_reconnects_and_the_gap_is_visible(tmp_path: Path) -> None:
    """After the server drops the socket, the recorder reconnects, resubscribes and goes on;
    the disconnect and reconnect are rows of `connections`; seq stays gap-free."""
    expected = truth()
    layout = data_dir(tmp_path)
    faults = Faults(drop_after=2_000, lose_on_drop=50)
    with emulator(faults=faults) as server, recording(server, layout, recorder_config()) as run:
        assert server.wait_finished(60)
        lost = server.stats().lost
        run.wait_for(lambda: run.recorded() >= len(expected) - lost)
        summary = run.stop()
    rows = raw_rows(layout)
    contents = [c for _, _, c in rows]
    assert [s for s, _, _ in rows] == list(range(1, len(rows) + 1))
    assert lost == 50 and len(rows) == len(expected) - lost
    positions = [i for i, e in enumerate(expected) if e["Content"] in set(contents)]
    assert positions == sorted(positions)  # nothing reordered
    assert summary.reconnects == 1 and summary.gaps == 1
    events = [e for e, _ in connection_events(layout)]
    assert "disconnect" in events and "reconnect" in events
    assert events.index("disconnect") < events.index("reconnect") < len(events) - 1
    assert events.count("subscribe") == 2


def test_stalled_connection_is_detected_and_replaced(tmp_path: Path) -> None:
    """A connection that goes silent (no data, no keep-alive) is dropped as a stall."""
    layout = data_dir(tmp_path)
    faults = Faults(stall_after=1_000)
    config = recorder_config(stall_timeout=1.0)
    with emulator(faults=faults) as server, recording(server, layout, config) as run:
        run.wait_for(lambda: "stall" in [e for e, _ in run.recorder.events], 30)
        run.wait_for(lambda: run.recorder.reconnects >= 1, 30)
        summary = run.stop()
    events = connection_events(layout)
    stall = next(reason for event, reason in events if event == "stall")
    assert stall.startswith("no frame")
    assert summary.gaps >= 1 and summary.reconnects >= 1


def test_repeats_after_reconnect_are_recorded_as_received(tmp_path: Path) -> None:
    """Messages SSI repeats after a reconnect are recorded (raw keeps what arrived)."""
    layout = data_dir(tmp_path)
    faults = Faults(drop_after=1_500, repeat_on_reconnect=20)
    with emulator(faults=faults) as server, recording(server, layout, recorder_config()) as run:
        assert server.wait_finished(60)
        expected = len(truth()) + 20
        run.wait_for(lambda: run.recorded() >= expected)
        run.stop()
    contents = [c for _, _, c in raw_rows(layout)]
    assert len(contents) == expected
    assert len(set(contents)) <= len(contents) - 20 + 1


def test_malformed_frames_are_kept_aside_and_good_ones_recorded(tmp_path: Path) -> None:
    """Frames that are not envelopes go to the rejects file; bad Content stays in raw only."""
    layout = data_dir(tmp_path)
    faults = Faults(malformed_every=500)
    expected = truth()
    with emulator(faults=faults) as server, recording(server, layout, recorder_config()) as run:
        assert server.wait_finished(60)
        total = len(expected) + len(expected) // 500
        run.wait_for(lambda: run.recorded() + run.recorder.malformed >= total)
        summary = run.stop()
    assert summary.malformed > 0
    rejects = list((layout.root / "rejects").glob("date=*/record-*.jsonl"))
    assert rejects and rejects[0].read_text().count("\n") == summary.malformed
    assert summary.conversion.bad_content > 0
    assert len(raw_rows(layout)) == summary.messages


def test_rejected_token_is_renewed_once(tmp_path: Path) -> None:
    """A stream that refuses the first token gets a new one and the recording goes on."""
    layout = data_dir(tmp_path)
    with (
        emulator(faults=Faults(reject_token=1)) as server,
        recording(server, layout, recorder_config()) as run,
    ):
        run.wait_for(lambda: run.recorded() > 100)
        run.stop()
    events = [e for e, _ in connection_events(layout)]
    assert events.index("token_rejected") < events.index("subscribe")


def test_token_always_refused_is_one_clear_error(tmp_path: Path) -> None:
    """When the stream keeps refusing fresh tokens: AuthError, no retry storm."""
    layout = data_dir(tmp_path)
    with (
        emulator(faults=Faults(reject_token=-1)) as server,
        recording(server, layout, recorder_config()) as run,
    ):
        run.thread.join(30)
        assert isinstance(run.outcome.get("error"), AuthError)
    events = [e for e, _ in connection_events(layout, day=None)]
    assert events.count("token_rejected") == 1


def test_wrong_credentials_fail_at_once(tmp_path: Path) -> None:
    """A refused consumer secret is an AuthError naming the consumer, with no retries."""
    layout = data_dir(tmp_path)
    with (
        emulator() as server,
        recording(server, layout, recorder_config(), secret="wrong-secret") as run,
    ):
        run.thread.join(30)
        error = run.outcome.get("error")
    assert isinstance(error, AuthError)
    assert "vnrec-demo" in str(error) and "wrong-secret" not in str(error)
