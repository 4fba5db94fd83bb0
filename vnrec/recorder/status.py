"""Watching a recording: a live status line on a terminal, a structured log line every
30 s otherwise. Reads the recorder's counters; never touches the message path."""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

import orjson

from vnrec.calendar import HCM_TZ
from vnrec.recorder.service import Recorder

log = logging.getLogger(__name__)


def _dir_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.is_dir() else 0


def last_event_time(content: str, day: dt.date) -> dt.datetime | None:
    try:
        obj = orjson.loads(content)
    except orjson.JSONDecodeError:
        return None
    text = obj.get("Time") or obj.get("TradingTime") if isinstance(obj, dict) else None
    try:
        clock = dt.time.fromisoformat(text) if isinstance(text, str) else None
    except ValueError:
        return None
    return dt.datetime.combine(day, clock, HCM_TZ) if clock else None


class StatusReporter:
    def __init__(
        self,
        recorder: Recorder,
        stream: TextIO,
        *,
        interactive: bool,
        interval: float | None = None,
        now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self._recorder = recorder
        self._stream = stream
        self._interactive = interactive
        self._interval = interval if interval is not None else (1.0 if interactive else 30.0)
        self._now = now
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="vnrec-status", daemon=True)
        self._previous: Counter[str] = Counter()
        self._disk = 0
        self._ticks = 0

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        if self._interactive:
            self._stream.write("\n")
            self._stream.flush()

    def snapshot(self) -> dict[str, object]:
        recorder = self._recorder
        # dict() copies in one step under the GIL while the websocket thread adds counts
        current = Counter(dict(recorder.per_type))
        rates = {k: (current[k] - self._previous[k]) / self._interval for k in sorted(current)}
        self._previous = current
        if self._ticks % 10 == 0:
            self._disk = _dir_bytes(recorder.layout.root)
        self._ticks += 1
        day = recorder.journals.current_day
        event_time = last_event_time(recorder.last_content, day) if day else None
        lag = (self._now() - event_time).total_seconds() if event_time else None
        converter = recorder.converter
        return {
            "messages": recorder.journals.appended,
            "rate": rates,
            "last_event": event_time.strftime("%H:%M:%S") if event_time else None,
            "lag_s": round(lag, 1) if lag is not None else None,
            "reconnects": recorder.reconnects,
            "malformed": recorder.malformed,
            "backlog_segments": converter.backlog,
            "disk_bytes": self._disk,
        }

    def render(self, status: dict[str, object]) -> str:
        rates = status["rate"]
        assert isinstance(rates, dict)
        per = " ".join(f"{k} {v:,.0f}/s" for k, v in rates.items()) or "waiting for data"
        lag = status["lag_s"]
        disk = status["disk_bytes"]
        assert isinstance(disk, int)
        return (
            f"{status['messages']:,} msgs | {per} | last {status['last_event'] or '-'}"
            f" lag {lag if lag is not None else '-'} s | reconnects {status['reconnects']}"
            f" | backlog {status['backlog_segments']} seg | disk {disk / 1e6:,.1f} MB"
        )

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            status = self.snapshot()
            if self._interactive:
                self._stream.write("\r\x1b[2K" + self.render(status))
                self._stream.flush()
            else:
                log.info("status %s", orjson.dumps(status).decode())
