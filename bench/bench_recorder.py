"""Recorder benchmarks: the journal append path alone, the whole stamping callback, and
the sustained rate `vnrec record` keeps up with from one emulator over loopback with zero
loss (the recorder in its own process, its CPU and peak RSS measured)."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson
import psutil

from vnrec.emulator.auth import Credentials
from vnrec.emulator.config import EmulatorConfig, Pacing
from vnrec.emulator.market import MarketConfig, SyntheticMarket
from vnrec.emulator.server import EmulatorServer
from vnrec.recorder.journal import Journal
from vnrec.recorder.service import Recorder, RecorderConfig
from vnrec.storage.layout import Layout

DAY = dt.date(2026, 2, 6)
CONSUMER = Credentials("bench-consumer", "bench-secret-0123")


def _contents(count: int) -> list[str]:
    envelopes = SyntheticMarket(MarketConfig(DAY, symbols=10, activity=0.3)).envelopes()
    return [str(envelopes[i % len(envelopes)]["Content"]) for i in range(count)]


def _journal_rate(contents: list[str], work: Path) -> float:
    """append() for every message and a group commit every 20,000, as at ~100k msg/s."""
    journal = Journal(work / "journal", first_seq=1, monotonic=time.monotonic)
    start = time.perf_counter()
    for i, content in enumerate(contents):
        journal.append("X-QUOTE", content, i)
        if i % 20_000 == 0:
            journal.commit()
    journal.close()
    return len(contents) / (time.perf_counter() - start)


def _callback_rate(contents: list[str], work: Path) -> float:
    """The recorder's Broadcast callback (decode envelope, day, stamp, journal)."""
    layout = Layout(work / "callback")
    config = RecorderConfig(stop_at=dt.datetime.now(dt.UTC))
    recorder = Recorder(layout, config, source=None)  # type: ignore[arg-type]
    frames = [orjson.dumps({"DataType": "X-QUOTE", "Content": c}).decode() for c in contents]
    on_broadcast = recorder._on_broadcast
    start = time.perf_counter()
    for i, frame in enumerate(frames):
        on_broadcast(frame)
        if i % 20_000 == 0:
            recorder.journals.commit()
    elapsed = time.perf_counter() - start
    recorder.journals.close()
    recorder.journals.release()
    return len(frames) / elapsed


def _record_run(rate: float | None, market: MarketConfig, work: Path) -> dict[str, float]:
    """One emulator day into a `vnrec record` process; messages/s, loss, CPU, RSS."""
    root = work / f"rec-{rate or 'max'}"
    pacing = Pacing(rate=rate) if rate else Pacing()
    expected = len(SyntheticMarket(market).envelopes())
    with EmulatorServer.synthetic(
        EmulatorConfig(credentials=CONSUMER, pacing=pacing), market
    ) as server:
        env = {
            **os.environ,
            "SSI_CONSUMER_ID": CONSUMER.consumer_id,
            "SSI_CONSUMER_SECRET": CONSUMER.consumer_secret,
            "SSI_URL": server.url,
            "SSI_STREAM_URL": server.stream_url,
        }
        command = [sys.executable, "-m", "vnrec.cli.main", "record", "--force",
                   "--duration", "900", "--data", str(root)]  # fmt: skip
        proc = subprocess.Popen(command, env=env, stderr=subprocess.DEVNULL)
        watched = psutil.Process(proc.pid)
        peak_rss = 0
        assert server.wait_subscribed(120), "the recorder never subscribed"
        start = time.perf_counter()
        while not server.wait_finished(0.2):
            peak_rss = max(peak_rss, watched.memory_info().rss)
        send_seconds = time.perf_counter() - start
        cpu = watched.cpu_times()
        stats = server.stats()
        time.sleep(1.0)  # let the last frames arrive before asking the recorder to stop
        peak_rss = max(peak_rss, watched.memory_info().rss)
        proc.send_signal(2)
        proc.wait(300)
    recorded = sum(1 for _ in _raw_seqs(Layout(root)))
    return {
        "rate": expected / send_seconds,
        "sent": float(stats.broadcast),
        "recorded": float(recorded),
        "lost": float(expected - recorded),
        "cpu": (cpu.user + cpu.system) / send_seconds,
        "rss_mb": peak_rss / 1e6,
    }


def _raw_seqs(layout: Layout) -> list[int]:
    import pyarrow.parquet as pq

    seqs: list[int] = []
    for day in layout.days("raw"):
        for part in layout.parts("raw", day):
            seqs.extend(pq.read_table(part.path, columns=["seq"])["seq"].to_pylist())
    return seqs


def run(quick: bool) -> list[dict[str, object]]:
    work = Path(tempfile.mkdtemp(prefix="vnrec-bench-record-"))
    try:
        contents = _contents(50_000 if quick else 1_000_000)
        journal = sorted(_journal_rate(contents, work) for _ in range(1 if quick else 3))
        callback = sorted(
            _callback_rate(contents, work / f"cb{i}") for i in range(1 if quick else 3)
        )
        results: list[dict[str, object]] = [
            {
                "benchmark": "recorder",
                "metric": "journal append + group commit",
                "value": journal[len(journal) // 2],
                "unit": "messages/s",
                "note": f"{len(contents):,} messages, one thread; range"
                f" {journal[0]:,.0f}-{journal[-1]:,.0f}",
            },
            {
                "benchmark": "recorder",
                "metric": "Broadcast callback (decode, stamp, journal)",
                "value": callback[len(callback) // 2],
                "unit": "messages/s",
                "note": "the work on the websocket thread per message, without the socket",
            },
        ]
        market = MarketConfig(DAY, symbols=3 if quick else 30, activity=0.2 if quick else 1.0)
        for rate in (None,) if quick else (None, 2_000.0, 4_000.0):
            outcome = _record_run(rate, market, work)
            label = "as fast as the client reads" if rate is None else f"emulator at {rate:,.0f}/s"
            results.append(
                {
                    "benchmark": "recorder",
                    "metric": f"end-to-end record rate ({label})",
                    "value": outcome["rate"],
                    "unit": "messages/s",
                    "note": f"{outcome['recorded']:,.0f} recorded, {outcome['lost']:,.0f} lost;"
                    f" recorder CPU {outcome['cpu']:.0%} of a core, peak RSS"
                    f" {outcome['rss_mb']:,.0f} MB",
                }
            )
        return results
    finally:
        shutil.rmtree(work, ignore_errors=True)
