"""The status line: rates per DataType, last event time and lag, backlog and reconnects."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

from vnrec.calendar import HCM_TZ
from vnrec.recorder.service import Recorder, RecorderConfig
from vnrec.recorder.status import StatusReporter, last_event_time
from vnrec.storage.layout import Layout


def test_last_event_time_reads_time_or_trading_time() -> None:
    """The Content's Time (or TradingTime) on the recording day, in Ho Chi Minh time."""
    day = dt.date(2026, 2, 6)
    assert last_event_time('{"Time":"10:15:30"}', day) == dt.datetime(
        2026, 2, 6, 10, 15, 30, tzinfo=HCM_TZ
    )
    assert last_event_time('{"TradingTime":"09:00:01"}', day) is not None
    assert last_event_time('{"Time":"late"}', day) is None
    assert last_event_time("not json", day) is None


def test_snapshot_and_render(tmp_path: Path) -> None:
    """Two snapshots one interval apart give per-type rates and the lag behind now."""
    now = dt.datetime(2026, 2, 6, 3, 15, 40, tzinfo=dt.UTC)  # 10:15:40 local
    recorder = Recorder(
        Layout(tmp_path),
        RecorderConfig(stop_at=now),
        source=None,  # type: ignore[arg-type]
    )
    status = StatusReporter(
        recorder, io.StringIO(), interactive=True, interval=2.0, now=lambda: now
    )
    recorder.journals.receive("X-QUOTE", '{"TradingDate":"06/02/2026","Time":"10:15:30"}', 1)
    recorder.journals.commit()
    recorder.per_type.update({"X-QUOTE": 10, "X-TRADE": 4})
    recorder.last_content = '{"Time":"10:15:30"}'
    first = status.snapshot()
    recorder.per_type.update({"X-QUOTE": 20})
    recorder.reconnects = 2
    second = status.snapshot()
    assert first["rate"] == {"X-QUOTE": 5.0, "X-TRADE": 2.0}
    assert second["rate"] == {"X-QUOTE": 10.0, "X-TRADE": 0.0}
    assert second["last_event"] == "10:15:30" and second["lag_s"] == 10.0
    line = status.render(second)
    assert "X-QUOTE 10/s" in line and "reconnects 2" in line and "lag 10.0 s" in line
    recorder.journals.close()
    recorder.journals.release()
