"""`vnrec record` as a process: secrets never leak anywhere, and kill -9 at random moments
while the emulator streams loses nothing committed, duplicates and reorders nothing."""

from __future__ import annotations

import itertools
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tests.processes import interrupt, reap
from tests.recorder.harness import DAY, persisted, raw_rows
from vnrec.emulator.auth import Credentials
from vnrec.emulator.config import EmulatorConfig, Faults, Pacing
from vnrec.emulator.market import MarketConfig, SyntheticMarket
from vnrec.emulator.server import EmulatorServer
from vnrec.storage.gaps import recording_gaps
from vnrec.storage.layout import Layout

pytestmark = pytest.mark.slow

CONSUMER_ID = "vnrec-test-consumer"
SECRET = "s3cr3t-Consumer-Key-0123456789"
KILLS = 20
RATE = 1_000.0  # messages per second the emulator sends, in event order
COMMIT_INTERVAL = 0.2


def _env(server: EmulatorServer) -> dict[str, str]:
    return {
        **os.environ,
        "SSI_CONSUMER_ID": CONSUMER_ID,
        "SSI_CONSUMER_SECRET": SECRET,
        "SSI_URL": server.url,
        "SSI_STREAM_URL": server.stream_url,
        "PYTHONUNBUFFERED": "1",
    }


def _record(root: Path, *extra: str) -> list[str]:
    return [
        sys.executable, "-m", "vnrec.cli.main", "-v", "record", "--force", "--data", str(root),
        "--commit-interval", str(COMMIT_INTERVAL), "--stall-timeout", "5", *extra,
    ]  # fmt: skip


def test_secret_and_tokens_appear_nowhere(tmp_path: Path) -> None:
    """With debug logging on, neither the consumer secret nor any JWT shows up on stdout,
    stderr or in any file the recorder wrote."""
    market = MarketConfig(DAY, symbols=2, activity=0.05)
    config = EmulatorConfig(credentials=Credentials(CONSUMER_ID, SECRET))
    root = tmp_path / "data"
    with EmulatorServer.synthetic(config, market) as server:
        result = subprocess.run(
            _record(root, "--duration", "4"),
            env=_env(server),
            capture_output=True,
            timeout=120,
            check=False,
        )
    assert result.returncode == 0, result.stderr.decode()[-2000:]
    assert b"recorded " in result.stderr and b"subscribe" in result.stderr
    haystacks = {"stdout": result.stdout, "stderr": result.stderr}
    for path in root.rglob("*"):
        if path.is_file():
            haystacks[str(path)] = path.read_bytes()
    assert len(haystacks) > 5
    for name, data in haystacks.items():
        assert SECRET.encode() not in data, f"consumer secret in {name}"
        assert b"eyJ" not in data, f"a JWT in {name}"


