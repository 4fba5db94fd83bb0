"""Options shared by every command, and where their defaults come from.

Only the CLI reads the environment; everything below it receives explicit values."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Annotated

import typer

from vnrec.errors import BadInputError

DataOption = Annotated[
    Path | None,
    typer.Option(
        "--data",
        help="Data root (default: $VNREC_DATA, else ./data).",
        show_default=False,
    ),
]


def resolve_data_root(flag: Path | None, environ: dict[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    if flag is not None:
        return flag
    if env.get("VNREC_DATA"):
        return Path(env["VNREC_DATA"])
    return Path("data")


def parse_day(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        raise BadInputError(f"not a date (expected YYYY-MM-DD): {text!r}") from exc
