"""Secrets never reach logs or tracebacks: the redactor masks them wherever they appear."""

from __future__ import annotations

import logging

import pytest

from vnrec.ssi.secrets import MASK, RedactingFilter, Redactor


def test_redactor_masks_every_occurrence_longest_first() -> None:
    """Known secrets are masked, including one that contains another."""
    redactor = Redactor()
    redactor.add("abcd")
    redactor.add("abcdefgh")
    assert redactor.redact("x abcdefgh y abcd z") == f"x {MASK} y {MASK} z"
    redactor.add("ab")  # too short to mask safely
    assert redactor.redact("ab") == "ab"


def test_log_records_and_tracebacks_are_masked(caplog: pytest.LogCaptureFixture) -> None:
    """A library logging the token in its message or in an exception is masked."""
    redactor = Redactor()
    redactor.add("eyJtoken.payload.sig")
    logger = logging.getLogger("SignalRCoreClient")
    caplog.handler.addFilter(RedactingFilter(redactor))
    try:
        raise ValueError("bad header Bearer eyJtoken.payload.sig")
    except ValueError:
        logger.exception("headers %s", {"Authorization": "Bearer eyJtoken.payload.sig"})
    assert "eyJtoken" not in caplog.text
    assert "Bearer ***" in caplog.text and "ValueError: bad header Bearer ***" in caplog.text


def test_url_encoded_forms_are_masked_too() -> None:
    """A token that travels in a URL is masked in its percent-encoded forms as well."""
    redactor = Redactor()
    token = "0f5e7c2a-1b2c-4d5e-8f90-123456789abc:9f8e7d6c5b4a"
    redactor.add(token)
    url = "wss://h/signalr/connect?transport=webSockets&connectionToken=0f5e7c2a-1b2c-4d5e-8f90"
    url += "-123456789abc%3A9f8e7d6c5b4a&connectionData=x"
    assert redactor.redact(url).endswith("connectionToken=***&connectionData=x")
    assert redactor.redact(f"token {token}") == f"token {MASK}"


def test_debug_logs_of_a_recording_mask_the_connection_token(tmp_path: object) -> None:
    """`vnrec -v record`: every connectionToken the libraries log is masked, from the first
    log line after the negotiation on."""
    import os
    import re
    import subprocess
    import sys
    from pathlib import Path

    from tests.recorder.harness import DAY
    from vnrec.emulator.auth import Credentials
    from vnrec.emulator.config import EmulatorConfig
    from vnrec.emulator.market import MarketConfig
    from vnrec.emulator.server import EmulatorServer

    assert isinstance(tmp_path, Path)
    market = MarketConfig(DAY, symbols=1, activity=0.02)
    config = EmulatorConfig(credentials=Credentials("consumer-x", "secret-of-consumer-x"))
    with EmulatorServer.synthetic(config, market) as server:
        env = {
            **os.environ,
            "SSI_CONSUMER_ID": "consumer-x",
            "SSI_CONSUMER_SECRET": "secret-of-consumer-x",
            "SSI_URL": server.url,
            "SSI_STREAM_URL": server.stream_url,
        }
        result = subprocess.run(
            [sys.executable, "-m", "vnrec.cli.main", "-v", "record", "--force",
             "--duration", "3", "--data", str(tmp_path / "data")],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    logged = re.findall(r"connectionToken=([^&\s'\"]+)", result.stderr + result.stdout)
    assert logged, "the debug log shows no connection URL: the test would prove nothing"
    assert set(logged) == {MASK}
