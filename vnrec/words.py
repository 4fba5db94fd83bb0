"""Counts in the sentences vnrec prints."""

from __future__ import annotations


def counted(count: int, word: str) -> str:
    """`1 day`, `2 days`, `1,204 days`."""
    return f"{count:,} {word}{'' if count == 1 else 's'}"
