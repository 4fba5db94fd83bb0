"""Secrets never reach logs or tracebacks: the redactor masks them wherever they appear."""

from __future__ import annotations

import logging

import pytest

from vnrec.ssi.secrets import MASK, RedactingFilter, Redactor, Secret


def test_secret_hides_itself() -> None:
    """repr, str and f-strings of a Secret never show the value."""
    secret = Secret("hunter2-very-secret")
    assert "hunter2" not in repr(secret) + str(secret) + f"{secret}"
    assert secret.reveal() == "hunter2-very-secret"


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
