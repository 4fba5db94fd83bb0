"""`vnrec replay`: a recorded day through the tracker pipeline; results on stdout, progress
and timings on stderr, derived series as Parquet with `--out`."""

from __future__ import annotations

import contextlib
import enum
import io
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TextIO

import typer

from vnrec.cli.options import DataOption, parse_day, resolve_data_root
from vnrec.cli.output import OutputFormat, default_format, emit, to_json

if TYPE_CHECKING:  # imported where used: `vnrec --help` stays fast
    from vnrec.replay import ReplayResult
    from vnrec.replay.columnar import TradesSink

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


def _render_table(result: ReplayResult) -> str:
    parts = [f"replay {result.date.isoformat()}: {result.events:,} messages\n"]
    stats = [{k: row[k] for k in STATS_TABLE_KEYS} for row in result.stats]
    sections: list[tuple[str, list[dict[str, Any]]]] = [
        ("session stats", stats),
        ("foreign", result.foreign),
        ("index", result.index),
        ("basis", result.basis),
    ]
    for title, rows in sections:
        buffer = io.StringIO()
        emit(rows, OutputFormat.table, title=title, stdout=buffer)
        parts.append("\n" + buffer.getvalue())
    return "".join(parts)


@contextlib.contextmanager
def _trade_sinks(directory: Path | None) -> Iterator[list[TradesSink]]:
    """The classified-trades writer of --out (none without it), closed after the replay."""
    from vnrec.replay.outputs import TradeWriter

    if directory is None:
        yield []
        return
    with TradeWriter(directory / "trades.parquet") as writer:
        yield [writer]


def replay_command(
    date: Annotated[str, typer.Option("--date", help="The day to replay (YYYY-MM-DD).")],
    data: DataOption = None,
    fmt: Annotated[
        ReplayFormat | None,
        typer.Option("--format", "-f", help="table or json (default: table on a terminal)."),
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
        typer.Option("--out", help="Write trades, basis, foreign flow, index as Parquet here."),
    ] = None,
) -> None:
    """Replay a recorded day through the trackers (session stats, foreign, index, basis)."""
    from vnrec.replay import replay
    from vnrec.replay.outputs import out_dir, write_series

    chosen = OutputFormat(fmt.value) if fmt is not None else default_format()
    day = parse_day(date)
    root = resolve_data_root(data)
    directory = None if out is None else out_dir(out, day)
    progress = ProgressLine(f"replay {day.isoformat()}", sys.stderr, time.monotonic)
    with _trade_sinks(directory) as sinks:
        result = replay(
            day,
            data=root,
            symbols=symbols,
            start=start,
            end=end,
            speed=speed,
            progress=progress,
            trade_sinks=sinks,
            keep_series=out is not None,
        )
    progress.finish(result.events)
    if symbols:
        seen = {row["symbol"] for part in (result.stats, result.foreign) for row in part}
        for symbol in sorted({s.strip() for s in symbols.split(",") if s.strip()} - seen):
            print(f"--symbols: no trade or foreign message of {symbol} on {day}", file=sys.stderr)
    if directory is not None:
        for path in write_series(directory, result.trackers):
            print(f"wrote {path}", file=sys.stderr)
        print(f"wrote {directory / 'trades.parquet'}", file=sys.stderr)
    render_results([result], chosen)


def render_results(results: Sequence[ReplayResult], fmt: OutputFormat) -> None:
    """Each day's result on stdout: the SPEC section 5 JSON object, or terminal tables."""
    for result in results:
        if fmt is OutputFormat.json:
            sys.stdout.write(to_json(result.to_dict()).decode() + "\n")
        else:
            sys.stdout.write(_render_table(result))
    sys.stdout.flush()


def register(app: typer.Typer) -> None:
    app.command("replay")(replay_command)
