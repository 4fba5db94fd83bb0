"""`vnrec calendar`: the trading calendar a data root uses, and the closures kept in it."""

from __future__ import annotations

import datetime as dt
import sys
from typing import TYPE_CHECKING, Annotated

import typer

from vnrec.calendar import warn_if_unlisted
from vnrec.cli.options import DataOption, parse_day, resolve_data_root
from vnrec.cli.output import OutputFormat, default_format, emit
from vnrec.errors import BadInputError

# The HOSE opened in July 2000; a century on is as far as a weekday calendar means anything.
MIN_YEAR, MAX_YEAR = 2000, 2100

if TYPE_CHECKING:  # imported where used: `vnrec --help` stays fast
    pass


def calendar_command(
    year: Annotated[
        int | None, typer.Option("--year", help="The year to list (default: this year).")
    ] = None,
    close: Annotated[
        list[str] | None,
        typer.Option("--close", help="Add a day the exchanges close (YYYY-MM-DD); repeatable."),
    ] = None,
    reopen: Annotated[
        list[str] | None,
        typer.Option("--open", help="Remove a closure added with --close; repeatable."),
    ] = None,
    data: DataOption = None,
    fmt: Annotated[
        OutputFormat | None,
        typer.Option("--format", "-f", help="table, json or csv (default: table on a terminal)."),
    ] = None,
) -> None:
    """Non-trading weekdays of a year and where each comes from; add or remove closures."""
    from vnrec.storage.closures import add_closures, calendar_for, closures_path, remove_closures

    root = resolve_data_root(data)
    added = frozenset(parse_day(day) for day in close or [])
    removed = frozenset(parse_day(day) for day in reopen or [])
    if added & removed:
        raise BadInputError("a day cannot be both closed and opened")
    for day in sorted(add_closures(root, added)) if added else ():
        print(f"{day}: closure added to {closures_path(root)}", file=sys.stderr)
    for day in sorted(remove_closures(root, removed)) if removed else ():
        print(f"{day}: closure removed from {closures_path(root)}", file=sys.stderr)
    wanted = year if year is not None else dt.date.today().year
    if not MIN_YEAR <= wanted <= MAX_YEAR:
        raise BadInputError(f"--year {wanted}: give a year from {MIN_YEAR} to {MAX_YEAR}")
    calendar = calendar_for(root)
    warn_if_unlisted(wanted)
    rows = [
        {"date": day.isoformat(), "weekday": f"{day:%A}", "source": source}
        for day, source in calendar.non_trading_weekdays(wanted)
    ]
    emit(rows, fmt or default_format(), title=f"non-trading weekdays {wanted}")


def register(app: typer.Typer) -> None:
    app.command("calendar")(calendar_command)
