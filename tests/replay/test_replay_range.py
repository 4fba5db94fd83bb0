"""`vnrec replay` over a range of days with the user's trackers, as a user runs it: a
tracker in a file with parameters, days at once equal to days one by one byte for byte,
`--out` rows as Parquet, and every mistake a one-line error."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import orjson
import psutil
import pyarrow.parquet as pq
import pytest

from tests import processes
from tests.analytics.market import edge_case_day
from vnrec.storage.importer import import_envelopes
from vnrec.storage.layout import Layout

DAYS = [dt.date(2026, 3, day) for day in (2, 3, 4, 5, 6)]

TRACKERS = textwrap.dedent(
    '''
    import vnrec


    class BigTrades(vnrec.Tracker):
        """Counted trades of at least `threshold` shares."""

        def __init__(self, threshold: int = 1000, side: str = "any") -> None:
            self.threshold = threshold
            self.side = side
            self.rows = []

        def on_start(self, day):
            self.day = day.isoformat()

        def on_trade(self, trade):
            if trade.volume >= self.threshold and self.side in ("any", trade.side):
                self.rows.append({"day": self.day, "seq": trade.seq, "symbol": trade.symbol,
                                  "volume": trade.volume, "side": trade.side})

        def result(self):
            return self.rows


    class Counter:
        """Not a vnrec.Tracker subclass: any object with the methods will do."""

        name = "counts"

        def __init__(self) -> None:
            self.events = 0

        def on_event(self, event) -> None:
            self.events += 1

        def result(self):
            return {"events": self.events}


    class Stuck(vnrec.Tracker):
        """Says where it runs (a file named by its pid in `signals`), then never ends."""

        def __init__(self, signals: str = "") -> None:
            self.signals = signals

        def on_start(self, day):
            import os, pathlib, threading

            pathlib.Path(self.signals, str(os.getpid())).touch()
            threading.Event().wait()


    class Setty(vnrec.Tracker):
        def result(self):
            return {"symbols": {"AAA", "BBB"}}


    class Boom(vnrec.Tracker):
        def __init__(self) -> None:
            self.trades = 0

        def on_trade(self, trade):
            self.trades += 1
            if self.trades == 3:
                raise RuntimeError(f"third trade at seq {trade.seq}")
    '''
)


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    layout = Layout(tmp_path_factory.mktemp("range"))
    for seed, day in enumerate(DAYS, start=1):
        import_envelopes(layout, edge_case_day(day, seed, events=300))
    return layout.root


@pytest.fixture(scope="module")
def tracker_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("trackers") / "my_trackers.py"
    path.write_text(TRACKERS)
    return path


ENV = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}


def vnrec(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return processes.vnrec(*args, cwd=cwd, env=ENV)


def _range(root: Path, *extra: str) -> list[str]:
    return [
        "replay", "--from-date", "2026-03-02", "--to-date", "2026-03-06",
        "--data", str(root), "--format", "json", *extra,
    ]  # fmt: skip


def test_days_at_once_equal_days_one_by_one(root: Path, tracker_file: Path, tmp_path: Path) -> None:
    """One JSON object per line per recorded day, in date order, with the trackers'
    results; two workers print the same bytes and write the same files as one."""
    trackers = ("--tracker", f"{tracker_file}:BigTrades", "--param", "threshold=500",
                "--tracker", f"{tracker_file}:Counter")  # fmt: skip
    one = vnrec(*_range(root, *trackers, "--jobs", "1", "--out", str(tmp_path / "one")))
    two = vnrec(*_range(root, *trackers, "--jobs", "2", "--out", str(tmp_path / "two")))
    assert one.returncode == 0, one.stderr
    assert two.returncode == 0, two.stderr
    assert one.stdout == two.stdout
    lines = one.stdout.splitlines()
    objects = [orjson.loads(line) for line in lines]
    assert [o["date"] for o in objects] == [d.isoformat() for d in DAYS]
    for obj in objects:
        big = obj["trackers"]["BigTrades"]
        assert big and all(row["volume"] >= 500 for row in big)
        assert all(row["day"] == obj["date"] for row in big)
        assert obj["trackers"]["counts"]["events"] > obj["events"] // 2
        assert list(obj) == [
            "date", "events", "stats", "foreign", "index", "basis", "alerts", "trackers",
        ]  # fmt: skip
    for day, obj in zip(DAYS, objects, strict=True):
        files = [tmp_path / run / f"date={day}" / "trackers" / "BigTrades.parquet"
                 for run in ("one", "two")]  # fmt: skip
        assert files[0].read_bytes() == files[1].read_bytes()
        assert pq.read_table(files[0]).to_pylist() == obj["trackers"]["BigTrades"]
        # A result that is no list of rows is in the JSON only.
        assert not (tmp_path / "one" / f"date={day}" / "trackers" / "counts.parquet").exists()
    assert "5 days" in two.stderr and "(2 at once)" in two.stderr


def test_out_holds_this_runs_tracker_rows_only(
    root: Path, tracker_file: Path, tmp_path: Path
) -> None:
    """A day replayed again without a tracker no longer shows that tracker's rows from the
    earlier run, as if they were this run's; a tracker given again writes its rows again."""
    day = ("replay", "--date", DAYS[0].isoformat(), "--data", str(root), "--format", "json",
           "--out", str(tmp_path / "out"))  # fmt: skip
    rows = tmp_path / "out" / f"date={DAYS[0]}" / "trackers" / "BigTrades.parquet"
    tracker = ("--tracker", f"{tracker_file}:BigTrades", "--param", "threshold=500")
    assert vnrec(*day, *tracker).returncode == 0 and rows.exists()
    again = vnrec(*day)
    assert again.returncode == 0, again.stderr
    assert not rows.exists()
    assert (tmp_path / "out" / f"date={DAYS[0]}" / "trades.parquet").exists()
    assert vnrec(*day, *tracker).returncode == 0 and rows.exists()


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupt_stops_the_days_running_in_workers(
    root: Path, tracker_file: Path, tmp_path: Path, stop: signal.Signals
) -> None:
    """SIGINT or SIGTERM to vnrec alone (as a supervisor sends it) while two days hang in
    worker processes: it exits 130 at once, the workers are gone, and --out holds no
    half-written file. (polars' own SIGINT handler would have delayed it until a day
    ended: never.)"""
    signals = tmp_path / "signals"
    signals.mkdir()
    (tmp_path / "my_trackers.py").write_text(TRACKERS)
    args = _range(root, "--jobs", "2", "--tracker", "my_trackers.py:Stuck",
                  "--param", f"signals={signals}", "--out", "out")  # fmt: skip
    process = subprocess.Popen(
        [sys.executable, "-m", "vnrec.cli.main", *args],
        cwd=tmp_path,
        env=ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while len(list(signals.iterdir())) < 2 and process.poll() is None:
            assert time.monotonic() < deadline, "the days never started"
            time.sleep(0.05)
        assert process.poll() is None, process.communicate()
        workers = [int(path.name) for path in signals.iterdir()]
        process.send_signal(stop)
        _, stderr = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    assert process.returncode == 130, stderr
    assert stderr.strip().splitlines()[-1] == "vnrec: interrupted", stderr
    assert "Traceback" not in stderr
    assert all(_gone(pid) for pid in workers)
    assert [p.name for p in (tmp_path / "out").rglob("*") if p.is_file()] == []


def test_a_second_replay_of_the_same_out_day_fails_at_once(
    root: Path, tracker_file: Path, tmp_path: Path
) -> None:
    """Two replays writing one `--out` day: the second says so in one line and exits 1,
    leaving the first's files alone; once the first is killed (-9), the day is free."""
    signals = tmp_path / "signals"
    signals.mkdir()
    out = tmp_path / "out"
    day = ("replay", "--date", DAYS[0].isoformat(), "--data", str(root), "--format", "json",
           "--out", str(out))  # fmt: skip
    first = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "vnrec.cli.main",
            *day,
            "--tracker",
            f"{tracker_file}:Stuck",
            "--param",
            f"signals={signals}",
        ],
        env=ENV,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while not any(signals.iterdir()) and first.poll() is None:
            assert time.monotonic() < deadline, "the first replay never started its day"
            time.sleep(0.05)
        assert first.poll() is None
        second = vnrec(*day)
        assert second.returncode == 1
        assert second.stderr == (
            f"vnrec: error: {out / f'date={DAYS[0]}'} is being written by another vnrec"
            " replay; run one replay per output directory\n"
        )
    finally:
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
    third = vnrec(*day)
    assert third.returncode == 0, third.stderr
    assert (out / f"date={DAYS[0]}" / "trades.parquet").exists()


