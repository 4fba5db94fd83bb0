"""`vnrec emulator`: serve a synthetic (or recorded) trading day as SSI FastConnect Data v2
on loopback, for the unmodified `ssi-fc-data` client. Logs go to stderr; it runs until
Ctrl-C, or until the day has been sent with `--exit-when-done`."""

from __future__ import annotations

import datetime as dt
import logging
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from vnrec.calendar import DEFAULT_CALENDAR, to_hcm
from vnrec.cli.options import parse_day
from vnrec.emulator.auth import Credentials
from vnrec.emulator.config import (
    DEFAULT_CONSUMER_ID,
    DEFAULT_CONSUMER_SECRET,
    DEFAULT_HOST,
    DEFAULT_KEEPALIVE,
    EmulatorConfig,
    Faults,
    Pacing,
)

if TYPE_CHECKING:  # imported where used: `vnrec --help` stays fast
    pass
from vnrec.errors import BadInputError

log = logging.getLogger("vnrec.emulator")

_FAULTS = "Fault injection"
_DONE_POLL = 0.2  # seconds between checks of --exit-when-done


def _default_day() -> dt.date:
    """The latest trading day on or before today in Asia/Ho_Chi_Minh."""
    today = to_hcm(dt.datetime.now(dt.UTC)).date()
    if DEFAULT_CALENDAR.is_trading_day(today):
        return today
    return DEFAULT_CALENDAR.previous_trading_day(today)


