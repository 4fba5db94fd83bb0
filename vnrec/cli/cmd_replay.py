"""`vnrec replay`: recorded days through the tracker pipeline, the built-in trackers and the
user's (`--tracker`); results on stdout (a range as JSON Lines, one object per day, in date
order, whether its days ran one by one or at once), progress and timings on stderr,
derived series and tracker rows as Parquet with `--out`. Heavy modules are imported in
the command: `vnrec --help` stays fast."""

from __future__ import annotations

import enum
import io
import os
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Annotated, Any, TextIO

import typer

from vnrec.cli.days import (
    ClusterOption,
    DayPlan,
    FromDateOption,
    ToDateOption,
    WorkersOption,
    cluster_choice,
    plan_days,
)
from vnrec.cli.options import DataOption
from vnrec.cli.output import OutputFormat, default_format, emit, to_json, write_stdout
from vnrec.errors import BadInputError
from vnrec.words import counted

PROGRESS_EVERY_S = 1.0


class ReplayFormat(enum.StrEnum):
    """The formats replay prints (Parquet files come from --out)."""

    table = "table"
    json = "json"


# Columns of the terminal table of session stats (the JSON has every field).
STATS_TABLE_KEYS = (
    "symbol",
    "trades",
    "volume",
    "value",
    "buy_volume",
    "sell_volume",
    "neutral_volume",
    "open",
    "high",
    "low",
    "close",
    "vwap",
    "duplicates",
)


class ProgressLine:
    """At most one progress line per second on stderr while a replay runs."""

    def __init__(self, label: str, stream: TextIO, clock: Callable[[], float]) -> None:
        self._label = label
        self._stream = stream
        self._clock = clock
        self.started = clock()
        self._shown = self.started

    def __call__(self, messages: int) -> None:
        now = self._clock()
        if now - self._shown >= PROGRESS_EVERY_S:
            self._shown = now
            rate = messages / (now - self.started)
            print(f"{self._label}: {messages:,} messages ({rate:,.0f}/s)", file=self._stream)

    def finish(self, messages: int) -> None:
        elapsed = self._clock() - self.started
        rate = messages / elapsed if elapsed > 0 else 0.0
        print(
            f"{self._label}: {messages:,} messages in {elapsed:.2f} s ({rate:,.0f}/s)",
            file=self._stream,
        )


def _render_table(result: dict[str, Any]) -> str:
    parts = [f"replay {result['date']}: {result['events']:,} messages\n"]
    stats = [{k: row[k] for k in STATS_TABLE_KEYS} for row in result["stats"]]
    sections: list[tuple[str, list[dict[str, Any]]]] = [
        ("session stats", stats),
        ("foreign", result["foreign"]),
        ("index", result["index"]),
        ("basis", result["basis"]),
    ]
    for name, value in (result.get("trackers") or {}).items():
        rows = (
            value if isinstance(value, list) and all(isinstance(r, dict) for r in value) else None
        )
        sections.append((f"tracker {name}", rows if rows is not None else [{"result": value}]))
    for title, rows in sections:
        buffer = io.StringIO()
        emit(rows, OutputFormat.table, title=title, stdout=buffer)
        parts.append("\n" + buffer.getvalue())
    return "".join(parts)


