"""`vnrec emulator`: serves a day to the real client, prints the URLs on stderr, refuses
bad input with one line."""

from __future__ import annotations

import socket
import threading
import time

import typer
from ssi_fc_data.fc_md_client import MarketDataClient
from ssi_fc_data.fc_md_stream import MarketDataStream
from typer.testing import CliRunner, Result

from vnrec.cli import cmd_emulator
from vnrec.emulator.market import SyntheticMarket
from vnrec.errors import BadInputError

from .conftest import CLIENT_WARNINGS, WAIT, Receiver, client_config, small_market

pytestmark = CLIENT_WARNINGS


def _app() -> typer.Typer:
    app = typer.Typer()
    cmd_emulator.register(app)
    app.command("noop")(lambda: None)  # a second command keeps `emulator` a subcommand
    return app


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _wait_listening(port: int) -> None:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise AssertionError(f"nothing listens on port {port}")


def test_serves_a_day_until_done(receiver: Receiver) -> None:
    """With --exit-when-done the command serves the day to a client, then exits 0; the
    URLs to use are printed on stderr."""
    port = _free_port()
    expected = SyntheticMarket(small_market(seed=0, symbols=1, activity=0.02)).envelopes()
    args = [
        "emulator",
        "--port",
        str(port),
        "--date",
        "2026-02-06",
        "--symbols",
        "1",
        "--activity",
        "0.02",
        "--exit-when-done",
    ]
    results: list[Result] = []
    runner = threading.Thread(target=lambda: results.append(CliRunner().invoke(_app(), args)))
    runner.start()
    _wait_listening(port)
    config = client_config(f"http://127.0.0.1:{port}/")
    MarketDataStream(config, MarketDataClient(config)).start(
        receiver.on_message, receiver.on_error, "X-TRADE:ALL,X-QUOTE:ALL,R:ALL,MI:ALL,B:ALL,F:ALL"
    )
    runner.join(WAIT)
    assert receiver.wait_messages(len(expected))
    assert results and results[0].exit_code == 0
    assert f"SSI_URL=http://127.0.0.1:{port}/" in results[0].stderr
    assert receiver.messages == expected


def test_non_trading_day_is_refused() -> None:
    """A holiday raises the library's BadInputError (the CLI prints it as one line)."""
    result = CliRunner().invoke(_app(), ["emulator", "--port", "0", "--date", "2026-02-17"])
    assert isinstance(result.exception, BadInputError)
    assert "not a trading day" in str(result.exception)


def test_speed_and_rate_are_exclusive() -> None:
    """--speed and --rate together are refused."""
    result = CliRunner().invoke(_app(), ["emulator", "--speed", "60", "--rate", "100"])
    assert isinstance(result.exception, BadInputError)
    assert "either a speed or a rate" in str(result.exception)
