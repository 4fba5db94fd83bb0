"""Counts and names in the sentences vnrec prints."""

from __future__ import annotations

from collections.abc import Iterable


def counted(count: int, word: str) -> str:
    """`1 day`, `2 days`, `1,204 days`."""
    return f"{count:,} {word}{'' if count == 1 else 's'}"


def first_repeated(names: Iterable[str]) -> str | None:
    """The first name that comes a second time, or None when each comes once."""
    seen: set[str] = set()
    for name in names:
        if name in seen:
            return name
        seen.add(name)
    return None
