"""Storage integrity end to end, as a user meets it with the real CLI (and the real recorder
against the emulator): each test is one way a recorded day used to be lost, altered or
misread (issue 10's defects 1-6) that must now be impossible."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import orjson
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from tests.processes import interrupt, reap, vnrec
from vnrec import testing as f
from vnrec.emulator.auth import Credentials
from vnrec.emulator.config import EmulatorConfig, Pacing
from vnrec.emulator.market import MarketConfig, SyntheticMarket
from vnrec.emulator.server import EmulatorServer
from vnrec.storage.journal import journal_dir, list_segments, scan_segment
from vnrec.storage.layout import Layout

pytestmark = pytest.mark.slow

DAY = dt.date(2026, 2, 6)
WIRE_DAY = "06/02/2026"
CONSUMER_ID = "vnrec-test-consumer"
SECRET = "s3cr3t-Consumer-Key-0123456789"


def _record_command(root: Path, *extra: str) -> list[str]:
    return [
        sys.executable, "-m", "vnrec.cli.main", "record", "--force", "--data", str(root),
        "--commit-interval", "0.2", "--stall-timeout", "5", *extra,
    ]  # fmt: skip


def _env(server: EmulatorServer) -> dict[str, str]:
    return {
        **os.environ,
        "SSI_CONSUMER_ID": CONSUMER_ID,
        "SSI_CONSUMER_SECRET": SECRET,
        "SSI_URL": server.url,
        "SSI_STREAM_URL": server.stream_url,
        "PYTHONUNBUFFERED": "1",
    }


def _emulator(rate: float) -> EmulatorServer:
    market = MarketConfig(DAY, symbols=3, activity=1.0, seed=11)
    config = EmulatorConfig(credentials=Credentials(CONSUMER_ID, SECRET), pacing=Pacing(rate=rate))
    return EmulatorServer.synthetic(config, market)


def _wait(condition: Callable[[], bool], proc: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + 120
    while not condition():
        assert proc.poll() is None, f"the process exited while waiting for {what}"
        assert time.monotonic() < deadline, f"{what} did not happen in 120 s"
        time.sleep(0.02)


def _journaled(root: Path) -> list[tuple[int, str]]:
    return [
        (record.seq, record.content)
        for segment in list_segments(journal_dir(root, DAY))
        for record in scan_segment(segment).records
    ]


def _raw(layout: Layout) -> list[tuple[int, str]]:
    rows: list[tuple[int, str]] = []
    for part in layout.parts("raw", DAY):
        data = pq.read_table(part.path, columns=["seq", "content"]).to_pydict()
        rows.extend(zip(data["seq"], data["content"], strict=True))
    return rows


def _verify_ok(root: Path) -> dict[str, str]:
    result = vnrec("verify", "--date", DAY.isoformat(), "--data", str(root), "-f", "json")
    assert result.returncode == 0, result.stdout + result.stderr
    return {c["check"]: c["status"] for c in orjson.loads(result.stdout)["checks"]}


def _envelopes(count: int, first_total: int = 0) -> list[f.Envelope]:
    return [
        f.trade("ZZZ", 10_000.0, 100.0, float(first_total + 100 * (i + 1)), date=WIRE_DAY)
        for i in range(count)
    ]


# -- 1: an import after a killed recorder must not take the journal's seqs ----------------


def test_import_after_a_killed_recorder_keeps_every_journaled_message(tmp_path: Path) -> None:
    """record, kill -9, import --append into the same day, record again: every message the
    recorder journaled is stored with its seq, the import follows it, seq is gap-free."""
    root = tmp_path / "data"
    layout = Layout(root)
    extra = tmp_path / "extra.jsonl"
    extra.write_bytes(f.to_jsonl(_envelopes(300)))
    with _emulator(rate=1_000) as server:
        env = _env(server)
        proc = subprocess.Popen(
            _record_command(root, "--duration", "120"),
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            _wait(lambda: len(_journaled(root)) >= 1_500, proc, "1,500 journaled messages")
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        journaled = _journaled(root)
        committed = _raw(layout)
        recorded = sorted(set(committed) | set(journaled))
        assert [seq for seq, _ in recorded] == list(range(1, len(recorded) + 1))

        imported = vnrec("import", str(extra), "--append", "--data", str(root))
        assert imported.returncode == 0, imported.stderr
        last = len(recorded)
        assert f"imported 300 envelopes as seq {last + 1}-{last + 300}" in imported.stderr
        again = vnrec(*_record_command(root, "--duration", "2")[3:], env=env)
        assert again.returncode == 0, again.stderr
    rows = _raw(layout)
    assert [seq for seq, _ in rows] == list(range(1, len(rows) + 1))
    assert rows[:last] == recorded, "a journaled message was lost or changed"
    assert [content for _, content in rows[last : last + 300]] == [
        e["Content"] for e in _envelopes(300)
    ]
    assert not list_segments(journal_dir(root, DAY))
    assert _verify_ok(root)["journal"] == "ok"


# -- 2: `vnrec query` is read-only -------------------------------------------------------


@pytest.fixture
def imported_day(tmp_path: Path) -> Layout:
    source = tmp_path / "day.jsonl"
    source.write_bytes(
        f.to_jsonl(
            [
                *_envelopes(50),
                f.trade("VNM", 60_000.0, 100.0, 100.0, date=WIRE_DAY),
                f.quote("VNM", [(59_900.0, 10.0)], [(60_000.0, 10.0)], date=WIRE_DAY),
            ]
        )
    )
    root = tmp_path / "data"
    assert vnrec("import", str(source), "--data", str(root)).returncode == 0
    return Layout(root)


def _digests(layout: Layout) -> dict[str, str]:
    return {
        str(path.relative_to(layout.root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(layout.root.rglob("*"))
        if path.is_file() and ".locks" not in path.parts
    }


def test_query_cannot_overwrite_attach_or_read_outside(imported_day: Layout) -> None:
    """COPY over a stored part, ATTACH, EXPORT and reading /etc/passwd are each one line,
    exit 1, and the data root is byte for byte what it was; export stays possible."""
    layout = imported_day
    part = layout.parts("trades", DAY)[0].path
    before = _digests(layout)
    for sql in (
        f"COPY (SELECT * FROM trades WHERE symbol='VNM') TO '{part}' (FORMAT parquet)",
        f"ATTACH '{layout.root}/other.duckdb' AS other",
        f"EXPORT DATABASE '{layout.root}/export'",
        "SELECT * FROM read_csv('/etc/passwd')",
        f"SELECT count(*) FROM read_parquet('{part}'); DROP VIEW trades",
    ):
        result = vnrec("query", sql, "--data", str(layout.root))
        assert result.returncode == 1, sql
        assert result.stderr.startswith("vnrec: error: "), result.stderr
        assert "Traceback" not in result.stderr and result.stdout == ""
    assert _digests(layout) == before
    exported = layout.root.parent / "vnm.parquet"
    result = vnrec(
        "query", "SELECT * FROM trades WHERE symbol = 'VNM'", "--data", str(layout.root),
        "--format", "parquet", "--output", str(exported),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert pq.read_table(exported).num_rows == 1
    assert _verify_ok(layout.root)["parts"] == "ok"


# -- 3: verify sees a deleted part and flipped bytes -------------------------------------


def test_verify_fails_on_a_deleted_part_and_on_altered_bytes(imported_day: Layout) -> None:
    """Each kind of damage, even one every Parquet reader decodes without complaint (a byte
    changed in the footer, a part replaced by other valid rows): exit 1, the part named."""
    layout = imported_day
    trades = layout.parts("trades", DAY)[0].path
    quotes = layout.parts("quotes", DAY)[0].path
    raw = layout.parts("raw", DAY)[0].path
    data = trades.read_bytes()
    at = data.index(b"parquet-cpp-arrow")
    trades.write_bytes(data[:at] + b"Parquet" + data[at + 7 :])  # same size, still decodes
    assert pq.read_table(trades).num_rows == 51
    rows = pq.read_table(raw)
    forged = pc.replace_substring(rows["content"], "10000", "10100")  # other prices, valid
    pq.write_table(rows.set_column(3, "content", forged), raw)
    quotes.unlink()
    result = vnrec("verify", "--date", DAY.isoformat(), "--data", str(layout.root), "-f", "json")
    assert result.returncode == 1
    (parts,) = [c for c in orjson.loads(result.stdout)["checks"] if c["check"] == "parts"]
    problems = {(d["table"], d["problem"].split(" (")[0]) for d in parts["details"]}
    assert ("trades", "SHA-256 differs from its commit record") in problems
    assert ("quotes", "missing") in problems
    assert any(table == "raw" and "its commit record says" in p for table, p in problems)
    stats = vnrec("stats", "--date", DAY.isoformat(), "--data", str(layout.root))
    assert stats.returncode == 1
    assert stats.stderr.startswith("vnrec: error: committed part ")
    assert "run `vnrec verify`" in stats.stderr and stats.stderr.count("\n") == 1


# -- 4: readers never see an import that did not commit -----------------------------------


def test_readers_ignore_a_killed_import(tmp_path: Path, imported_day: Layout) -> None:
    """kill -9 of an `import --append` that has written parts: stats, replay and ls show
    the committed day exactly as before."""
    layout = imported_day
    root = str(layout.root)
    before = {
        command: vnrec(command, "--date", DAY.isoformat(), "--data", root, "-f", "json").stdout
        for command in ("stats", "replay")
    }
    listing = vnrec("ls", "--data", root, "-f", "json").stdout
    big = tmp_path / "big.jsonl"
    big.write_bytes(f.to_jsonl(_envelopes(20_000, first_total=10_000)))
    proc = subprocess.Popen(
        [sys.executable, "-m", "vnrec.cli.main", "import", str(big), "--append", "--data", root,
         "--batch-lines", "500"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        _wait(lambda: len(layout.disk_parts(DAY).get("raw", [])) >= 3, proc, "import parts")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert len(layout.disk_parts(DAY)["raw"]) >= 3  # uncommitted parts are on disk
    for command, output in before.items():
        now = vnrec(command, "--date", DAY.isoformat(), "--data", root, "-f", "json")
        assert now.returncode == 0 and now.stdout == output, command
    assert vnrec("ls", "--data", root, "-f", "json").stdout == listing


# -- 5: an import is one transaction ------------------------------------------------------


def test_a_failed_import_leaves_the_history_as_it_was(tmp_path: Path) -> None:
    """A file whose second day already holds data is refused as a whole: its first day gets
    nothing; with --append the same command then stores each line exactly once."""
    root = tmp_path / "data"
    later = tmp_path / "later.jsonl"
    later.write_bytes(f.to_jsonl(_envelopes(5)))
    assert vnrec("import", str(later), "--data", str(root)).returncode == 0
    both = tmp_path / "both.jsonl"
    earlier = [
        f.trade("AAA", 10.0, 100.0, 100.0 * (i + 1), date="05/02/2026") for i in range(1_000)
    ]
    both.write_bytes(f.to_jsonl([*earlier, *_envelopes(3, first_total=500)]))
    failed = vnrec("import", str(both), "--data", str(root), "--batch-lines", "100")
    assert failed.returncode == 1
    assert failed.stderr == (
        "vnrec: error: 2026-02-06 already holds seq 1-5; importing again would duplicate it."
        " Pass --append to add these lines after them.\n"
    )
    layout = Layout(root)
    assert layout.days() == [DAY]
    assert not layout.disk_parts(dt.date(2026, 2, 5))
    done = vnrec("import", str(both), "--data", str(root), "--append", "--batch-lines", "100")
    assert done.returncode == 0, done.stderr
    assert layout.last_seq(dt.date(2026, 2, 5)) == 1_000 and layout.last_seq(DAY) == 8
    again = vnrec("import", str(both), "--data", str(root), "--append")
    assert again.returncode == 1 and "was already imported" in again.stderr
    assert layout.last_seq(dt.date(2026, 2, 5)) == 1_000


# -- 6: one recorder per data root --------------------------------------------------------


def test_a_second_recorder_on_the_same_root_fails_fast(tmp_path: Path) -> None:
    """While one recorder runs, a second one on the same root exits 1 in one line and
    touches none of its files; the first stops cleanly with every connection event."""
    root = tmp_path / "data"
    with _emulator(rate=500) as server:
        env = _env(server)
        log = tmp_path / "first.log"
        with open(log, "wb") as stderr:
            first = subprocess.Popen(
                _record_command(root, "--duration", "120"), env=env, stderr=stderr
            )
        try:
            _wait(lambda: len(_journaled(root)) >= 200, first, "the first recorder")
            _second_is_refused(root, env)
            assert interrupt(first) == 0, log.read_text()[-2000:]
        finally:
            reap(first)
    events = _connection_events(root, DAY)
    assert events[0] == "start" and events[-1] == "stop" and "subscribe" in events
    rows = _raw(Layout(root))
    assert [seq for seq, _ in rows] == list(range(1, len(rows) + 1))
    market = MarketConfig(DAY, symbols=3, activity=1.0, seed=11)
    truth = [e["Content"] for e in SyntheticMarket(market).envelopes()]
    assert [content for _, content in rows] == truth[: len(rows)]


def test_a_second_recorder_leaves_a_connecting_first_one_alone(tmp_path: Path) -> None:
    """The first recorder has no day open yet (it is still trying to connect): the second
    one is refused all the same, and the first's connection log survives to its stop."""
    root = tmp_path / "data"
    # Bound and never listening, for the whole test: connections are refused, and no other
    # process (a parallel test's server) can take the port meanwhile.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}/"
        env = {
            **os.environ,
            "SSI_CONSUMER_ID": CONSUMER_ID,
            "SSI_CONSUMER_SECRET": SECRET,
            "SSI_URL": closed,
            "SSI_STREAM_URL": closed,
        }
        log = tmp_path / "first.log"
        with open(log, "wb") as stderr:
            first = subprocess.Popen(
                _record_command(root, "--duration", "120"), env=env, stderr=stderr
            )
        try:
            pending = root / "connections" / "pending"
            _wait(lambda: b"connect_failed" in log.read_bytes(), first, "a failed connect")
            assert len(list(pending.iterdir())) == 1
            _second_is_refused(root, env)
            interrupt(first)
        finally:
            reap(first)
    assert b"Traceback" not in log.read_bytes(), log.read_text()[-2000:]
    (day_dir,) = (root / "connections").glob("date=*")
    events = _connection_events(root, dt.date.fromisoformat(day_dir.name[5:]))
    assert events[0] == "start" and "connect_failed" in events and events[-1] == "stop"


