"""The recorder's SSI settings: one typed object reading, in this order of precedence, the
command-line flags, the environment and a `.env` file in the working directory
(pydantic-settings). The consumer secret is a `SecretStr`: it never shows in a repr, a
log line or a validation error."""

from __future__ import annotations

from pathlib import Path

from pydantic import SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from vnrec.errors import BadInputError
from vnrec.ssi.client import DEFAULT_STREAM_URL, DEFAULT_URL, SsiSettings

DOTENV = Path(".env")


class SsiEnvironment(BaseSettings):
    """`SSI_CONSUMER_ID`, `SSI_CONSUMER_SECRET`, `SSI_URL`, `SSI_STREAM_URL`."""

    model_config = SettingsConfigDict(
        env_prefix="SSI_", env_file=DOTENV, env_file_encoding="utf-8", extra="ignore"
    )

    consumer_id: str = ""
    consumer_secret: SecretStr = SecretStr("")
    url: str = DEFAULT_URL
    stream_url: str = DEFAULT_STREAM_URL


def ssi_settings(
    *,
    consumer_id: str | None = None,
    url: str | None = None,
    stream_url: str | None = None,
    dotenv: Path = DOTENV,
) -> SsiSettings:
    """The settings of one recording: flags given here win over the environment, which
    wins over `dotenv`; a missing consumer id or secret is one clear line."""
    flags = {
        name: value
        for name, value in (("consumer_id", consumer_id), ("url", url), ("stream_url", stream_url))
        if value
    }
    try:
        found = SsiEnvironment(_env_file=dotenv, **flags)  # type: ignore[call-arg,arg-type]
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise BadInputError(f"SSI settings: {problems}") from None
    except UnicodeDecodeError as exc:
        # Never the text itself: the file holds the secret.
        raise BadInputError(
            f"cannot read {dotenv.resolve()}: not UTF-8 text (byte {exc.start}: {exc.reason})"
        ) from None
    if not found.consumer_id or not found.consumer_secret.get_secret_value():
        raise BadInputError(
            "SSI credentials missing: set SSI_CONSUMER_ID and SSI_CONSUMER_SECRET"
            " (environment or .env)"
        )
    return SsiSettings(
        consumer_id=found.consumer_id,
        consumer_secret=found.consumer_secret,
        # ssi-fc-data appends "api/..." to the URL as given: its slash is not optional.
        url=found.url if found.url.endswith("/") else f"{found.url}/",
        stream_url=found.stream_url,
    )
