"""`vnrec emulator`: serves a day to the real client, prints the URLs on stderr, refuses
bad input with one line."""

from __future__ import annotations

import subprocess
import sys

import typer
from ssi_fc_data.fc_md_client import MarketDataClient
from ssi_fc_data.fc_md_stream import MarketDataStream
from typer.testing import CliRunner

from vnrec.cli import cmd_emulator
from vnrec.emulator.market import SyntheticMarket
from vnrec.errors import BadInputError

from .conftest import CLIENT_WARNINGS, WAIT, Receiver, client_config, small_market

pytestmark = CLIENT_WARNINGS
ALL = "X-TRADE:ALL,X-QUOTE:ALL,R:ALL,MI:ALL,B:ALL,F:ALL"


def _app() -> typer.Typer:
    app = typer.Typer()
    cmd_emulator.register(app)
    app.command("noop")(lambda: None)  # a second command keeps `emulator` a subcommand
    return app


def test_serves_a_day_until_done(receiver: Receiver) -> None:
    """With --exit-when-done the command serves the day to a client, then exits 0; the
    URLs to use are printed on stderr (with --port 0, that is how a client learns them)."""
    expected = SyntheticMarket(small_market(seed=0, symbols=1, activity=0.02)).envelopes()
    command = [
        sys.executable, "-m", "vnrec.cli.main", "emulator", "--port", "0",
        "--date", "2026-02-06", "--symbols", "1", "--activity", "0.02", "--exit-when-done",
    ]  # fmt: skip
    with subprocess.Popen(command, stderr=subprocess.PIPE, text=True) as proc:
        assert proc.stderr is not None
        try:
            printed = ""
            while not printed.startswith("SSI_URL="):
                printed = proc.stderr.readline()
                assert printed, "the emulator exited without printing its URLs"
            url = printed.split()[0].removeprefix("SSI_URL=")
            config = client_config(url)
            MarketDataStream(config, MarketDataClient(config)).start(
                receiver.on_message, receiver.on_error, ALL
            )
            _, rest = proc.communicate(timeout=WAIT)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert proc.returncode == 0, rest[-2000:]
    assert f"SSI_STREAM_URL={url}" in printed
    assert receiver.wait_messages(len(expected))
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
