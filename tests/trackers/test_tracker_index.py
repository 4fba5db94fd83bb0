"""Index tracker: the latest MI with a value > 0 per index, and the intraday series."""

from __future__ import annotations

import math

from vnrec.events import IndexEvent
from vnrec.trackers import INDEX_KEYS, IndexPoint, IndexTracker


def mi(seq: int, index_id: str, value: float | None, ts: int | None = None) -> IndexEvent:
    return IndexEvent(
        seq, None, ts, index_id, value, 1_880.0, 1.5, 0.08, 12, 10, 8, 1_000, 2.5e9, "LO"
    )


def test_latest_positive_value_wins() -> None:
    """A later MI with value 0, NaN or null does not replace the latest good one."""
    tracker = IndexTracker()
    tracker.on_index(mi(1, "VN30", 1_900.0, ts=10))
    tracker.on_index(mi(2, "VN30", 1_901.5, ts=20))
    tracker.on_index(mi(3, "VN30", 0.0, ts=30))
    tracker.on_index(mi(4, "VN30", math.nan, ts=40))
    tracker.on_index(mi(5, "VN30", None, ts=50))
    assert tracker.rows() == [
        {
            "index_id": "VN30",
            "value": 1_901.5,
            "prior_value": 1_880.0,
            "change": 1.5,
            "ratio_change": 0.08,
            "advances": 12,
            "declines": 10,
            "no_changes": 8,
            "total_qtty": 1_000,
            "total_value": 2.5e9,
            "advance_ratio": 12 / 22,
        }
    ]
    assert tuple(tracker.rows()[0]) == INDEX_KEYS
    assert tracker.series == [
        IndexPoint(1, 10, "VN30", 1_900.0),
        IndexPoint(2, 20, "VN30", 1_901.5),
    ]


def test_indexes_sorted_and_zero_only_index_absent() -> None:
    """One object per index id, sorted; an index that never had a value > 0 is absent."""
    tracker = IndexTracker()
    tracker.on_index(mi(1, "VNINDEX", 1_250.0))
    tracker.on_index(mi(2, "HNX", 0.0))
    tracker.on_index(mi(3, "VN30", 1_900.0))
    assert [r["index_id"] for r in tracker.rows()] == ["VN30", "VNINDEX"]
