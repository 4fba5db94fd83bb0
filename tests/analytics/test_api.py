"""The public face of vnrec.analytics stays small and stable."""

from __future__ import annotations

import vnrec.analytics


def test_public_names() -> None:
    """`vnrec.analytics` exports exactly connect, refresh and their constants."""
    assert sorted(vnrec.analytics.__all__) == [
        "DEFAULT_THREADS",
        "VIEW_NAMES",
        "connect",
        "refresh",
    ]
    assert vnrec.analytics.DEFAULT_THREADS == 2
