"""Access tokens as SSI issues them: an HS256 JWT whose payload carries a real `exp`.

The `ssi-fc-data` client decodes the payload with plain `base64.b64decode` (not the URL-safe
alphabet), so the issuer pads the payload until its base64url form contains no `-` or `_`
and both alphabets decode it the same way.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass

import orjson

DEFAULT_TOKEN_TTL = 8 * 3600  # seconds; the client renews when less than an hour is left


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class Credentials:
    consumer_id: str
    consumer_secret: str

    def __repr__(self) -> str:
        return f"Credentials(consumer_id={self.consumer_id!r}, consumer_secret=<hidden>)"

    def accepts(self, consumer_id: object, consumer_secret: object) -> bool:
        return hmac.compare_digest(str(consumer_id), self.consumer_id) and hmac.compare_digest(
            str(consumer_secret), self.consumer_secret
        )


class TokenIssuer:
    """Issues and checks tokens; `clock` gives epoch seconds (injected for tests)."""

    def __init__(
        self,
        key: bytes,
        *,
        ttl: int = DEFAULT_TOKEN_TTL,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._key = key
        self._ttl = ttl
        self._clock = clock

    def issue(self, subject: str) -> str:
        header = _b64(orjson.dumps({"alg": "HS256", "typ": "JWT"}))
        now = int(self._clock())
        for nonce in itertools.count():
            claims = {"sub": subject, "iat": now, "exp": now + self._ttl, "jti": nonce}
            payload = _b64(orjson.dumps(claims))
            if "-" not in payload and "_" not in payload:
                break
        signing_input = f"{header}.{payload}"
        return f"{signing_input}.{self._sign(signing_input)}"

    def _sign(self, signing_input: str) -> str:
        return _b64(hmac.new(self._key, signing_input.encode(), hashlib.sha256).digest())

    def valid(self, token: str) -> bool:
        """True when the signature is ours and the token has not expired."""
        parts = token.split(".")
        if len(parts) != 3:
            return False
        signing_input = f"{parts[0]}.{parts[1]}"
        if not hmac.compare_digest(self._sign(signing_input), parts[2]):
            return False
        try:
            claims = orjson.loads(_unb64(parts[1]))
        except (ValueError, orjson.JSONDecodeError):
            return False
        expiry = claims.get("exp") if isinstance(claims, dict) else None
        return isinstance(expiry, int) and expiry > self._clock()


def bearer_token(header: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, else None."""
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None
