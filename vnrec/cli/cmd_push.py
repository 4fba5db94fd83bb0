"""`vnrec push`: compacted days to object storage (vnrec.remote.push)."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from vnrec.cli.options import DataOption, parse_day, remote_url, resolve_data_root
from vnrec.errors import BadInputError


def push_command(
    to: Annotated[str, typer.Option("--to", help="Destination: s3://bucket/prefix.")],
    date: Annotated[str | None, typer.Option("--date", help="This day (YYYY-MM-DD).")] = None,
    every: Annotated[
        bool, typer.Option("--all", help="Every compacted day (others are skipped, said why).")
    ] = False,
    data: DataOption = None,
) -> None:
    """Upload compacted days to an S3-compatible object store (endpoint and credentials
    from AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION). A day
    appears remotely only once all its files are uploaded and checked; pushing again
    uploads nothing; an interrupted push is completed by the next one."""
    from vnrec.remote.push import NotCompactedError, push_day
    from vnrec.remote.s3 import ObjectStore
    from vnrec.storage.layout import Layout

    url = remote_url(to)
    if url is None:
        raise BadInputError(f"--to {to}: expected s3://bucket/prefix")
    if (date is None) == (not every):
        raise BadInputError("give --date D or --all")
    root = resolve_data_root(data)
    days = [parse_day(date)] if date is not None else Layout(root).days("raw")
    if not days:
        raise BadInputError(f"no recorded day in {root}")
    store = ObjectStore.connect(url)
    for day in days:
        try:
            report = push_day(store, root, day)
        except NotCompactedError as exc:
            if not every:
                raise
            print(f"{day}: skipped: {exc}", file=sys.stderr)
            continue
        print(report.line(), file=sys.stderr)


def register(app: typer.Typer) -> None:
    app.command("push")(push_command)