def test_kill_minus_nine_at_random_moments(tmp_path: Path) -> None:
    """20 kills while streaming: parts readable, seq gap-free across restarts, no message
    duplicated or reordered, and each kill loses at most what arrived since the last
    group commit (plus what was still in flight on the socket)."""
    market = MarketConfig(DAY, symbols=3, activity=1.0, seed=11)  # ~70 s at RATE
    truth = [e["Content"] for e in SyntheticMarket(market).envelopes()]
    # The paced clock holds while no recorder is subscribed: the seconds each restart takes
    # (starting Python, recovering the journal) do not use up the day, however slow.
    pacing = Pacing(rate=RATE, hold=True)
    config = EmulatorConfig(credentials=Credentials(CONSUMER_ID, SECRET), pacing=pacing)
    root = tmp_path / "data"
    layout = Layout(root)
    rng = random.Random(20260206)
    journal = root / "journal" / f"date={DAY.isoformat()}"
    recorded_before: list[int] = []
    with EmulatorServer.synthetic(config, market) as server:
        env = _env(server)
        for _ in range(KILLS):
            recorded_before.append(persisted(layout, journal))
            proc = subprocess.Popen(
                _record(root, "--duration", "600"),
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            try:
                deadline = time.monotonic() + 60
                start_count = recorded_before[-1]
                while persisted(layout, journal) <= start_count:
                    assert proc.poll() is None, "recorder exited"
                    assert time.monotonic() < deadline, "recorder recorded nothing in 60 s"
                    time.sleep(0.02)
                time.sleep(rng.uniform(0.05, 0.6))
            finally:
                proc.send_signal(signal.SIGKILL)
                proc.wait()
        stats = server.stats()
        final = subprocess.run(
            _record(root, "--duration", "1"), env=env, capture_output=True, timeout=120, check=False
        )
        assert final.returncode == 0, final.stderr.decode()[-2000:]
    rows = raw_rows(layout)
    for table in ("raw", "trades", "quotes", "foreign", "index", "bars", "status"):
        for part in layout.parts(table, DAY):
            pq.read_table(part.path)
    seqs = [seq for seq, _, _ in rows]
    assert seqs == list(range(1, len(seqs) + 1)), "seq has a gap or a duplicate"
    assert _is_subsequence([content for _, _, content in rows], truth), "duplicated or reordered"
    sent = [c.sent for c in stats.connections]
    assert len(sent) >= KILLS
    per_run = [b - a for a, b in itertools.pairwise(recorded_before)]
    bound = RATE * (COMMIT_INTERVAL + 0.5)
    losses = [s - p for s, p in zip(sent, per_run, strict=False)]
    assert max(losses) <= bound, f"losses per kill {losses} exceed {bound}"
    runs = list((root / "connections" / f"date={DAY.isoformat()}").glob("run-*.parquet"))
    assert len(runs) == KILLS + 1
    print(f"losses per kill: {losses}")


def _is_subsequence(recorded: list[str], sent: list[str]) -> bool:
    """Every recorded message appears in what was sent, in the same order, each once."""
    remaining = iter(sent)
    return all(any(message == candidate for candidate in remaining) for message in recorded)


def _journal_records(directory: Path) -> int:
    from vnrec.storage.journal import list_segments, scan_segment

    return sum(len(scan_segment(p).records) for p in list_segments(directory))


def test_record_refuses_without_credentials(tmp_path: Path) -> None:
    """Missing credentials: one line naming what to set, exit status 1."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SSI_")}
    result = subprocess.run(
        _record(tmp_path / "data", "--duration", "1"),
        env=env,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr.strip().endswith(
        "SSI credentials missing: set SSI_CONSUMER_ID and SSI_CONSUMER_SECRET (environment or .env)"
    )


def test_track_summary_equals_replay_of_the_recording(tmp_path: Path) -> None:
    """`record --track` prints, at stop, exactly what `vnrec replay --format json` computes
    later from the same recording, alerts included, on a day whose connection drops once
    (a recording gap: the quote state is reset at the same seq live and replayed) and
    whose feed repeats messages after the reconnect."""
    market = MarketConfig(DAY, symbols=3, activity=0.1, seed=5)
    total = len(SyntheticMarket(market).envelopes())
    faults = Faults(drop_after=total // 3, lose_on_drop=5, repeat_on_reconnect=20)
    config = EmulatorConfig(
        credentials=Credentials(CONSUMER_ID, SECRET), faults=faults, pacing=Pacing(hold=True)
    )
    root = tmp_path / "data"
    layout = Layout(root)
    journal = root / "journal" / f"date={DAY.isoformat()}"
    stdout, stderr = tmp_path / "stdout", tmp_path / "stderr.log"
    # Stopped by SIGINT once the whole day is on disk, not after a fixed duration, which a
    # loaded machine can make too short.
    with (
        EmulatorServer.synthetic(config, market) as server,
        open(stdout, "wb") as out,
        open(stderr, "wb") as err,
    ):
        proc = subprocess.Popen(
            _record(root, "--duration", "600", "--track", "--format", "json"),
            env=_env(server),
            stdout=out,
            stderr=err,
        )
        try:
            assert server.wait_finished(120), "the day was not sent in 120 s"
            sent = sum(c.sent for c in server.stats().connections)
            deadline = time.monotonic() + 120
            while persisted(layout, journal) < sent:
                assert proc.poll() is None, stderr.read_text()[-2000:]
                assert time.monotonic() < deadline, "the day was not recorded in 120 s"
                time.sleep(0.05)
            interrupt(proc)
        finally:
            reap(proc)
    assert proc.returncode == 0, stderr.read_text()[-2000:]
    live_stdout = stdout.read_bytes()
    replayed = subprocess.run(
        [
            sys.executable,
            "-m",
            "vnrec.cli.main",
            "replay",
            "--date",
            DAY.isoformat(),
            "--data",
            str(root),
            "--format",
            "json",
        ],
        capture_output=True,
        timeout=120,
        check=True,
    )
    assert live_stdout == replayed.stdout
    summary = json.loads(live_stdout)
    assert summary["events"] == sent
    assert summary["stats"] and summary["index"] and summary["basis"] and summary["alerts"]
    gaps = recording_gaps(layout.recorded_state(DAY))
    assert len(gaps) == 1 and gaps[0].reason.startswith("disconnect")
    assert sum(row["duplicates"] for row in summary["stats"]) > 0  # the repeats


def test_track_after_a_kill_equals_replay_of_the_whole_day(tmp_path: Path) -> None:
    """`record --track` killed mid-day, then started again: the second run's live result
    covers the whole day (what the first run committed, what its journal held, and the
    rest), exactly as `vnrec replay` computes it."""
    market = MarketConfig(DAY, symbols=3, activity=0.1, seed=6)
    total = len(SyntheticMarket(market).envelopes())
    config = EmulatorConfig(
        credentials=Credentials(CONSUMER_ID, SECRET), pacing=Pacing(rate=1_000, hold=True)
    )
    root = tmp_path / "data"
    layout = Layout(root)
    journal = root / "journal" / f"date={DAY.isoformat()}"
    stdout, stderr = tmp_path / "stdout", tmp_path / "stderr.log"
    with EmulatorServer.synthetic(config, market) as server:
        first = subprocess.Popen(
            _record(root, "--duration", "600", "--track", "--format", "json"),
            env=_env(server),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 120
            while not layout.parts("raw", DAY) or persisted(layout, journal) < total // 3:
                assert first.poll() is None, "the first recorder exited"
                assert time.monotonic() < deadline, "the first recorder committed nothing"
                time.sleep(0.05)
        finally:
            first.send_signal(signal.SIGKILL)
            first.wait()
        kept = persisted(layout, journal)  # what the first run saved; the rest it sent is lost
        with open(stdout, "wb") as out, open(stderr, "wb") as err:
            second = subprocess.Popen(
                _record(root, "--duration", "600", "--track", "--format", "json"),
                env=_env(server),
                stdout=out,
                stderr=err,
            )
            try:
                assert server.wait_finished(120), "the day was not sent in 120 s"
                sent = sum(c.sent for c in server.stats().connections[1:])
                deadline = time.monotonic() + 120
                while persisted(layout, journal) < kept + sent:
                    assert second.poll() is None, stderr.read_text()[-2000:]
                    assert time.monotonic() < deadline, (
                        f"the rest was not recorded in 120 s: {persisted(layout, journal)}"
                        f" on disk, {kept} kept + {sent} sent; {server.stats()}"
                    )
                    time.sleep(0.05)
                interrupt(second)
            finally:
                reap(second)
    assert second.returncode == 0, stderr.read_text()[-2000:]
    replayed = subprocess.run(
        [sys.executable, "-m", "vnrec.cli.main", "replay", "--date", DAY.isoformat(),
         "--data", str(root), "--format", "json"],
        capture_output=True,
        timeout=120,
        check=True,
    )  # fmt: skip
    assert stdout.read_bytes() == replayed.stdout
    assert json.loads(replayed.stdout)["events"] == persisted(layout, journal)


def test_sigint_stops_cleanly(tmp_path: Path) -> None:
    """SIGINT: stop the stream, flush and convert everything, one summary line, exit 0, no
    journal left behind."""
    market = MarketConfig(DAY, symbols=3, activity=1.0, seed=8)
    config = EmulatorConfig(credentials=Credentials(CONSUMER_ID, SECRET), pacing=Pacing(rate=500))
    root = tmp_path / "data"
    layout = Layout(root)
    journal = root / "journal" / f"date={DAY.isoformat()}"
    log = tmp_path / "stderr.log"
    with EmulatorServer.synthetic(config, market) as server, open(log, "wb") as stderr:
        proc = subprocess.Popen(_record(root, "--duration", "600"), env=_env(server), stderr=stderr)
        try:
            deadline = time.monotonic() + 60
            while persisted(layout, journal) < 200:
                assert proc.poll() is None and time.monotonic() < deadline
                time.sleep(0.05)
            interrupt(proc)
        finally:
            reap(proc)
    text = log.read_text()
    assert proc.returncode == 0, text[-2000:]
    assert "SIGINT: stopping" in text
    summary = next(line for line in text.splitlines() if line.startswith("recorded "))
    assert "stopped: SIGINT" in summary
    rows = raw_rows(layout)
    assert len(rows) >= 200 and f"{DAY} seq 1-{len(rows)}" in summary
    assert _journal_records(journal) == 0
