"""The recorder's SSI settings: flags over environment over `.env`, the secret never shown."""

from __future__ import annotations

from pathlib import Path

import pytest

from vnrec.cli.settings import ssi_settings
from vnrec.errors import BadInputError


@pytest.fixture
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ("SSI_CONSUMER_ID", "SSI_CONSUMER_SECRET", "SSI_URL", "SSI_STREAM_URL"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_flags_win_over_the_environment_which_wins_over_dotenv(
    tmp_path: Path, clean_environment: pytest.MonkeyPatch
) -> None:
    """Each setting comes from the first of: flag, environment, .env, default."""
    dotenv = tmp_path / ".env"
    dotenv.write_text(
        "# SSI FastConnect\nSSI_CONSUMER_ID=from-dotenv\nSSI_CONSUMER_SECRET='s3cret-dotenv'\n"
        "SSI_URL=https://dotenv.example/\n"
    )
    clean_environment.setenv("SSI_URL", "https://env.example/")
    settings = ssi_settings(dotenv=dotenv)
    assert (settings.consumer_id, settings.url) == ("from-dotenv", "https://env.example/")
    assert settings.stream_url == "https://fc-datahub.ssi.com.vn/"
    assert settings.consumer_secret.get_secret_value() == "s3cret-dotenv"
    flagged = ssi_settings(consumer_id="from-flag", url="https://flag.example/", dotenv=dotenv)
    assert (flagged.consumer_id, flagged.url) == ("from-flag", "https://flag.example/")
    assert "s3cret" not in repr(settings) + str(settings)


def test_missing_credentials_are_one_line(
    tmp_path: Path, clean_environment: pytest.MonkeyPatch
) -> None:
    """Without a consumer id or secret: one line saying what to set."""
    with pytest.raises(BadInputError, match="SSI credentials missing: set SSI_CONSUMER_ID"):
        ssi_settings(dotenv=tmp_path / "absent.env")


def test_a_url_without_its_trailing_slash_gets_one(
    tmp_path: Path, clean_environment: pytest.MonkeyPatch
) -> None:
    """ssi-fc-data appends `api/...` to the URL as given: `http://host:port` must work."""
    clean_environment.setenv("SSI_CONSUMER_ID", "id")
    clean_environment.setenv("SSI_CONSUMER_SECRET", "secret")
    clean_environment.setenv("SSI_URL", "http://127.0.0.1:8765")
    assert ssi_settings(dotenv=tmp_path / "absent.env").url == "http://127.0.0.1:8765/"


def test_a_dotenv_that_is_not_utf8_is_named_without_its_text(
    tmp_path: Path, clean_environment: pytest.MonkeyPatch
) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_bytes(b"SSI_CONSUMER_ID=id\nSSI_CONSUMER_SECRET=s3cret-\xff\n")
    with pytest.raises(BadInputError, match=rf"cannot read {dotenv}: not UTF-8 text") as raised:
        ssi_settings(dotenv=dotenv)
    assert "s3cret" not in str(raised.value)
