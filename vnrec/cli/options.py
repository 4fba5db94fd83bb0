"""Options shared by every command, and where their defaults come from.

Only the CLI reads the environment; everything below it receives explicit values."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from vnrec.errors import BadInputError
from vnrec.selection import DaySelection

if TYPE_CHECKING:
    from vnrec.remote.mirror import RemoteRoot

DataOption = Annotated[
    Path | None,
    typer.Option(
        "--data",
        help="Data root (default: $VNREC_DATA, else ./data).",
        show_default=False,
    ),
]


def remote_url(flag: Path | str | None, environ: Mapping[str, str] | None = None) -> str | None:
    """The s3:// URL that --data (or $VNREC_DATA) names, if it names one. (A Path made of
    "s3://b/p" reads "s3:/b/p".)"""
    env = os.environ if environ is None else environ
    text = str(flag) if flag is not None else env.get("VNREC_DATA", "")
    if text.startswith("s3://"):
        return text
    if text.startswith("s3:/"):
        return "s3://" + text[len("s3:/") :]
    return None


def resolve_data_root(flag: Path | None, environ: Mapping[str, str] | None = None) -> Path:
    """The local data root. A command that writes refuses an s3:// root (`vnrec push`
    uploads compacted days)."""
    env = os.environ if environ is None else environ
    url = remote_url(flag, env)
    if url is not None:
        raise BadInputError(
            f"--data {url}: this command needs a local data root (object storage is read by"
            " replay, stats, basis, foreign, candles, alerts, query, ls, verify and serve;"
            " `vnrec push` fills it)"
        )
    if flag is not None:
        return flag
    if env.get("VNREC_DATA"):
        return Path(env["VNREC_DATA"])
    return Path("data")


def remote_root(flag: Path | None, environ: Mapping[str, str] | None = None) -> RemoteRoot | None:
    """The s3:// root that --data (or $VNREC_DATA) names, with the local cache its days are
    mirrored into: $VNREC_CACHE (default ~/.cache/vnrec)/s3/<endpoint>/<bucket>/<prefix>.
    Endpoint and credentials: the standard AWS variables, read by boto3."""
    env = os.environ if environ is None else environ
    url = remote_url(flag, env)
    if url is None:
        return None
    from vnrec.remote.mirror import RemoteRoot
    from vnrec.remote.s3 import S3Location

    location = S3Location.parse(url)
    cache = Path(env.get("VNREC_CACHE") or Path.home() / ".cache" / "vnrec")
    endpoint = env.get("AWS_ENDPOINT_URL", "aws").split("://")[-1].replace(":", "_").strip("/")
    return RemoteRoot(url, cache / "s3" / endpoint / location.bucket / location.prefix)


def reading_root(
    flag: Path | None,
    wanted: Callable[[dt.date], bool] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Path:
    """The data root a reading command runs on: the local one, or for an s3:// root a
    local mirror of the remote days that `wanted` keeps (all when None)."""
    remote = remote_root(flag, environ)
    if remote is None:
        return existing_root(resolve_data_root(flag, environ))
    return remote.fetch(wanted)


def existing_root(root: Path) -> Path:
    """`root`, when it is a directory: reading a mistyped path would print nothing and
    succeed, and a writer other than import or record would create it."""
    if not root.exists():
        raise BadInputError(
            f"no data root at {root} (--data or $VNREC_DATA; `vnrec import`, `vnrec record`"
            " or `vnrec demo` make one)"
        )
    if not root.is_dir():
        raise BadInputError(f"the data root {root} is not a directory")
    return root


def parse_day(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        raise BadInputError(f"not a date (expected YYYY-MM-DD): {text!r}") from exc


def on_day(date: str) -> DaySelection:
    """The day of a --date option."""
    return DaySelection.one(parse_day(date))


def between(start: str | None, end: str | None) -> DaySelection:
    """The days of a range option (open ends: no bound)."""
    first = parse_day(start) if start else dt.date.min
    last = parse_day(end) if end else dt.date.max
    return DaySelection(first, last, f"from {start or 'the first day'} to {end or 'the last'}")
