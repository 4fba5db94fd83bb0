"""The days a command works on, and where: `--date D` or `--from-date D1 --to-date D2`, in
this process or as tasks on a Dask cluster (`--workers N`, `--cluster ADDRESS`)."""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from vnrec.cli.options import between, on_day, parse_day, reading_root, remote_root
from vnrec.errors import BadInputError, NoDataError

if TYPE_CHECKING:
    from vnrec.cluster import ClusterChoice
    from vnrec.remote.mirror import RemoteRoot
    from vnrec.work import DayWork

FromDateOption = Annotated[
    str | None,
    typer.Option("--from-date", help="First day of a range (every recorded day in it)."),
]
ToDateOption = Annotated[
    str | None, typer.Option("--to-date", help="Last day of a range (inclusive).")
]
ClusterOption = Annotated[
    str | None,
    typer.Option(
        "--cluster", help="Run the days as tasks on this Dask scheduler (tcp://host:8786)."
    ),
]
WorkersOption = Annotated[
    int | None,
    typer.Option("--workers", min=1, help="Run the days on a local Dask cluster of N."),
]


@dataclass(frozen=True)
class DayPlan:
    """The chosen days and where they run."""

    root: Path  # a local root, or (on a cluster, from s3://) where the workers mirror to
    days: list[dt.date]
    ranged: bool  # asked as a range: results carry their date
    cluster: ClusterChoice | None
    remote: RemoteRoot | None  # s3:// on a cluster: the workers fetch their own day

    @property
    def where(self) -> str:
        return "in this process" if self.cluster is None else f"on {self.cluster}"

    def run(
        self, works: Sequence[DayWork], report: Callable[[str], None] | None = None
    ) -> Iterator[Any]:
        """Each work's result, in the order given (date order)."""
        if self.cluster is None:
            for work in works:
                yield work.run()
            return
        from vnrec.cluster import run_on_cluster

        yield from run_on_cluster(works, self.cluster, self.remote, report or _to_stderr)


def _to_stderr(line: str) -> None:
    print(line, file=sys.stderr)


def cluster_choice(address: str | None, workers: int | None) -> ClusterChoice | None:
    if address is None and workers is None:
        return None
    if address is not None and workers is not None:
        raise BadInputError("give --cluster ADDRESS or --workers N, not both")
    from vnrec.cluster import ClusterChoice

    return ClusterChoice(address, workers)


def plan_days(
    data: Path | None,
    date: str | None,
    from_date: str | None,
    to_date: str | None,
    choice: ClusterChoice | None,
) -> DayPlan:
    """--date, or every recorded day in [--from-date, --to-date]; on a cluster with an
    s3:// root, listed remotely (the workers mirror), else from the (mirrored) local root."""
    if date is not None:
        if from_date is not None or to_date is not None:
            raise BadInputError("give --date, or --from-date and --to-date, not both")
        wanted = on_day(date)
    elif from_date is None or to_date is None:
        raise BadInputError("give --date D, or a range with --from-date D1 --to-date D2")
    else:
        wanted = between(from_date, to_date)
        if wanted.last < wanted.first:
            raise BadInputError(f"--to-date {wanted.last} is before --from-date {wanted.first}")
    remote = remote_root(data) if choice is not None else None
    if remote is not None:
        root, listed, where = remote.cache, remote.days, remote.url
    else:
        root = reading_root(data, wanted)
        listed, where = lambda: _local_days(root), str(root)
    if date is not None:
        days = [parse_day(date)]
    else:
        days = [day for day in listed() if wanted(day)]
        if not days:
            raise NoDataError(f"no recorded day from {wanted.first} to {wanted.last} in {where}")
    if choice is not None and choice.workers is not None and choice.workers > len(days):
        choice = replace(choice, workers=len(days))  # a worker per day at most
    return DayPlan(root.absolute(), days, date is None, choice, remote)


def _local_days(root: Path) -> list[dt.date]:
    from vnrec.storage.layout import Layout

    return list(Layout(root).days("raw"))
