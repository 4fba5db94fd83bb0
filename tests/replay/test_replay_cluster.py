"""Days as tasks on a real Dask cluster: `--workers N` starts a local one, `--cluster
ADDRESS` uses a running scheduler. The output of `replay` and of the range `stats`,
`candles` and `alerts` equals the sequential run byte for byte, a task that fails or loses
its worker is run again and reported by day, a day that fails for good is one line."""

from __future__ import annotations

import datetime as dt
import os
import socket
import subprocess
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from tests import processes
from tests.analytics.market import edge_case_day
from vnrec.storage.importer import import_envelopes
from vnrec.storage.layout import Layout

pytestmark = pytest.mark.slow

DAYS = [dt.date(2026, 3, day) for day in (2, 3, 4, 5, 6)]

TRACKERS = textwrap.dedent(
    '''
    import os
    from pathlib import Path

    import vnrec


    class Volume(vnrec.Tracker):
        """Shares traded by side, and the trades of at least 500 shares as rows."""

        def __init__(self) -> None:
            self.by_side = {"buy": 0, "sell": 0, "neutral": 0}
            self.rows = []

        def on_trade(self, trade):
            self.by_side[trade.side] += trade.volume
            if trade.volume >= 500:
                self.rows.append({"seq": trade.seq, "symbol": trade.symbol,
                                  "volume": trade.volume})

        def result(self):
            return self.rows


    class Mishap(vnrec.Tracker):
        """On its first attempt at `day`, raises or kills its worker process (`how`)."""

        def __init__(self, day: str = "", marker: str = "", how: str = "raise") -> None:
            self.day, self.marker, self.how = day, Path(marker), how

        def on_start(self, day):
            if day.isoformat() == self.day and not self.marker.exists():
                self.marker.write_text("tried")
                if self.how == "exit":
                    os._exit(3)
                raise RuntimeError("the first attempt fails")

        def result(self):
            return {"day": self.day}


    class Picky(vnrec.Tracker):
        def __init__(self, size: int = 1) -> None:
            if size < 1:
                raise ValueError("size must be at least 1")


    class Boom(vnrec.Tracker):
        def on_trade(self, trade):
            raise RuntimeError(f"no trade at seq {trade.seq}")
    '''
)


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    layout = Layout(tmp_path_factory.mktemp("cluster"))
    for seed, day in enumerate(DAYS, start=1):
        import_envelopes(layout, edge_case_day(day, seed, events=300))
    return layout.root


@pytest.fixture(scope="module")
def trackers(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("trackers") / "cluster_trackers.py"
    path.write_text(TRACKERS)
    return path


@pytest.fixture(scope="module")
def scheduler() -> Iterator[str]:
    """A running two-worker cluster that the command only connects to."""
    from distributed import LocalCluster

    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address="127.0.0.1:0"
    ) as cluster:
        yield str(cluster.scheduler_address)


def vnrec(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return processes.vnrec(
        *args, cwd=cwd, env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    )


def _range(root: Path, *extra: str) -> list[str]:
    return [
        "replay", "--from-date", "2026-03-02", "--to-date", "2026-03-06",
        "--data", str(root), "--format", "json", *extra,
    ]  # fmt: skip


def test_a_local_cluster_equals_the_sequential_run(
    root: Path, trackers: Path, tmp_path: Path
) -> None:
    volume = ("--tracker", f"{trackers}:Volume")
    one = vnrec(*_range(root, *volume, "--jobs", "1", "--out", str(tmp_path / "one")))
    dask = vnrec(*_range(root, *volume, "--workers", "2", "--out", str(tmp_path / "dask")))
    assert one.returncode == 0, one.stderr
    assert dask.returncode == 0, dask.stderr
    assert dask.stdout == one.stdout
    assert len(one.stdout.splitlines()) == len(DAYS)
    written = sorted(p.relative_to(tmp_path / "one") for p in (tmp_path / "one").rglob("*.*"))
    assert len(written) >= 5 * len(DAYS)
    for relative in written:
        assert (tmp_path / "dask" / relative).read_bytes() == (
            tmp_path / "one" / relative
        ).read_bytes(), relative
    assert "replay: 5 days" in dask.stderr and "on a local cluster of 2 workers" in dask.stderr
    assert "distributed." not in dask.stderr  # Dask's own narration stays quiet


def test_a_failed_attempt_and_a_dead_worker_are_run_again_and_reported(
    root: Path, trackers: Path, scheduler: str, tmp_path: Path
) -> None:
    """On a running scheduler: 03-03 raises once, 03-05 kills its worker once; both days
    run again and the output is the sequential run's. The tracker file and --out are
    given relative to the command's directory, which is not the workers'."""
    mishaps = (
        "--tracker", f"{trackers.name}:Mishap", "--tracker", f"{trackers.name}:Volume",
        "--param", 'Mishap.day="2026-03-03"', "--param", f'marker="{tmp_path / "raised"}"',
    )  # fmt: skip
    crash = (
        "--tracker", f"{trackers}:Mishap", "--param", 'day="2026-03-05"',
        "--param", f'marker="{tmp_path / "exited"}"', "--param", 'how="exit"',
    )  # fmt: skip
    out = trackers.parent / "out"
    raised = vnrec(
        *_range(root, *mishaps, "--cluster", scheduler, "--out", out.name), cwd=trackers.parent
    )
    assert raised.returncode == 0, raised.stderr
    assert "replay 2026-03-03: an attempt failed on tcp://" in raised.stderr
    assert "RuntimeError: the first attempt fails" in raised.stderr
    assert f"on the cluster at {scheduler}" in raised.stderr
    assert sorted(p.name for p in out.glob("date=*")) == [f"date={day}" for day in DAYS]
    exited = vnrec(*_range(root, *crash, "--cluster", scheduler))
    assert exited.returncode == 0, exited.stderr
    assert "replay 2026-03-05: its worker died before it was done (1 time)" in exited.stderr

    # With the markers in place nothing fails: the reference runs.
    assert (
        vnrec(*_range(root, *mishaps, "--jobs", "1"), cwd=trackers.parent).stdout == raised.stdout
    )
    assert vnrec(*_range(root, *crash, "--jobs", "1")).stdout == exited.stdout


def test_a_day_that_always_fails_is_one_line(root: Path, trackers: Path) -> None:
    result = vnrec(*_range(root, "--tracker", f"{trackers}:Boom", "--workers", "2"))
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last == (
        "vnrec: error: replay 2026-03-02 failed on a local cluster of 2 workers after 3"
        " attempts: tracker Boom failed on 2026-03-02 at seq 1: RuntimeError: no trade at"
        " seq 1"
    ), result.stderr
    assert "Traceback" not in result.stderr


def test_a_day_that_cannot_succeed_is_not_retried(
    root: Path, trackers: Path, scheduler: str
) -> None:
    """Bad input meets every attempt alike: one attempt, its error, no retries."""
    picky = ("--tracker", f"{trackers}:Picky", "--param", "size=0")
    result = vnrec(*_range(root, *picky, "--cluster", scheduler))
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert lines[-1] == (
        f"vnrec: error: replay 2026-03-02 failed on the cluster at {scheduler}: --tracker"
        f" {trackers}:Picky: constructing Picky failed: ValueError: size must be at least 1"
    ), result.stderr
    assert len(lines) == 1, result.stderr


def test_a_scheduler_without_workers_is_one_line(root: Path) -> None:
    from distributed import LocalCluster

    with LocalCluster(n_workers=0, processes=True, dashboard_address="127.0.0.1:0") as cluster:
        result = vnrec(*_range(root, "--cluster", str(cluster.scheduler_address)))
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"vnrec: error: --cluster {cluster.scheduler_address}: the scheduler has no worker"
        " (none joined within 10 s)"
    ], result.stderr


