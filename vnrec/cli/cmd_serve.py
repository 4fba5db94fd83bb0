"""`vnrec serve`: the live board in the browser, following today's recording or replaying a
recorded day (vnrec.serve)."""

from __future__ import annotations

import ipaddress
import logging
import socket
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from vnrec.cli.options import DataOption, on_day, parse_day, reading_root, resolve_data_root
from vnrec.errors import BadInputError, VnrecError

if TYPE_CHECKING:
    from vnrec.serve.session import Driver

log = logging.getLogger(__name__)

LOOPBACK_NAMES = ("localhost",)


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _listen(host: str, port: int) -> socket.socket:
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        listener = socket.socket(family, kind, proto)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(address)
        listener.listen(128)
    except OSError as exc:
        raise VnrecError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    return listener


def serve_command(
    data: DataOption = None,
    host: Annotated[
        str, typer.Option("--host", help="Address to bind; not loopback needs --token.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=0, max=65535, help="0: any free port.")] = 8000,
    replay: Annotated[
        str | None,
        typer.Option("--replay", help="Play this recorded day (YYYY-MM-DD) instead of live."),
    ] = None,
    speed: Annotated[
        float, typer.Option("--speed", help="Replay: N x real time, by event time.")
    ] = 1.0,
    date: Annotated[
        str | None,
        typer.Option("--date", help="Live: the day to follow (default: today in Vietnam)."),
    ] = None,
    token: Annotated[
        str | None,
        typer.Option(
            "--token",
            envvar="VNREC_SERVE_TOKEN",
            help="Required as `Authorization: Bearer T` or ?token=T (env VNREC_SERVE_TOKEN).",
            show_envvar=False,
        ),
    ] = None,
    throttle_ms: Annotated[
        int, typer.Option("--throttle-ms", min=0, help="Per-channel push interval.")
    ] = 500,
) -> None:
    """Serve the market board: live from today's recording on this data root (read-only,
    in this process; the recorder is never touched), or a recorded day replayed by event
    time at N x with pause, resume and jump from the page."""
    from vnrec.storage.closures import calendar_for

    root = reading_root(data, on_day(replay)) if replay else resolve_data_root(data)
    if not is_loopback(host) and not token:
        raise BadInputError(
            f"--host {host} is not loopback: serving the market data beyond this machine needs"
            " --token (or VNREC_SERVE_TOKEN)"
        )
    if replay is not None and date is not None:
        raise BadInputError("--date is the day to follow live; with --replay give one day")
    if not root.is_dir():
        raise BadInputError(f"--data {root}: no such directory")
    calendar = calendar_for(root)
    driver: Driver
    if replay is not None:
        from vnrec.serve.player import DayPlayer

        driver = DayPlayer(root, parse_day(replay), calendar, speed)
        what = f"replay of {replay} at {speed:g}x"
    else:
        from vnrec.serve.follow import LiveFollower

        day = parse_day(date) if date is not None else None
        driver = LiveFollower(root, calendar, day)
        what = f"live, {day.isoformat() if day else 'today'}'s recording of {root}"
    _run(root, host, port, driver, token, throttle_ms / 1000, what)


def _run(
    root: Path,
    host: str,
    port: int,
    driver: Driver,
    token: str | None,
    throttle: float,
    what: str,
) -> None:
    import uvicorn

    from vnrec.serve.app import build_app

    failures: list[BaseException] = []
    servers: list[uvicorn.Server] = []

    def stop(error: BaseException) -> None:
        """A failure of the feed or of a push: stop serving, report it after."""
        failures.append(error)
        for server in servers:
            server.should_exit = True

    app, _ = build_app(root, driver, token=token, throttle=throttle, on_failure=stop)
    listener = _listen(host, port)
    bound = listener.getsockname()
    shown = f"[{bound[0]}]" if ":" in bound[0] else bound[0]
    config = uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,  # its lines would carry ?token=
        server_header=False,
        ws="websockets-sansio",
        lifespan="on",
    )
    servers.append(uvicorn.Server(config))
    print(f"vnrec serve: http://{shown}:{bound[1]}/ ({what})", file=sys.stderr, flush=True)
    try:
        servers[0].run(sockets=[listener])
    except KeyboardInterrupt:  # uvicorn stops cleanly on Ctrl-C, then raises it again
        print("vnrec serve: stopped", file=sys.stderr)
    if failures:
        error = failures[0]
        if isinstance(error, VnrecError | OSError):
            raise error
        raise VnrecError(f"serve stopped: {type(error).__name__}: {error}") from error


def register(app: typer.Typer) -> None:
    app.command("serve")(serve_command)
