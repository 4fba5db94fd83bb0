"""Days as tasks on a Dask cluster: `vnrec replay --from-date D1 --to-date D2 --cluster
ADDRESS` (an existing scheduler) or `--workers N` (a local cluster of N processes).

Each day is one task running `run_day` on a worker, exactly as `--jobs` runs it in a worker
process: days are independent (state never crosses days, SPEC.md 7.2), so the results,
gathered in date order, are the sequential run's byte for byte. With an s3:// root the
worker mirrors its own day from the object store (its AWS credentials come from its own
environment: they never travel in the task graph); with a local root the workers read the
same path, which on a cluster of several machines must be a shared file system, as must
--out and the files of --tracker.

A task that raises is retried (`RETRIES` times) on whichever worker the scheduler picks; a
task whose worker dies is run again by Dask itself. Both are reported by day: every
attempt's failure is sent to the scheduler as an event before the task's error, so when a
day's result arrives its failed attempts are known.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any

from vnrec.errors import VnrecError
from vnrec.remote.mirror import RemoteRoot
from vnrec.replay.days import DayJob, DayOutcome, run_day
from vnrec.selection import DaySelection

log = logging.getLogger(__name__)

RETRIES = 2
ATTEMPTS_TOPIC = "vnrec-replay-attempts"
CONNECT_TIMEOUT_S = 10
# scheme://host:port or host:port; checked first, as distributed's client, given anything
# else, fails only after a minute of retries.
ADDRESS = re.compile(r"(?:[a-z]+://)?[^\s/]+:\d{1,5}")


@dataclass(frozen=True)
class ClusterChoice:
    """Where the days run: the scheduler at `address`, or a local cluster of `workers`."""

    address: str | None = None
    workers: int | None = None

    def __post_init__(self) -> None:
        if self.address is not None and not ADDRESS.fullmatch(self.address):
            raise VnrecError(
                f"--cluster {self.address}: not a scheduler address (e.g. tcp://host:8786)"
            )

    def __str__(self) -> str:
        if self.address is not None:
            return f"the cluster at {self.address}"
        return f"a local cluster of {self.workers} workers"


def _attempt_failed(day: str, text: str) -> None:
    from distributed import get_worker

    worker = get_worker()
    worker.log_event(ATTEMPTS_TOPIC, {"day": day, "worker": worker.address, "error": text})


def run_on_worker(job: DayJob, remote: RemoteRoot | None) -> DayOutcome:
    """The task: one day, from the shared root or mirrored from the object store. Any
    failure is announced (for the report) and raised as one line naming the day."""
    day = job.day.isoformat()
    try:
        if remote is not None:
            job = replace(job, root=remote.fetch(DaySelection.one(job.day)))
        return run_day(job)
    except VnrecError as exc:
        _attempt_failed(day, str(exc))
        raise
    except Exception as exc:
        text = f"{day}: {type(exc).__name__}: {exc}"
        _attempt_failed(day, text)
        raise VnrecError(text) from exc


def _task_history(dask_scheduler: Any, keys: list[str]) -> dict[str, int]:
    """Runs on the scheduler: how many times each task's worker died under it."""
    tasks = dask_scheduler.tasks
    return {key: tasks[key].suspicious for key in keys if key in tasks}


@contextlib.contextmanager
def _client(choice: ClusterChoice) -> Iterator[Any]:
    from distributed import Client, LocalCluster

    if logging.getLogger().getEffectiveLevel() > logging.DEBUG:
        # Importing distributed sets its loggers to INFO; the scheduler of a local cluster
        # lives in this process and would narrate every connection (kept for --verbose).
        logging.getLogger("distributed").setLevel(logging.WARNING)
    if choice.address is not None:
        try:
            client = Client(choice.address, timeout=CONNECT_TIMEOUT_S, set_as_default=False)
        except (OSError, TimeoutError, ValueError) as exc:
            raise VnrecError(f"--cluster {choice.address}: cannot connect: {exc}") from None
        with client:
            yield client
        return
    cluster = LocalCluster(
        n_workers=choice.workers,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
        # A failed attempt is reported by day from here; the workers' own account of it
        # (an ERROR with the task's traceback) would repeat it.
        silence_logs=logging.CRITICAL,
    )
    with cluster, Client(cluster, set_as_default=False) as client:
        yield client


def run_days_on_cluster(
    jobs: Sequence[DayJob],
    choice: ClusterChoice,
    remote: RemoteRoot | None,
    report: Callable[[str], None],
) -> Iterator[DayOutcome]:
    """Each job's outcome in the given (date) order, the days running as tasks on the
    cluster; `report` gets one line per failed or lost attempt of a day, before the day's
    outcome. The first day that fails for good, in date order, is raised."""
    from distributed import KilledWorker

    with _client(choice) as client:
        futures = [
            client.submit(
                run_on_worker,
                job,
                remote,
                key=f"vnrec-replay-{job.day.isoformat()}-{index}",
                retries=RETRIES,
                pure=False,
            )
            for index, job in enumerate(jobs)
        ]
        try:
            for job, future in zip(jobs, futures, strict=True):
                day = job.day.isoformat()
                try:
                    outcome = future.result()
                except KilledWorker as exc:
                    raise VnrecError(
                        f"replay {day} failed on {choice}: the workers running it died ({exc})"
                    ) from None
                except VnrecError as exc:
                    raise VnrecError(
                        f"replay {day} failed on {choice} after {RETRIES + 1} attempts: {exc}"
                    ) from None
                _report_attempts(client, future.key, day, report)
                yield outcome
        except BaseException:
            client.cancel(futures)
            raise


def _report_attempts(client: Any, key: str, day: str, report: Callable[[str], None]) -> None:
    for _, event in client.get_events(ATTEMPTS_TOPIC):
        if event.get("day") == day:
            report(f"replay {day}: an attempt failed on {event['worker']}: {event['error']}")
    lost = client.run_on_scheduler(_task_history, keys=[key]).get(key, 0)
    if lost:
        report(
            f"replay {day}: a worker holding it died ({lost} time{'s' if lost > 1 else ''});"
            " run again on another"
        )