def replay_command(
    date: Annotated[
        str | None, typer.Option("--date", help="The day to replay (YYYY-MM-DD).")
    ] = None,
    from_date: FromDateOption = None,
    to_date: ToDateOption = None,
    data: DataOption = None,
    fmt: Annotated[
        ReplayFormat | None,
        typer.Option(
            "--format",
            "-f",
            help="table or json (default: table on a terminal); a range prints JSON Lines.",
        ),
    ] = None,
    tracker: Annotated[
        list[str] | None,
        typer.Option(
            "--tracker",
            "-t",
            help="A tracker to run: FILE.py:Class or package.module:Class (repeatable).",
        ),
    ] = None,
    param: Annotated[
        list[str] | None,
        typer.Option(
            "--param",
            "-p",
            help="key=value for the trackers that take it, or Class.key=value (repeatable).",
        ),
    ] = None,
    jobs: Annotated[
        int | None,
        typer.Option("--jobs", "-j", min=1, help="Days replayed at once (default: the cores)."),
    ] = None,
    symbols: Annotated[
        str | None, typer.Option("--symbols", help="Only these symbols, e.g. VNM,FPT.")
    ] = None,
    start: Annotated[
        str | None, typer.Option("--from", help="From this event time (HH:MM, local).")
    ] = None,
    end: Annotated[
        str | None, typer.Option("--to", help="Until this event time (HH:MM, exclusive).")
    ] = None,
    speed: Annotated[
        float | None,
        typer.Option("--speed", help="Pace by event time at N x real time (default: max)."),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="Write trades, basis, foreign flow, index and tracker rows as Parquet here.",
        ),
    ] = None,
    no_alerts: Annotated[
        bool,
        typer.Option("--no-alerts", help="Skip the alert rules (faster; `alerts` is empty)."),
    ] = False,
    cluster: ClusterOption = None,
    workers: WorkersOption = None,
) -> None:
    """Replay recorded days through the trackers (session stats, foreign, index, basis, and
    your own with --tracker)."""
    from vnrec.cli.memory import return_freed_arrow_pages

    return_freed_arrow_pages()
    from vnrec.replay.days import DayJob, run_day
    from vnrec.replay.plugins import tracker_specs

    on_cluster = cluster_choice(cluster, workers)
    if on_cluster is not None and jobs is not None:
        raise BadInputError("--jobs runs days in local processes; with a cluster, drop it")
    plan = plan_days(data, date, from_date, to_date, on_cluster)
    days = plan.days
    specs = tuple(tracker_specs(tracker or [], param or []))
    chosen = OutputFormat(fmt.value) if fmt is not None else default_format()
    # Absolute: a worker process or a cluster's worker writes from another directory.
    out_dir = out.absolute() if out is not None else None
    if out_dir is not None:
        if out_dir.exists() and not out_dir.is_dir():
            raise BadInputError(f"--out {out}: not a directory")
        try:  # before any day runs, not as each day's failure
            out_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise BadInputError(f"--out {out}: {exc.strerror or exc}") from None
    jobs_list = [
        DayJob(plan.root, day, specs, symbols, start, end, out_dir, alerts=not no_alerts)
        for day in days
    ]
    if speed is not None:
        if len(days) > 1 or on_cluster is not None:
            raise BadInputError("--speed paces one day in this process: give --date only")
        _paced(jobs_list[0], speed, chosen)
        return
    if len(days) == 1 and on_cluster is None:
        progress = ProgressLine(f"replay {days[0].isoformat()}", sys.stderr, time.monotonic)
        outcome = run_day(jobs_list[0], progress)
        progress.finish(outcome.result["events"])
        _report(outcome)
        render_results([outcome.result], chosen)
        return
    started = time.monotonic()
    total = 0
    outcomes, where = _runner(jobs_list, jobs, plan)
    try:
        for outcome in outcomes:
            total += outcome.result["events"]
            print(
                f"replay {outcome.day.isoformat()}: {outcome.result['events']:,} messages"
                f" in {outcome.seconds:.2f} s",
                file=sys.stderr,
            )
            _report(outcome)
            render_results([outcome.result], chosen, lines=len(days) > 1)
    finally:
        # A day's result failing here (a tracker's result JSON cannot hold) must stop the
        # days still running before the error line is printed, or their logs follow it.
        close = getattr(outcomes, "close", None)
        if close is not None:
            close()
    elapsed = time.monotonic() - started
    print(
        f"replay: {counted(len(days), 'day')}, {total:,} messages in {elapsed:.2f} s ({where})",
        file=sys.stderr,
    )


def _runner(jobs_list: Sequence[Any], jobs: int | None, plan: DayPlan) -> tuple[Iterable[Any], str]:
    """The outcomes of the days in date order, and how they ran (for the summary line)."""
    if plan.cluster is not None:
        return plan.run(jobs_list), plan.where
    from vnrec.replay.days import run_days

    workers = jobs if jobs is not None else (os.cpu_count() or 1)
    return run_days(jobs_list, workers), f"{min(workers, len(jobs_list))} at once"


def _paced(job: Any, speed: float, fmt: OutputFormat) -> None:
    """One day paced by event time (no --out series beyond what run_day writes)."""
    from vnrec.replay.engine import replay
    from vnrec.replay.plugins import load_trackers

    progress = ProgressLine(f"replay {job.day.isoformat()}", sys.stderr, time.monotonic)
    if job.out is not None:
        raise BadInputError("--out is not written by a paced replay (drop --speed)")
    result = replay(
        job.day,
        data=job.root,
        trackers=load_trackers(job.trackers),
        symbols=job.symbols,
        start=job.start,
        end=job.end,
        speed=speed,
        progress=progress,
        alerts=job.alerts,
    )
    progress.finish(result.events)
    render_results([result.to_dict()], fmt)


def _report(outcome: Any) -> None:
    for symbol in outcome.unmatched:
        print(
            f"--symbols: no trade or foreign message of {symbol} on {outcome.day}",
            file=sys.stderr,
        )
    for path in outcome.written:
        print(f"wrote {path}", file=sys.stderr)


def render_results(
    results: Sequence[dict[str, Any]], fmt: OutputFormat, *, lines: bool = False
) -> None:
    """Each day's result on stdout: the SPEC section 5 JSON object (one line each with
    `lines`: JSON Lines), or terminal tables."""
    for result in results:
        if fmt is OutputFormat.json:
            write_stdout(to_json(result, indent=not lines).decode() + "\n")
        else:
            write_stdout(_render_table(result))


def register(app: typer.Typer) -> None:
    app.command("replay")(replay_command)
