"""Reports of a day or a range: `stats`, `candles`, `alerts`, `basis`, `foreign`, `query`,
`verify` (DuckDB over the Parquet history; alerts come from the trackers)."""

from __future__ import annotations

import datetime as dt
import enum
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

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
from vnrec.cli.options import DataOption, between, on_day, parse_day, reading_root
from vnrec.cli.output import (
    OutputFormat,
    default_format,
    emit,
    emit_batches,
    to_json,
    write_stdout,
)
from vnrec.defaults import DUCKDB_THREADS
from vnrec.errors import BadInputError, NoDataError
from vnrec.words import counted

if TYPE_CHECKING:
    import duckdb

    from vnrec.work import DayWork

FormatOption = Annotated[
    OutputFormat | None,
    typer.Option(
        "--format",
        "-f",
        help="table, json, csv or parquet (default: table on a terminal, else json).",
    ),
]
OutputOption = Annotated[
    Path | None,
    typer.Option("--output", "-o", help="Write to this file instead of stdout."),
]
ThreadsOption = Annotated[int, typer.Option("--threads", min=1, help="DuckDB worker threads.")]
DateOption = Annotated[str, typer.Option("--date", help="The trading day (YYYY-MM-DD).")]


class ReportFormat(enum.StrEnum):
    table = "table"
    json = "json"


def _format(fmt: OutputFormat | None, output: Path | None) -> OutputFormat:
    chosen = fmt or default_format()
    if chosen is OutputFormat.parquet and output is None:
        raise BadInputError("--format parquet needs --output FILE")
    return chosen


def _one_day(root: Path, date: str) -> dt.date:
    from vnrec.storage.layout import Layout

    day = parse_day(date)
    Layout(root).recorded_state(day)
    return day


OptionalDateOption = Annotated[
    str | None, typer.Option("--date", help="The trading day (YYYY-MM-DD).")
]


def _day_reports(plan: DayPlan, works: Sequence[DayWork]) -> list[dict[str, Any]]:
    """The rows of each day's work in date order; a range's rows carry their `date`."""
    started = time.monotonic()
    results = list(plan.run(works))
    if plan.ranged or plan.cluster is not None:
        print(
            f"{works[0].label}: {counted(len(works), 'day')} in {time.monotonic() - started:.2f} s"
            f" ({plan.where})",
            file=sys.stderr,
        )
    if not plan.ranged:
        return list(results[0])
    return [
        {"date": work.day.isoformat(), **row}
        for work, rows in zip(works, results, strict=True)
        for row in rows
    ]


def _span(plan: DayPlan) -> str:
    first, last = plan.days[0].isoformat(), plan.days[-1].isoformat()
    return first if first == last and not plan.ranged else f"{first} .. {last}"


def _nothing_for(what: str, plan: DayPlan) -> str:
    if plan.ranged:
        return f"{what} from {plan.days[0].isoformat()} to {plan.days[-1].isoformat()}"
    return f"{what} on {plan.days[0].isoformat()}"


def stats_command(
    date: OptionalDateOption = None,
    symbol: Annotated[str | None, typer.Option("--symbol", help="Only this symbol.")] = None,
    from_date: FromDateOption = None,
    to_date: ToDateOption = None,
    data: DataOption = None,
    fmt: FormatOption = None,
    output: OutputOption = None,
    threads: ThreadsOption = DUCKDB_THREADS,
    cluster: ClusterOption = None,
    workers: WorkersOption = None,
) -> None:
    """Session stats per symbol (volume, buy/sell/neutral split, OHLC, VWAP) for a day, or
    for each day of a range (rows with their date).

    A compacted day answers from the stats stored when it was compacted (as long as its
    parts are still the ones they were computed from); any other day is computed in DuckDB.
    """
    from vnrec.day_reports import StatsDay

    plan = plan_days(data, date, from_date, to_date, cluster_choice(cluster, workers))
    chosen = _format(fmt, output)
    rows = _day_reports(plan, [StatsDay(plan.root, d, symbol, threads) for d in plan.days])
    if symbol is not None and not rows:
        raise NoDataError(f"--symbol {symbol}: no counted trade of {_nothing_for(symbol, plan)}")
    emit(rows, chosen, output=output, title=f"session stats {_span(plan)}")