def _second_is_refused(root: Path, env: dict[str, str]) -> None:
    pending = root / "connections" / "pending"
    before = {path: path.read_bytes() for path in pending.iterdir()}
    assert before
    second = vnrec(*_record_command(root, "--duration", "30")[3:], env=env)
    assert second.returncode == 1
    assert second.stderr.splitlines()[-1].startswith(
        f"vnrec: error: another `vnrec record` is recording into {root};"
        " one recorder per data root (pid "
    )
    assert "Traceback" not in second.stderr
    after = {path: path.read_bytes() for path in pending.iterdir()}
    assert after.keys() == before.keys()  # the first run's log is still there, only grown
    assert all(after[path].startswith(data) for path, data in before.items())


def _connection_events(root: Path, day: dt.date) -> list[str]:
    (run,) = list((root / "connections" / f"date={day.isoformat()}").glob("run-*.parquet"))
    events: list[str] = pq.read_table(run).column("event").to_pylist()
    assert not list((root / "connections" / "pending").iterdir())
    return events


def test_volumes_past_int64_are_an_error_never_a_wrapped_sum(tmp_path: Path) -> None:
    """Three trades of 9e18 shares each (each one fits in int64, their sum does not):
    every command that sums them says so in one line instead of printing a number that
    wrapped around (the replay printed 8,553,255,926,290,448,384 with exit 0)."""
    trades = [
        f.trade("AAA", 10_000.0, 9e18, 0.0, time=f"09:30:0{i}", date=WIRE_DAY) for i in range(3)
    ]
    (tmp_path / "big.jsonl").write_bytes(f.to_jsonl(trades))
    data = str(tmp_path / "data")
    assert vnrec("import", str(tmp_path / "big.jsonl"), "--data", data).returncode == 0
    day = DAY.isoformat()
    for command in (("replay", "-f", "json"), ("stats", "-f", "json"), ("verify",)):
        result = vnrec(*command, "--date", day, "--data", data)
        lines = result.stderr.strip().splitlines()
        assert result.returncode == 1 and len(lines) == 1, (command, result.stderr)
        assert lines[0].startswith("vnrec: error: "), lines
        assert "int64" in lines[0] or "INT64" in lines[0], lines
        assert "8553255926290448384" not in result.stdout