def test_a_scoped_parameter_and_a_module_tracker(root: Path, tracker_file: Path) -> None:
    """`Class.key=value` reaches that class only; `module:Class` is found from the working
    directory; a single day is one indented object."""
    result = vnrec(
        "replay", "--date", "2026-03-04", "--data", str(root), "--format", "json",
        "--tracker", "my_trackers:BigTrades", "--param", "BigTrades.side=\"buy\"",
        "--param", "threshold=1", cwd=tracker_file.parent,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    rows = orjson.loads(result.stdout)["trackers"]["BigTrades"]
    assert rows and {row["side"] for row in rows} == {"buy"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--tracker", "{file}:Boom"), "tracker Boom failed on 2026-03-02 at seq "),
        (("--tracker", "{file}:Nope"), "my_trackers.py has no Nope"),
        (("--tracker", "missing.py:X"), "--tracker missing.py:X: no such file missing.py"),
        (("--tracker", "{file}"), "expected FILE.py:Class or package.module:Class"),
        (("--tracker", "{file}:BigTrades", "--param", "limit=3"),
         "--param limit: no --tracker takes a parameter 'limit'"),
        (("--tracker", "{file}:BigTrades", "--param", "BigTrades.nope=1"),
         "--param BigTrades.nope: BigTrades takes no parameter 'nope'"),
        (("--tracker", "{file}:Counter", "--tracker", "{file}:Counter"),
         "two trackers are named 'counts'"),
        (("--tracker", "{file}:Setty"), "a result JSON cannot hold: "),
        (("--out", "{file}"), "my_trackers.py: not a directory"),
        (("--tracker", "{exits}:X"), "importing {exits} failed: SystemExit: 3"),
    ],
)  # fmt: skip
def test_mistakes_are_one_line(
    root: Path, tracker_file: Path, args: tuple[str, ...], message: str
) -> None:
    exits = tracker_file.parent / "exits.py"
    exits.write_text("raise SystemExit(3)\n")  # a script's habit, in a tracker file
    given = [a.format(file=tracker_file, exits=exits) for a in args]
    result = vnrec(*_range(root, *given, "--jobs", "2"))
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    message = message.format(exits=exits)
    assert last.startswith("vnrec: error: ") and message in last, result.stderr
    assert "Traceback" not in result.stderr
    if "Boom" in message:
        assert "RuntimeError: third trade at seq" in last


def test_a_range_without_recorded_days_and_bad_ranges(root: Path) -> None:
    for args, message in (
        (("--from-date", "2027-01-04", "--to-date", "2027-01-08"), "no recorded day from"),
        (("--from-date", "2026-03-06", "--to-date", "2026-03-02"), "is before --from-date"),
        (("--from-date", "2026-03-02"), "give --date D, or a range"),
        (("--date", "2026-03-02", "--to-date", "2026-03-06"), "not both"),
    ):
        result = vnrec("replay", "--data", str(root), *args)
        assert result.returncode == 1
        assert message in result.stderr.strip().splitlines()[-1], result.stderr