def candles_command(
    date: OptionalDateOption = None,
    interval: Annotated[
        str, typer.Option("--interval", help="1m, 5m, 15m or 1h (local clock).")
    ] = "1m",
    symbol: Annotated[
        str | None, typer.Option("--symbol", help="Only this symbol (or index id with --index).")
    ] = None,
    index: Annotated[
        bool, typer.Option("--index", help="Candles of the index values instead.")
    ] = False,
    from_date: FromDateOption = None,
    to_date: ToDateOption = None,
    data: DataOption = None,
    fmt: FormatOption = None,
    output: OutputOption = None,
    threads: ThreadsOption = DUCKDB_THREADS,
    cluster: ClusterOption = None,
    workers: WorkersOption = None,
) -> None:
    """OHLCV candles with active buy / sell / neutral volume per symbol (or index candles),
    sorted by symbol then start; computed in DuckDB from the counted, classified trades."""
    from vnrec.day_reports import CandlesDay

    plan = plan_days(data, date, from_date, to_date, cluster_choice(cluster, workers))
    chosen = _format(fmt, output)
    works = [CandlesDay(plan.root, d, interval, symbol, index, threads) for d in plan.days]
    rows = _day_reports(plan, works)
    if symbol is not None and not rows:
        what = "index value" if index else "counted trade"
        raise NoDataError(f"--symbol {symbol}: no {what} of {_nothing_for(symbol, plan)}")
    title = f"{'index ' if index else ''}candles {interval} {_span(plan)}"
    emit(rows, chosen, output=output, title=title)


def alerts_command(
    date: OptionalDateOption = None,
    kind: Annotated[
        str | None,
        typer.Option(
            "--kind",
            help="Only this kind: volume_spike, ceiling_hit, floor_hit, foreign_acceleration,"
            " basis_flip or imbalance.",
        ),
    ] = None,
    symbol: Annotated[str | None, typer.Option("--symbol", help="Only this symbol.")] = None,
    from_date: FromDateOption = None,
    to_date: ToDateOption = None,
    data: DataOption = None,
    fmt: FormatOption = None,
    output: OutputOption = None,
    cluster: ClusterOption = None,
    workers: WorkersOption = None,
) -> None:
    """The day's alerts (SPEC.md 7.5), by seq: volume spikes, ceiling and floor hits, foreign
    acceleration, basis flips and order-flow imbalance, by event time only, as a replay and
    `record --track` compute them. A compacted day answers from the alerts stored then."""
    from vnrec.day_reports import AlertsDay
    from vnrec.trackers.alerts import KINDS

    if kind is not None and kind not in KINDS:
        raise BadInputError(f"--kind {kind}: not an alert kind (one of {', '.join(KINDS)})")
    plan = plan_days(data, date, from_date, to_date, cluster_choice(cluster, workers))
    chosen = _format(fmt, output)
    rows = _day_reports(plan, [AlertsDay(plan.root, d, kind, symbol) for d in plan.days])
    emit(rows, chosen, output=output, title=f"alerts {_span(plan)}")


def basis_command(
    start: Annotated[str, typer.Option("--from", help="First day (YYYY-MM-DD).")],
    end: Annotated[str, typer.Option("--to", help="Last day (YYYY-MM-DD).")],
    interval: Annotated[
        str, typer.Option("--interval", help="Bucket size: 30s, 1m, 5m, 1h, ...")
    ] = "1m",
    contract: Annotated[
        str,
        typer.Option("--contract", help="`front` (each day's front contract) or a symbol."),
    ] = "front",
    data: DataOption = None,
    fmt: FormatOption = None,
    output: OutputOption = None,
    threads: ThreadsOption = DUCKDB_THREADS,
) -> None:
    """VN30 futures basis per interval: last trade price, the VN30 value then, the basis.

    Compacted days answer from the basis rows stored when they were compacted (while their
    parts are still the ones they were computed from); other days are computed in DuckDB.
    """
    from vnrec.analytics.cached import basis_over_days
    from vnrec.storage.layout import Layout

    root = reading_root(data, between(start, end))
    chosen = _format(fmt, output)
    first, last = parse_day(start), parse_day(end)
    if last < first:
        raise BadInputError(f"--to {last} is before --from {first}")
    days = [d for d in Layout(root).days("raw") if first <= d <= last]
    if not days:
        raise NoDataError(f"no recorded data from {first} to {last} in {root}")
    rows = basis_over_days(root, days, interval=interval, contract=contract, threads=threads)
    if not rows:
        what = "VN30 futures trade" if contract == "front" else f"trade of {contract}"
        raise NoDataError(
            f"--contract {contract}: no {what} with a VN30 value from {first} to {last}"
            + ("" if contract == "front" else " (is it a VN30 futures symbol?)")
        )
    emit(rows, chosen, output=output, title=f"basis {first} .. {last} ({contract}, {interval})")