@pytest.mark.parametrize("case", ["exactly_the_limit", "small_volumes_after_a_huge_one"])
def test_the_int64_volume_limit_is_exact(tmp_path: Path, case: str) -> None:
    """A sum of exactly 2**63 - 1 is a number (63 trades of 2**k); a huge trade followed by
    many small ones that a float sum would lose past the limit is an error."""
    if case == "exactly_the_limit":
        volumes = [float(2**k) for k in range(63)]
    else:
        volumes = [float(2**63 - 2**21)] + [511.0] * 5000
    clock = [f"09:{30 + i // 3600 % 30:02d}:{i // 60 % 60:02d}" for i in range(len(volumes))]
    trades = [
        f.trade("AAA", 10_000.0, volume, 0.0, time=clock[i], date=WIRE_DAY)
        for i, volume in enumerate(volumes)
    ]
    (tmp_path / "big.jsonl").write_bytes(f.to_jsonl(trades))
    data = str(tmp_path / "data")
    assert vnrec("import", str(tmp_path / "big.jsonl"), "--data", data).returncode == 0
    result = vnrec("replay", "-f", "json", "--date", DAY.isoformat(), "--data", data)
    if case == "exactly_the_limit":
        assert result.returncode == 0, result.stderr
        assert orjson.loads(result.stdout)["stats"][0]["volume"] == 2**63 - 1
    else:
        assert result.returncode == 1
        assert "passes 9,223,372,036,854,775,807 (int64)" in result.stderr.splitlines()[-1]
