"""Running the real recorder against the real emulator, in-process, over loopback."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import pyarrow.parquet as pq
from pydantic import SecretStr

from vnrec.emulator.config import DEFAULT_CONSUMER_ID, DEFAULT_CONSUMER_SECRET, EmulatorConfig
from vnrec.emulator.market import MarketConfig, SyntheticMarket
from vnrec.emulator.server import EmulatorServer
from vnrec.recorder.service import Recorder, RecorderConfig, RecordingSummary
from vnrec.ssi.client import SsiClient, SsiSettings
from vnrec.ssi.secrets import Redactor
from vnrec.storage.layout import Layout

DAY = dt.date(2026, 2, 6)
SMALL_DAY = MarketConfig(DAY, symbols=2, activity=0.08, seed=3)


def truth(market: MarketConfig = SMALL_DAY) -> list[dict[str, object]]:
    return SyntheticMarket(market).envelopes()


def settings_for(server: EmulatorServer, secret: str = DEFAULT_CONSUMER_SECRET) -> SsiSettings:
    return SsiSettings(
        consumer_id=DEFAULT_CONSUMER_ID,
        consumer_secret=SecretStr(secret),
        url=server.url,
        stream_url=server.stream_url,
    )


def recorder_config(**overrides: object) -> RecorderConfig:
    base = RecorderConfig(
        stop_at=dt.datetime.now(dt.UTC) + dt.timedelta(hours=1),
        commit_interval=0.05,
        segment_seconds=0.5,
        stall_timeout=2.0,
        backoff_base=0.05,
        backoff_cap=0.2,
        seed=1,
    )
    return replace(base, **overrides)  # type: ignore[arg-type]


@dataclass
class Run:
    recorder: Recorder
    thread: threading.Thread
    outcome: dict[str, object]

    def recorded(self) -> int:
        """Messages stamped so far (journaled, possibly not yet committed)."""
        return self.recorder.journals.appended

    def wait_for(self, condition: Callable[[], bool], timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if not self.thread.is_alive():
                raise AssertionError(f"recorder stopped early: {self.outcome}")
            if time.monotonic() > deadline:
                raise AssertionError("timed out waiting for the recorder")
            time.sleep(0.02)

    def stop(self) -> RecordingSummary:
        self.recorder.request_stop("test done")
        self.thread.join(60)
        assert not self.thread.is_alive()
        if "error" in self.outcome:
            raise self.outcome["error"]  # type: ignore[misc]
        summary = self.outcome["summary"]
        assert isinstance(summary, RecordingSummary)
        return summary


@contextmanager
def recording(
    server: EmulatorServer, layout: Layout, config: RecorderConfig, secret: str | None = None
) -> Iterator[Run]:
    client = SsiClient(settings_for(server, secret or DEFAULT_CONSUMER_SECRET), Redactor())
    recorder = Recorder(layout, config, client)
    outcome: dict[str, object] = {}

    def target() -> None:
        try:
            outcome["summary"] = recorder.run()
        except Exception as exc:  # noqa: BLE001 - handed to the test thread, re-raised there
            outcome["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    run = Run(recorder, thread, outcome)
    try:
        yield run
    finally:
        if thread.is_alive():
            recorder.request_stop("test teardown")
            thread.join(60)


def emulator(market: MarketConfig = SMALL_DAY, **config: object) -> EmulatorServer:
    return EmulatorServer.synthetic(EmulatorConfig(**config), market)  # type: ignore[arg-type]


def raw_rows(layout: Layout, day: dt.date = DAY) -> list[tuple[int, str, str]]:
    rows: list[tuple[int, str, str]] = []
    for part in layout.parts("raw", day):
        data = pq.read_table(part.path, columns=["seq", "data_type", "content"]).to_pydict()
        rows.extend(zip(data["seq"], data["data_type"], data["content"], strict=True))
    return rows


def connection_events(layout: Layout, day: dt.date | None = DAY) -> list[tuple[str, str]]:
    """(event, reason) rows of the connections table for a day (None: every day)."""
    pattern = f"date={day.isoformat() if day else '*'}/run-*.parquet"
    events: list[tuple[str, str]] = []
    for path in sorted((layout.root / "connections").glob(pattern)):
        table = pq.read_table(path).to_pydict()
        events.extend(zip(table["event"], table["reason"], strict=True))
    return events


def data_dir(tmp_path: Path) -> Layout:
    return Layout(tmp_path / "data")


def persisted(layout: Layout, journal: Path) -> int:
    """Messages on disk, journal and Parquet together, while a recorder may be moving them
    from one to the other. Counted as distinct seqs, journal first: a record converted
    meanwhile is then seen twice, never missed, and counts once. A file that vanishes
    between listing and reading (a converted segment, a compacted part) means a move
    happened: measure again."""
    from vnrec.storage.journal import list_segments, scan_segment

    while True:
        try:
            seqs = {r.seq for path in list_segments(journal) for r in scan_segment(path).records}
            seqs.update(seq for seq, _, _ in raw_rows(layout))
        except FileNotFoundError:
            continue
        return len(seqs)