def emulator(
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1 (0: any free port).")] = 8765,
    host: Annotated[str, typer.Option(help="Loopback address to bind.")] = DEFAULT_HOST,
    date: Annotated[
        str | None,
        typer.Option(help="Trading day to synthesize, YYYY-MM-DD (default: the latest one)."),
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the synthetic market.")] = 0,
    symbols: Annotated[int, typer.Option(help="Number of stocks, VN30 first (max 1600).")] = 30,
    activity: Annotated[float, typer.Option(help="Multiplier of every event rate.")] = 1.0,
    snapshots: Annotated[bool, typer.Option(help="Also send combined X messages.")] = False,
    force: Annotated[bool, typer.Option(help="Synthesize a non-trading day anyway.")] = False,
    speed: Annotated[
        float | None, typer.Option(help="Compress event time N times (360: a day in ~1 min).")
    ] = None,
    rate: Annotated[
        float | None, typer.Option(help="Send N messages per second, ignoring event times.")
    ] = None,
    hold: Annotated[
        bool,
        typer.Option(help="With --speed/--rate: stop the clock while nobody is subscribed."),
    ] = False,
    from_data: Annotated[
        Path | None, typer.Option("--from-data", help="Serve a recorded day from this data root.")
    ] = None,
    replay_date: Annotated[
        str | None, typer.Option(help="The recorded day to serve with --from-data.")
    ] = None,
    consumer_id: Annotated[
        str | None,
        typer.Option(help="Accepted consumer ID (default: $SSI_CONSUMER_ID, else a demo one)."),
    ] = None,
    consumer_secret: Annotated[
        str | None,
        typer.Option(help="Accepted secret (default: $SSI_CONSUMER_SECRET, else a demo one)."),
    ] = None,
    keepalive: Annotated[float, typer.Option(help="Seconds between keep-alive frames.")] = (
        DEFAULT_KEEPALIVE
    ),
    exit_when_done: Annotated[
        bool, typer.Option(help="Stop once the whole day has been sent.")
    ] = False,
    drop_after: Annotated[
        int | None,
        typer.Option(help="Drop a connection's socket after N messages.", rich_help_panel=_FAULTS),
    ] = None,
    drop_connections: Annotated[
        int, typer.Option(help="How many connections --drop-after hits.", rich_help_panel=_FAULTS)
    ] = 1,
    drop_probability: Annotated[
        float,
        typer.Option(
            help="Drop the socket after any message with this chance (seeded).",
            rich_help_panel=_FAULTS,
        ),
    ] = 0.0,
    lose_on_drop: Annotated[
        int, typer.Option(help="Messages lost (a gap) at each drop.", rich_help_panel=_FAULTS)
    ] = 0,
    repeat_on_reconnect: Annotated[
        int,
        typer.Option(
            help="Resend the last K messages to a re-subscribing client.", rich_help_panel=_FAULTS
        ),
    ] = 0,
    malformed_every: Annotated[
        int,
        typer.Option(
            help="Send a malformed frame before every Nth message.", rich_help_panel=_FAULTS
        ),
    ] = 0,
    reject_token: Annotated[
        int,
        typer.Option(
            help="Refuse the first N stream negotiations with 401 (-1: all).",
            rich_help_panel=_FAULTS,
        ),
    ] = 0,
    stall_after: Annotated[
        int | None,
        typer.Option(
            help="After N messages a connection gets nothing more (stays open).",
            rich_help_panel=_FAULTS,
        ),
    ] = None,
    stall_connections: Annotated[
        int, typer.Option(help="How many connections --stall-after hits.", rich_help_panel=_FAULTS)
    ] = 1,
    slow_after: Annotated[
        int | None,
        typer.Option(help="After the Nth message, send slowly.", rich_help_panel=_FAULTS),
    ] = None,
    slow_rate: Annotated[
        float, typer.Option(help="Messages per second once slowed.", rich_help_panel=_FAULTS)
    ] = 10.0,
    fault_seed: Annotated[
        int, typer.Option(help="Seed of the random faults.", rich_help_panel=_FAULTS)
    ] = 0,
) -> None:
    """Serve SSI FastConnect Data v2 on loopback: a synthetic day, or a recorded one."""
    from vnrec.emulator.market import MarketConfig
    from vnrec.emulator.server import EmulatorServer

    try:
        faults = Faults(
            drop_after=drop_after,
            drop_connections=drop_connections,
            drop_probability=drop_probability,
            lose_on_drop=lose_on_drop,
            repeat_on_reconnect=repeat_on_reconnect,
            malformed_every=malformed_every,
            reject_token=reject_token,
            stall_after=stall_after,
            stall_connections=stall_connections,
            slow_after=slow_after,
            slow_rate=slow_rate,
            seed=fault_seed,
        )
        config = EmulatorConfig(
            host=host,
            port=port,
            credentials=Credentials(
                consumer_id or os.environ.get("SSI_CONSUMER_ID") or DEFAULT_CONSUMER_ID,
                consumer_secret or os.environ.get("SSI_CONSUMER_SECRET") or DEFAULT_CONSUMER_SECRET,
            ),
            pacing=Pacing(speed=speed, rate=rate, hold=hold),
            faults=faults,
            keepalive=keepalive,
        )
    except ValueError as exc:
        raise BadInputError(str(exc)) from None
    if from_data is not None:
        if replay_date is None:
            raise BadInputError("--from-data needs --replay-date")
        server = EmulatorServer.recorded(config, from_data, parse_day(replay_date), seed=seed)
    else:
        day = parse_day(date) if date else _default_day()
        market = MarketConfig(
            day, seed=seed, symbols=symbols, activity=activity, snapshots=snapshots, force=force
        )
        server = EmulatorServer.synthetic(config, market)
    server.start()
    try:
        print(f"SSI_URL={server.url} SSI_STREAM_URL={server.stream_url}", file=sys.stderr)
        if config.credentials == Credentials(DEFAULT_CONSUMER_ID, DEFAULT_CONSUMER_SECRET):
            # The built-in demo pair is public; a real secret is never printed.
            print(
                f"SSI_CONSUMER_ID={DEFAULT_CONSUMER_ID}"
                f" SSI_CONSUMER_SECRET={DEFAULT_CONSUMER_SECRET}",
                file=sys.stderr,
            )
        log.info("serving until Ctrl-C%s", " or the end of the day" if exit_when_done else "")
        while not (exit_when_done and server.wait_finished(_DONE_POLL)):
            if not exit_when_done:
                time.sleep(_DONE_POLL)
    except KeyboardInterrupt:
        log.info("interrupted")
    finally:
        server.stop()


def register(app: typer.Typer) -> None:
    app.command("emulator")(emulator)
