"""One exception tree for vnrec. Errors of the libraries underneath are translated into
these where they enter, so the CLI can print one line and exit 1 instead of a traceback."""

from __future__ import annotations


class VnrecError(Exception):
    """Base of every error vnrec raises on purpose."""


def first_line(exc: BaseException) -> str:
    """The first line of an error's message (a library's may run to many)."""
    return (str(exc).strip().splitlines() or [""])[0]


class BadInputError(VnrecError):
    """Input that cannot be read as what it claims to be (names what and where)."""


class StorageError(VnrecError):
    """The data root is inconsistent or an operation on it was refused."""


class LockedError(StorageError):
    """Another vnrec process holds what this one needs to write (a day, the recorder)."""


class IntegrityError(StorageError):
    """Committed data is missing or differs from what its commit record says."""


class OverlapError(StorageError):
    """A part file would overlap seq ranges already stored for the day."""


class AlreadyImportedError(StorageError):
    """An import would duplicate data a day already holds (use --append to add anyway)."""


class NoDataError(VnrecError):
    """The requested day or table holds no data."""


class AuthError(VnrecError):
    """SSI (or the emulator) refused the credentials."""


class QueryError(VnrecError):
    """A SQL query failed; the message is DuckDB's."""
