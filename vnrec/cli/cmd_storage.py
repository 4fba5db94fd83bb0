"""Commands over the storage layer: `import`, `ls`, `compact`, `recover`."""

from __future__ import annotations

import dataclasses
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from vnrec.cli.options import (
    DataOption,
    existing_root,
    parse_day,
    reading_root,
    resolve_data_root,
)
from vnrec.cli.output import OutputFormat, default_format, emit
from vnrec.defaults import IMPORT_BATCH_LINES
from vnrec.errors import BadInputError

if TYPE_CHECKING:  # imported where used: `vnrec --help` stays fast
    from vnrec.storage.importer import Reject

log = logging.getLogger("vnrec")

FormatOption = Annotated[
    OutputFormat | None,
    typer.Option(
        "--format", "-f", help="table, json or csv (default: table on a terminal, else json)."
    ),
]
MAX_REJECTS_SHOWN = 20


def import_command(
    files: Annotated[
        list[Path],
        typer.Argument(help="JSON Lines files of SSI envelopes (.gz read as such; - for stdin)."),
    ],
    data: DataOption = None,
    append: Annotated[
        bool, typer.Option("--append", help="Add to days that already hold data.")
    ] = False,
    again: Annotated[
        bool,
        typer.Option("--again", help="Import content that was imported before (duplicates it)."),
    ] = False,
    batch_lines: Annotated[
        int, typer.Option("--batch-lines", min=1, help="Lines per part file (bounds memory).")
    ] = IMPORT_BATCH_LINES,
) -> None:
    """Import SSI envelopes from JSON Lines files (seq in line order), all or nothing."""
    from vnrec.cli.memory import keep_freed_heap
    from vnrec.storage.importer import import_files
    from vnrec.storage.layout import Layout

    keep_freed_heap()

    layout = Layout(resolve_data_root(data))
    shown = 0

    def on_reject(reject: Reject) -> None:
        nonlocal shown
        shown += 1
        if shown <= MAX_REJECTS_SHOWN:
            print(f"{reject.source}:{reject.line}: rejected: {reject.reason}", file=sys.stderr)

    report = import_files(
        layout, files, append=append, again=again, on_reject=on_reject, batch_lines=batch_lines
    )
    if not report.lines:  # one line says it all: no per-file "empty" before it
        names = ", ".join(str(f) for f in files)
        raise BadInputError(
            f"nothing to import: {names} {'has' if len(files) == 1 else 'have'} no line"
        )
    for path in report.empty:
        print(f"{path}: empty, nothing to import", file=sys.stderr)
    for day in sorted(report.days):
        done = report.days[day]
        print(
            f"{day}: imported {done.rows:,} envelopes as seq {done.first_seq}-{done.last_seq}",
            file=sys.stderr,
        )
    if report.rejected:
        more = report.rejected - min(report.rejected, MAX_REJECTS_SHOWN)
        if more:
            print(f"... and {more:,} more rejected lines", file=sys.stderr)
        files_text = ", ".join(str(p) for p in report.rejects_files)
        print(
            f"rejected {report.rejected:,} of {report.lines:,} lines; kept in {files_text}",
            file=sys.stderr,
        )
        raise typer.Exit(1)


def ls_command(
    data: DataOption = None,
    date: Annotated[str | None, typer.Option("--date", help="Only this day (YYYY-MM-DD).")] = None,
    fmt: FormatOption = None,
) -> None:
    """List recorded days: rows, symbols, event times, seq range and bytes per table."""
    from vnrec.storage.inventory import inventory, legacy_days
    from vnrec.storage.layout import Layout

    layout = Layout(reading_root(data))
    days = [parse_day(date)] if date else None
    for day in legacy_days(layout, days):
        print(
            f"{day}: part files without a commit log (vnrec 0.1), not listed;"
            " `vnrec recover` adopts them",
            file=sys.stderr,
        )
    entries = inventory(layout, days)
    rows = [dataclasses.asdict(e) for e in entries]
    emit(rows, fmt or default_format(), title=f"{layout.root}")


def compact_command(
    date: Annotated[str, typer.Option("--date", help="The day to compact (YYYY-MM-DD).")],
    data: DataOption = None,
) -> None:
    """Merge a day's part files into one file per table, atomically, and store the day's
    session stats (for `vnrec stats`), basis rows (for `vnrec basis`) and alerts (for
    `vnrec alerts`)."""
    from vnrec.analytics.precompute import derive_day_results
    from vnrec.replay.stored import derive_day_alerts
    from vnrec.storage.alerts_cache import fresh_alerts
    from vnrec.storage.basis_cache import fresh_basis_cache
    from vnrec.storage.compact import compact_day
    from vnrec.storage.layout import Layout
    from vnrec.storage.stats_cache import cached_stats

    layout = Layout(existing_root(resolve_data_root(data)))
    report = compact_day(layout, parse_day(date))
    for table, (parts, rows) in report.tables.items():
        state = f"{parts} parts merged" if parts > 1 else "already one file"
        print(f"{report.day} {table}: {rows:,} rows, {state}", file=sys.stderr)
    if cached_stats(layout, report.day) is None or fresh_basis_cache(layout, report.day) is None:
        stored = derive_day_results(layout, report.day)
        if stored is not None:
            print(f"{report.day} session stats: stored in {stored.stats}", file=sys.stderr)
            print(f"{report.day} basis rows: stored in {stored.basis}", file=sys.stderr)
    if fresh_alerts(layout, report.day) is None:
        path = derive_day_alerts(layout, report.day)
        if path is not None:
            print(f"{report.day} alerts: stored in {path}", file=sys.stderr)


def recover_command(
    data: DataOption = None,
    date: Annotated[str | None, typer.Option("--date", help="Only this day (YYYY-MM-DD).")] = None,
) -> None:
    """Finish what interrupted writers left: commit the recorder's journal, drop unfinished
    imports and stray files, adopt days written by vnrec 0.1."""
    from vnrec.storage.layout import Layout
    from vnrec.storage.recover import recover_root

    layout = Layout(existing_root(resolve_data_root(data)))
    reports = recover_root(layout, [parse_day(date)] if date else None)
    # What was done is on stderr already: every writer logs its recovery.
    if not any(report.lines() for report in reports):
        checked = f"{len(reports)} day{'' if len(reports) == 1 else 's'} checked"
        print(f"{layout.root}: nothing to recover ({checked})", file=sys.stderr)


def register(app: typer.Typer) -> None:
    app.command("import")(import_command)
    app.command("ls")(ls_command)
    app.command("compact")(compact_command)
    app.command("recover")(recover_command)
