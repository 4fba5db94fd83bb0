"""Days as tasks on a Dask cluster: `--cluster ADDRESS` (an existing scheduler) or
`--workers N` (a local cluster of N processes), for `replay`, `stats`, `candles` and
`alerts` over a range of days.

Each day is one task running its `DayWork` on a worker, exactly as it runs in this process:
days are independent, so the results, gathered in date order, are the sequential run's
byte for byte. With an s3:// root the worker mirrors its own day from the object store
(its AWS credentials come from its own environment: they never travel in the task graph);
with a local root the workers read the same path, which on a cluster of several machines
must be a shared file system, as must replay's --out and the files of --tracker.

A task that raises is retried (`RETRIES` times) on whichever worker the scheduler picks; a
task whose worker dies is run again by Dask itself. Both are reported by day: a failed
attempt is announced to the scheduler as an event before the task's error (one ordered
stream, so when the day's result arrives its failed attempts are known), and a dead
worker is the task's `suspicious` count on the scheduler.
"""

from __future__ import annotations

import contextlib
import logging
import re
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from vnrec.errors import VnrecError
from vnrec.remote.mirror import RemoteRoot
from vnrec.selection import DaySelection
from vnrec.work import DayWork

log = logging.getLogger(__name__)

RETRIES = 2
ATTEMPTS_TOPIC = "vnrec-day-attempts"
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


def _attempt_failed(text: str) -> None:
    from distributed import get_worker

    worker = get_worker()
    event = {"key": worker.get_current_task(), "worker": worker.address, "error": text}
    worker.log_event(ATTEMPTS_TOPIC, event)


def run_on_worker(work: DayWork, remote: RemoteRoot | None) -> Any:
    """The task: one day's work, on the shared root or on the day mirrored from the object
    store. Any failure is announced (for the report) and raised as one line naming the
    day."""
    try:
        if remote is not None:
            work = work.at(remote.fetch(DaySelection.one(work.day)))
        return work.run()
    except VnrecError as exc:
        _attempt_failed(str(exc))
        raise
    except Exception as exc:
        text = f"{work.day.isoformat()}: {type(exc).__name__}: {exc}"
        _attempt_failed(text)
        raise VnrecError(text) from exc


def _lost_workers(dask_scheduler: Any, keys: list[str]) -> dict[str, int]:
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
        # Its HTTP server starts whatever this says; on loopback and a free port, never
        # on all interfaces or in the way of another cluster's 8787.
        dashboard_address="127.0.0.1:0",
        # A failed attempt is reported by day from here; the workers' own account of it
        # (an ERROR with the task's traceback) would repeat it.
        silence_logs=logging.CRITICAL,
    )
    with cluster, Client(cluster, set_as_default=False) as client:
        yield client


def run_on_cluster(
    works: Sequence[DayWork],
    choice: ClusterChoice,
    remote: RemoteRoot | None,
    report: Callable[[str], None],
) -> Iterator[Any]:
    """Each work's result in the given (date) order, the days running as tasks on the
    cluster; `report` gets one line per failed or lost attempt of a day, before the day's
    result. The first day that fails for good, in date order, is raised and the rest are
    cancelled."""
    from distributed import KilledWorker

    run = uuid.uuid4().hex[:12]  # a scheduler outlives runs: its events and keys are shared
    with _client(choice) as client:
        futures = [
            client.submit(
                run_on_worker,
                work,
                remote,
                key=f"vnrec-{work.label}-{work.day.isoformat()}-{index}-{run}",
                retries=RETRIES,
                pure=False,
            )
            for index, work in enumerate(works)
        ]
        try:
            for work, future in zip(works, futures, strict=True):
                name = f"{work.label} {work.day.isoformat()}"
                try:
                    result = future.result()
                except KilledWorker as exc:
                    raise VnrecError(
                        f"{name} failed on {choice}: the workers running it died ({exc})"
                    ) from None
                except VnrecError as exc:
                    raise VnrecError(
                        f"{name} failed on {choice} after {RETRIES + 1} attempts: {exc}"
                    ) from None
                _report_attempts(client, future.key, name, report)
                yield result
        except BaseException:
            client.cancel(futures)
            raise


def _report_attempts(client: Any, key: str, name: str, report: Callable[[str], None]) -> None:
    for _, event in client.get_events(ATTEMPTS_TOPIC):
        if event.get("key") == key:
            report(f"{name}: an attempt failed on {event['worker']}: {event['error']}")
    lost = client.run_on_scheduler(_lost_workers, keys=[key]).get(key, 0)
    if lost:
        report(
            f"{name}: a worker holding it died ({lost} time{'s' if lost > 1 else ''});"
            " run again on another"
        )
