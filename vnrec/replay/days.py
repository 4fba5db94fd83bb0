"""Replaying many days: each day is one `DayJob`, independent of every other (state never
crosses days, SPEC.md 7.2), run in this process or in worker processes; results come back
in date order, so a parallel run prints exactly what a sequential one prints.

A job names its trackers by spec (vnrec.replay.plugins), not as objects, so that a worker
process builds its own from the same files.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import datetime as dt
import logging
import multiprocessing
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any, ClassVar

from vnrec.errors import VnrecError
from vnrec.work import DayWork

log = logging.getLogger(__name__)

STOP_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class DayJob(DayWork):
    """One day's replay, as `vnrec replay` runs it."""

    label: ClassVar[str] = "replay"

    trackers: tuple[Any, ...] = ()  # vnrec.replay.plugins.TrackerSpec
    symbols: str | None = None
    start: str | None = None
    end: str | None = None
    out: Path | None = None  # --out: the day's directory is out/date=D
    alerts: bool = True

    def run(self) -> DayOutcome:
        return run_day(self)

    def abandoned(self) -> None:
        if self.out is not None:
            from vnrec.replay.outputs import out_dir, remove_unfinished

            remove_unfinished(out_dir(self.out, self.day))


@dataclass
class DayOutcome:
    """What a day's replay printed and wrote."""

    day: dt.date
    result: dict[str, Any]  # the replay object (SPEC.md section 5, with "trackers")
    seconds: float
    written: list[Path] = field(default_factory=list)
    unmatched: list[str] = field(default_factory=list)  # --symbols with nothing that day


def run_day(job: DayJob, progress: Callable[[int], None] | None = None) -> DayOutcome:
    """Replay one day; with `job.out`, write its series, trades and tracker rows."""
    from vnrec.replay.engine import replay
    from vnrec.replay.outputs import (
        TradeWriter,
        out_dir,
        remove_stale_tracker_rows,
        remove_unfinished,
        write_alerts,
        write_candles,
        write_series,
        write_tracker_rows,
        writing_day,
    )
    from vnrec.replay.plugins import load_trackers
    from vnrec.storage.files import FileGroup

    started = time.perf_counter()
    trackers = load_trackers(job.trackers)
    directory = None if job.out is None else out_dir(job.out, job.day)
    written: list[Path] = []
    options: dict[str, Any] = {
        "data": job.root,
        "trackers": trackers,
        "symbols": job.symbols,
        "start": job.start,
        "end": job.end,
        "progress": progress,
        "keep_series": directory is not None,
        "candles": directory is not None,
        "alerts": job.alerts,
    }
    if directory is None:
        result = replay(job.day, **options)
    else:
        # This run's files of the day, all or none: never some of them beside the previous
        # run's versions of the others; then the rows of trackers an earlier run had and
        # this one has not are removed, so the day holds this run's results only.
        group = FileGroup()
        made = [d for d in (directory / "trackers", directory) if not d.exists()]
        try:
            with writing_day(directory):
                remove_unfinished(directory)  # what killed runs (kill -9, out of memory) left
                with TradeWriter(directory / "trades.parquet", group) as writer:
                    result = replay(job.day, trade_sinks=[writer], **options)
                written += write_series(directory, result.trackers, group)
                from vnrec.replay.columnar import ColumnarDay

                assert isinstance(result.trackers, ColumnarDay)
                written += write_candles(directory, result.trackers, group)
                written.append(directory / "trades.parquet")
                written.append(write_alerts(directory, result.alerts, group))
                written += write_tracker_rows(directory, result.tracker_results or {}, group)
                group.publish()
                remove_stale_tracker_rows(directory, written)
        except BaseException:
            group.discard()
            for empty in made:  # the directories this run made, when left empty
                with contextlib.suppress(OSError):
                    empty.rmdir()
            raise
    unmatched = []
    if job.symbols:
        seen = {row["symbol"] for part in (result.stats, result.foreign) for row in part}
        wanted = {s.strip() for s in job.symbols.split(",") if s.strip()}
        unmatched = sorted(wanted - seen)
    return DayOutcome(job.day, result.to_dict(), time.perf_counter() - started, written, unmatched)


def _run_in_worker(job: DayJob) -> DayOutcome:
    try:
        return run_day(job)
    except VnrecError:
        raise
    except Exception as exc:
        # Whatever it was, the parent says which day; the class and message come along.
        raise VnrecError(f"{job.day.isoformat()}: {type(exc).__name__}: {exc}") from exc


def _worker_logging() -> None:
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def run_days(jobs: Sequence[DayJob], workers: int) -> Iterator[DayOutcome]:
    """Each job's outcome in the given (date) order; up to `workers` days at once in
    worker processes (1: in this process, one after another). The first failure, in date
    order, is raised; the days after it are not started."""
    if workers <= 1 or len(jobs) <= 1:
        for job in jobs:
            yield run_day(job)
        return
    # spawn, not fork: the data libraries' thread pools do not survive a fork.
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(
        max_workers=min(workers, len(jobs)), mp_context=context, initializer=_worker_logging
    ) as pool:
        futures = [pool.submit(_run_in_worker, job) for job in jobs]
        try:
            for future in futures:
                yield future.result()
        except BaseException:
            # Interrupted, or a day failed: the days still running are stopped, not waited
            # for, and what they were writing is removed (finished files stay).
            _stop_workers(pool)
            for job in jobs:
                job.abandoned()
            raise
        finally:
            for future in futures:
                future.cancel()


def _stop_workers(pool: concurrent.futures.ProcessPoolExecutor) -> None:
    """Terminate the pool's worker processes (Python 3.14 has `terminate_workers()`; until
    then the executor's own table of them)."""
    table: dict[int, BaseProcess] = getattr(pool, "_processes", None) or {}
    processes = list(table.values())  # taken first: shutdown() forgets them
    manager: threading.Thread | None = getattr(pool, "_executor_manager_thread", None)
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        process.terminate()
    for process in processes:
        process.join(STOP_TIMEOUT_S)
    # The executor's thread closes its wake-up pipe when it sees the workers gone; at exit,
    # Python 3.11 writes to that pipe unless it is closed, and a close at the same moment
    # printed "OSError: [Errno 9] Bad file descriptor" after the error line (seen once in
    # CI). shutdown(wait=False) forgets the thread, so it is waited for here.
    if manager is not None:
        manager.join(STOP_TIMEOUT_S)
