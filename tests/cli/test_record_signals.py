"""Signals during `vnrec record`: the first asks for a stop, later ones are ignored."""

from __future__ import annotations

import datetime as dt
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from vnrec.cli.cmd_record import install_signal_handlers
from vnrec.recorder.service import Recorder, RecorderConfig
from vnrec.storage.layout import Layout


@pytest.fixture
def restore_handlers() -> Iterator[None]:
    saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    yield
    for number, handler in saved.items():
        signal.signal(number, handler)


@pytest.mark.usefixtures("restore_handlers")
def test_second_signal_is_ignored_with_a_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """SIGTERM stops with its name as the reason; a following SIGINT only prints a notice."""
    config = RecorderConfig(stop_at=dt.datetime.now(dt.UTC))
    recorder = Recorder(Layout(tmp_path), config, source=None)  # type: ignore[arg-type]
    install_signal_handlers(recorder)
    os.kill(os.getpid(), signal.SIGTERM)
    assert recorder.stopping and recorder.stop_reason == "SIGTERM"
    os.kill(os.getpid(), signal.SIGINT)
    assert recorder.stop_reason == "SIGTERM"
    err = capsys.readouterr().err
    assert "SIGTERM: stopping" in err
    assert "SIGINT ignored: already stopping, flushing the journal" in err
