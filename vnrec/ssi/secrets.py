"""Keeping the consumer secret and tokens out of every log line, traceback and file.

A `Redactor` holds the secret strings known so far (the consumer secret at start, each
access token and SignalR connection token as it is issued) and replaces them with `***`.
It is installed as a filter on the log handlers and wraps the exception hooks, so that
what third-party libraries log or raise is cleaned too.
"""

from __future__ import annotations

import logging
import sys
import threading
from types import TracebackType
from urllib.parse import quote, quote_plus

MASK = "***"
_MIN_SECRET_LENGTH = 4  # shorter strings would mask ordinary words


class Redactor:
    def __init__(self) -> None:
        self._secrets: tuple[str, ...] = ()
        self._lock = threading.Lock()

    def add(self, secret: str) -> None:
        """Mask `secret` from now on, also as it appears in a URL (percent-encoded)."""
        if len(secret) < _MIN_SECRET_LENGTH:
            return
        forms = {secret, quote(secret, safe=""), quote_plus(secret)}
        with self._lock:
            known = set(self._secrets) | forms
            # longest first, so a secret containing another is masked whole
            self._secrets = tuple(sorted(known, key=len, reverse=True))

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        return text


class RedactingFilter(logging.Filter):
    """Rewrites a record's message (and traceback text) with secrets masked."""

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self._redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        message = self._redactor.redact(record.getMessage())
        record.msg, record.args = message, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self._redactor.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self._redactor.redact(record.stack_info)
        return True


def install_redaction(redactor: Redactor) -> None:
    """Mask secrets in every handler of the root logger and in uncaught tracebacks."""
    log_filter = RedactingFilter(redactor)
    for handler in logging.getLogger().handlers:
        handler.addFilter(log_filter)

    def excepthook(
        exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None
    ) -> None:
        import traceback

        text = "".join(traceback.format_exception(exc_type, exc, tb))
        sys.stderr.write(redactor.redact(text))

    def thread_excepthook(args: threading.ExceptHookArgs) -> None:
        if args.exc_value is not None:
            excepthook(args.exc_type, args.exc_value, args.exc_traceback)

    sys.excepthook = excepthook
    threading.excepthook = thread_excepthook
