"""A recorder whose worker fails stops at once with the cause, never exits 0 with half a
day: the group commit, the converter, a live tracker, the stream callback, a day locked by
another process. What was journaled stays on disk and a later start commits it."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from tests.processes import vnrec
from tests.recorder.harness import (
    DAY,
    data_dir,
    emulator,
    raw_rows,
    recorder_config,
    recording,
    settings_for,
)
from vnrec.errors import VnrecError
from vnrec.recorder import converter as converter_module
from vnrec.recorder.service import Recorder
from vnrec.ssi.client import SsiClient
from vnrec.ssi.secrets import Redactor
from vnrec.storage.day import open_day
from vnrec.storage.journal import Journal, journal_dir, list_segments, scan_segment
from vnrec.storage.layout import Layout
from vnrec.storage.locks import DayLock

pytestmark = pytest.mark.slow


class Boom(RuntimeError):
    pass


def _fail_on_call(number: int, real: Any) -> Any:
    calls = [0]

    def failing(*args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        if calls[0] == number:
            raise Boom(f"injected failure on call {number}")
        return real(*args, **kwargs)

    return failing


def _journaled(root: Path) -> list[int]:
    return [
        record.seq
        for segment in list_segments(journal_dir(root, DAY))
        for record in scan_segment(segment).records
    ]


def _stopped_with(run: Any, cause: str) -> VnrecError:
    """The recorder stopped by itself (before the test asks), with `cause` in its error."""
    run.thread.join(60)
    assert not run.thread.is_alive(), "the recorder did not stop after its worker failed"
    error = run.outcome.get("error")
    assert isinstance(error, VnrecError), run.outcome
    assert cause in str(error), str(error)
    assert "\n" not in str(error)
    return error


def _nothing_lost(layout: Layout) -> None:
    """What is committed plus what is journaled is one gap-free seq range; recovering the
    day commits the rest and keeps it gap-free."""
    committed = [seq for seq, _, _ in raw_rows(layout)]
    pending = _journaled(layout.root)
    every = sorted(set(committed) | set(pending))
    assert every and every == list(range(1, len(every) + 1))
    open_day(layout, DAY).close()
    assert [seq for seq, _, _ in raw_rows(layout)] == every
    assert not _journaled(layout.root)


def test_a_failing_group_commit_stops_the_recording(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fourth journal commit fails: the recording stops with that cause."""
    monkeypatch.setattr(Journal, "commit", _fail_on_call(4, Journal.commit))
    layout = data_dir(tmp_path)
    with emulator() as server, recording(server, layout, recorder_config()) as run:
        _stopped_with(run, "the journal cannot be written: injected failure on call 4")
    _nothing_lost(layout)


def test_a_failing_conversion_stops_the_recording_and_keeps_the_journal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The second segment cannot be converted: the recording stops, the segment and the
    ones after it stay in the journal, and the next start commits them."""
    real = converter_module.convert_segment
    monkeypatch.setattr(converter_module, "convert_segment", _fail_on_call(2, real))
    layout = data_dir(tmp_path)
    # Segments cut by size, not time: a fast emulator must not fit the day into one.
    config = recorder_config(segment_bytes=100_000, segment_seconds=3600.0)
    with emulator() as server, recording(server, layout, config) as run:
        _stopped_with(run, "converting the journal failed: injected failure on call 2")
    assert _journaled(layout.root), "the unconverted segments were deleted"
    _nothing_lost(layout)


def test_a_failing_live_tracker_stops_the_recording(tmp_path: Path) -> None:
    """Under --track a tracker raising on a batch is a conversion failure: stop, exit 1."""

    class Failing:
        def start_day(self, state: Any) -> None:
            pass

        def on_tables(self, day: Any, tables: Any) -> None:
            raise Boom("the tracker broke")

        def on_connection(self, event: Any) -> None:
            pass

    layout = data_dir(tmp_path)
    with emulator() as server:
        client = SsiClient(settings_for(server), Redactor())
        recorder = Recorder(layout, recorder_config(), client, live=Failing())
        with pytest.raises(VnrecError, match="converting the journal failed: the tracker broke"):
            recorder.run()
    _nothing_lost(layout)


def test_a_failing_stream_callback_stops_the_recording(tmp_path: Path) -> None:
    """An exception on the websocket thread is contained (ssi-fc-data would take it for a
    close and the recorder would reconnect forever) and stops the recording."""
    layout = data_dir(tmp_path)
    with emulator() as server, recording(server, layout, recorder_config()) as run:
        run.recorder.journals.receive = _fail_on_call(50, run.recorder.journals.receive)  # type: ignore[method-assign]
        _stopped_with(run, "the stream callback failed: injected failure on call 50")
    assert run.recorder.reconnects == 0
    _nothing_lost(layout)


def test_a_day_another_process_writes_stops_the_recording_at_once(tmp_path: Path) -> None:
    """The day of the stream is locked by an import: one line naming it, no reconnect loop."""
    layout = data_dir(tmp_path)
    with DayLock(layout.root, DAY), emulator() as server:
        with recording(server, layout, recorder_config()) as run:
            _stopped_with(run, "being written by another vnrec process")
        assert run.recorder.reconnects == 0


def test_a_stream_that_never_opens_exits_1(tmp_path: Path) -> None:
    """SSI_URL on a closed port: the recorder retries until its stop, then says it recorded
    nothing because it never connected, and exits 1."""
    import socket

    # Bound and never listening, for the whole run: connections are refused, and no other
    # process (a parallel test's server) can take the port meanwhile.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}/"
        env = {
            **os.environ,
            "SSI_CONSUMER_ID": "consumer",
            "SSI_CONSUMER_SECRET": "secret-of-the-consumer",
            "SSI_URL": closed,
            "SSI_STREAM_URL": closed,
        }
        result = vnrec(
            "record", "--force", "--duration", "2", "--data", str(tmp_path / "data"),
            env=env, timeout=120,
        )  # fmt: skip
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("vnrec: error: recorded nothing: the stream was never open (last:")
    assert closed in last and "secret-of-the-consumer" not in result.stderr
