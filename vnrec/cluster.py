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

from vnrec.errors import BadInputError, IntegrityError, NoDataError, VnrecError, first_line
from vnrec.remote.mirror import RemoteRoot
from vnrec.selection import DaySelection
from vnrec.words import counted
from vnrec.work import DayWork

log = logging.getLogger(__name__)

RETRIES = 2
ATTEMPTS_TOPIC = "vnrec-day-attempts"
CONNECT_TIMEOUT_S = 10
# tcp://host:port or host:port, checked before anything connects: distributed's client,
# given anything else, fails only after a minute of retries or with an internal error.
ADDRESS = re.compile(
    r"(?:tcp://)?(?P<host>[A-Za-z0-9._-]+|\[[0-9a-fA-F:.]+(?:%[A-Za-z0-9]+)?\]):(?P<port>[0-9]{1,5})"
)
# Failures that another attempt would meet again: reported at once, not retried. (A part
# that cannot be read is retried: on a shared file system that may pass.)
FINAL = (BadInputError, NoDataError, IntegrityError, PermissionError, NotADirectoryError)


@dataclass(frozen=True)
class ClusterChoice:
    """Where the days run: the scheduler at `address`, or a local cluster of `workers`."""

    address: str | None = None
    workers: int | None = None

    def __post_init__(self) -> None:
        if self.address is None:
            return
        found = ADDRESS.fullmatch(self.address)
        if found is None or not 0 < int(found["port"]) <= 65535:
            raise VnrecError(
                f"--cluster {self.address}: not a scheduler address (tcp://host:port, e.g."
                " tcp://10.0.0.5:8786)"
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


@dataclass(frozen=True)
class Refused:
    """A task's answer when its day cannot be done by trying again (no data, bad input, a
    refused permission): returned, not raised, so that Dask does not retry it."""

    error: str


def run_on_worker(work: DayWork, remote: RemoteRoot | None) -> Any:
    """The task: one day's work, on the shared root or on the day mirrored from the object
    store. Any other failure is announced (for the report) and raised as one line naming
    the day, to be retried."""
    try:
        if remote is not None:
            work = work.at(remote.fetch(DaySelection.one(work.day)))
        return work.run()
    except FINAL as exc:
        return Refused(_described(work, exc))
    except Exception as exc:
        text = _described(work, exc)
        log.debug("%s %s", work.label, work.day, exc_info=True)  # in the worker's log
        _attempt_failed(text)
        # No chained cause: Dask pickles it with the error, and a user's exception class
        # may not pickle or not exist on the client (the text says what it was).
        raise VnrecError(text) from None


def _described(work: DayWork, exc: Exception) -> str:
    if isinstance(exc, VnrecError):
        return str(exc)
    if isinstance(exc, OSError) and exc.filename:
        return f"{work.day.isoformat()}: {exc.strerror or exc}: {exc.filename}"
    return f"{work.day.isoformat()}: {type(exc).__name__}: {exc}"


def _lost_workers(dask_scheduler: Any, keys: list[str]) -> dict[str, int]:
    """Runs on the scheduler: how many times each task's worker died under it."""
    tasks = dask_scheduler.tasks
    return {key: tasks[key].suspicious for key in keys if key in tasks}


@contextlib.contextmanager
def _client(choice: ClusterChoice) -> Iterator[Any]:
    from distributed import Client, LocalCluster

    if logging.getLogger().getEffectiveLevel() > logging.DEBUG:
        # Importing distributed sets its loggers to INFO; a local cluster's scheduler and
        # nannies live in this process and narrate every connection, retry and shutdown.
        # What matters to the user is reported by day from here; --verbose shows it all.
        logging.getLogger("distributed").setLevel(logging.CRITICAL)
    if choice.address is not None:
        address = choice.address if "://" in choice.address else f"tcp://{choice.address}"
        _check_scheduler(address)
        try:
            client = Client(address, timeout=CONNECT_TIMEOUT_S, set_as_default=False)
        except (OSError, TimeoutError, ValueError) as exc:
            raise VnrecError(f"--cluster {choice.address}: cannot connect: {exc}") from None
        with client:
            try:
                client.wait_for_workers(1, timeout=CONNECT_TIMEOUT_S)
            except TimeoutError:
                raise VnrecError(
                    f"--cluster {choice.address}: the scheduler has no worker (none joined"
                    f" within {CONNECT_TIMEOUT_S} s)"
                ) from None
            yield client
        return
    cluster = LocalCluster(
        n_workers=choice.workers,  # at most one per day (vnrec.cli.days)
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
    try:
        yield from _gathered(works, choice, remote, report)
    except BaseException:
        if choice.address is None:
            # The local cluster is closed: nothing runs the days any more. (A task already
            # running on a remote worker goes on: Dask cannot stop it.)
            for work in works:
                work.abandoned()
        raise


def _gathered(
    works: Sequence[DayWork],
    choice: ClusterChoice,
    remote: RemoteRoot | None,
    report: Callable[[str], None],
) -> Iterator[Any]:
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
                except Exception as exc:
                    # Raised by Dask, not by the day: most often a worker without vnrec
                    # (or with another version) that cannot unpickle the task.
                    log.debug("%s on %s", name, choice, exc_info=True)
                    raise VnrecError(
                        f"{name} failed on {choice}: {type(exc).__name__}: {first_line(exc)}"
                        " (do the workers have this vnrec installed?)"
                    ) from None
                if isinstance(result, Refused):
                    raise VnrecError(f"{name} failed on {choice}: {result.error}")
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
            f"{name}: its worker died before it was done ({counted(lost, 'time')});"
            " run again on another"
        )


def _check_scheduler(address: str) -> None:
    """Ask `address` who it is before the client connects: the client, pointed at a web
    server, waits forever, and pointed at anything else fails with an internal error."""
    import asyncio

    try:
        # distributed's own connect timeout fires first when nothing accepts; this one when
        # something accepts and never answers.
        identity = asyncio.run(asyncio.wait_for(_identity(address), CONNECT_TIMEOUT_S + 5))
    except TimeoutError:
        raise VnrecError(
            f"--cluster {address}: no Dask scheduler answered within {CONNECT_TIMEOUT_S + 5} s"
        ) from None
    except OSError as exc:
        raise VnrecError(f"--cluster {address}: cannot connect: {first_line(exc)}") from None
    except Exception as exc:  # whatever a stranger's bytes make of the protocol
        log.debug("probing %s", address, exc_info=True)
        raise VnrecError(
            f"--cluster {address}: not a Dask scheduler ({type(exc).__name__}: {first_line(exc)})"
        ) from None
    kind = identity.get("type") if isinstance(identity, dict) else None
    if kind != "Scheduler":
        raise VnrecError(f"--cluster {address}: not a Dask scheduler (it says it is {kind})")


async def _identity(address: str) -> Any:
    from distributed.comm.core import connect

    comm = await connect(address, timeout=CONNECT_TIMEOUT_S)
    try:
        await comm.write({"op": "identity", "reply": True})
        return await comm.read()
    finally:
        comm.abort()