def test_a_scheduler_address_that_is_no_scheduler_is_one_line(root: Path) -> None:
    """Something listening that does not speak Dask: refused before the client connects
    (which would wait forever on a web server, or fail with an internal error)."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]

        def answer_garbage() -> None:
            connection, _ = listener.accept()
            with connection:
                connection.sendall(b"\xff" * 64)
                connection.recv(1)

        thread = threading.Thread(target=answer_garbage, daemon=True)
        thread.start()
        result = vnrec(*_range(root, "--cluster", f"127.0.0.1:{port}"))
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(
        f"vnrec: error: --cluster tcp://127.0.0.1:{port}: not a Dask scheduler ("
    ), result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--cluster", "tcp://127.0.0.1:8786", "--workers", "2"), "not both"),
        (("--cluster", "ucx://127.0.0.1:8786"), "not a scheduler address (tcp://host:port"),
        (("--cluster", "127.0.0.1:99999"), "--cluster 127.0.0.1:99999: not a scheduler"),
        (("--cluster", "user@127.0.0.1:8786"), "not a scheduler address"),
        (("--cluster", "127.0.0.1:\uff18\uff17\uff18\uff16"), "not a scheduler address"),
        (("--workers", "2", "--jobs", "2"), "with a cluster, drop it"),
        (("--cluster", "no-port-here"), "--cluster no-port-here: not a scheduler address"),
        (("--workers", "0"), "--workers"),
        (("--workers", "2", "--speed", "60"), "--speed paces one day in this process"),
    ],
)
def test_cluster_mistakes_are_one_line(root: Path, args: tuple[str, ...], message: str) -> None:
    result = vnrec(*_range(root, *args))
    assert result.returncode != 0
    assert message in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "report",
    [("stats",), ("candles", "--interval", "15m"), ("candles", "--index"), ("alerts",)],
)
def test_range_reports_on_a_cluster_equal_the_days_one_by_one(
    root: Path, scheduler: str, report: tuple[str, ...]
) -> None:
    """`stats`, `candles` and `alerts` over a range: each day's rows, with their date, in
    date order; on a cluster the same bytes as in this process."""
    span = ("--from-date", "2026-03-02", "--to-date", "2026-03-06")
    common = (*report, "--data", str(root), "--format", "json")
    here = vnrec(*common, *span)
    there = vnrec(*common, *span, "--cluster", scheduler)
    assert here.returncode == 0, here.stderr
    assert there.returncode == 0, there.stderr
    assert there.stdout == here.stdout
    assert f"{report[0]}: 5 days in " in there.stderr and scheduler in there.stderr
    expected = []
    for day in DAYS:
        one = vnrec(*common, "--date", day.isoformat())
        assert one.returncode == 0, one.stderr
        expected += [{"date": day.isoformat(), **row} for row in orjson.loads(one.stdout)]
    assert orjson.loads(here.stdout) == expected
    assert expected, "the days have rows to compare"