def foreign_command(
    date: DateOption,
    top: Annotated[
        int | None,
        typer.Option(
            "--top",
            min=1,
            help="Only the N symbols of largest absolute net value (with --market: the N"
            " largest net buyers and sellers, default 10).",
        ),
    ] = None,
    market: Annotated[
        bool,
        typer.Option("--market", help="Market totals, then the top net buyers and sellers."),
    ] = False,
    basket: Annotated[
        str | None,
        typer.Option("--basket", help="With --market: only that index's members that day."),
    ] = None,
    data: DataOption = None,
    fmt: FormatOption = None,
    output: OutputOption = None,
    threads: ThreadsOption = DUCKDB_THREADS,
) -> None:
    """Foreign investors' cumulative buy/sell and room per symbol at the day's last R message
    (or, with --market, the market's totals and its top net buyers and sellers)."""
    from vnrec.analytics.connection import read_views
    from vnrec.analytics.reports import foreign_flow, foreign_market

    if basket is not None and not market:
        raise BadInputError("--basket goes with --market")
    root = reading_root(data, on_day(date))
    chosen = _format(fmt, output)
    day = _one_day(root, date)
    if market:
        rows = read_views(
            root,
            lambda con: foreign_market(con, day, top or 10, basket),
            days=[day],
            threads=threads,
        )
        title = f"foreign flow {day.isoformat()}, {basket or 'market'}"
    else:
        rows = read_views(
            root, lambda con: foreign_flow(con, day, top), days=[day], threads=threads
        )
        title = f"foreign flow {day.isoformat()}"
    emit(rows, chosen, output=output, title=title)


def query_command(
    sql: Annotated[str, typer.Argument(help="SQL over the views (see docs/analytics.md).")],
    data: DataOption = None,
    fmt: FormatOption = None,
    output: OutputOption = None,
    threads: ThreadsOption = DUCKDB_THREADS,
) -> None:
    """Run any SQL over the recorded history (views: raw, trades, quotes, session_stats, ...)."""
    from vnrec.analytics.connection import read_views
    from vnrec.analytics.query import parquet_batch, plain_columns, query_batches

    root = reading_root(data)
    chosen = _format(fmt, output)

    def write(con: duckdb.DuckDBPyConnection) -> None:
        batches = query_batches(con, sql)
        emit_batches(
            batches, chosen, columns_of=plain_columns, parquet_of=parquet_batch, output=output
        )

    read_views(root, write, threads=threads)


def verify_command(
    date: DateOption,
    data: DataOption = None,
    fmt: Annotated[
        ReportFormat | None,
        typer.Option("--format", "-f", help="table or json (default: table on a terminal)."),
    ] = None,
    threads: ThreadsOption = DUCKDB_THREADS,
) -> None:
    """Check a recorded day: parts, seq, completeness, repeats, time order, coverage.

    Exit status 1 when the day is damaged (storage integrity); warnings do not fail."""
    from vnrec.analytics.verify import verify_day

    root = reading_root(data, on_day(date))
    terminal = default_format() is OutputFormat.table
    chosen = fmt or (ReportFormat.table if terminal else ReportFormat.json)
    report = verify_day(root, parse_day(date), threads=threads)
    if chosen is ReportFormat.json:
        write_stdout(to_json(report.to_dict()).decode() + "\n")
    else:
        write_stdout(report.render())
    if report.damaged:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("stats")(stats_command)
    app.command("candles")(candles_command)
    app.command("alerts")(alerts_command)
    app.command("basis")(basis_command)
    app.command("foreign")(foreign_command)
    app.command("query")(query_command)
    app.command("verify")(verify_command)
