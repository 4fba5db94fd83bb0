"""Per-day alerts (SPEC.md 7.5) stored when a day is compacted (`vnrec compact`, and the
recorder's compaction when it stops): `<root>/_derived/alerts/date=D.parquet`, stamped as
the basis cache is (vnrec.storage.basis_cache) with a digest of the committed state, of the
day's connections (recording gaps reset the trade rules) and of the alert rules. `vnrec
alerts` answers from it while it is current and replays the day otherwise.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import pyarrow as pa

from vnrec.storage.basis_cache import fresh_stamped, store_stamped
from vnrec.storage.commits import DayState
from vnrec.storage.layout import Layout
from vnrec.storage.schema import EVENT_TS_TYPE
from vnrec.storage.stats_cache import stats_digest

# Bump when the alert rules change: every stored alerts file becomes stale.
ALERTS_RULES_VERSION = 1
ALERTS_SCHEMA = pa.schema(
    [
        ("seq", pa.int64()),
        ("event_ts", EVENT_TS_TYPE),
        ("kind", pa.string()),
        ("symbol", pa.string()),
        ("value", pa.float64()),
        ("threshold", pa.float64()),
    ]
)


def alerts_cache_path(root: Path, day: dt.date) -> Path:
    return root / "_derived" / "alerts" / f"date={day.isoformat()}.parquet"


def alerts_digest(state: DayState) -> str:
    text = f"alerts={ALERTS_RULES_VERSION}\n{stats_digest(state)}"
    return hashlib.sha256(text.encode()).hexdigest()


def fresh_alerts(layout: Layout, day: dt.date) -> Path | None:
    """The day's stored alerts when they are of its current state."""
    path = alerts_cache_path(layout.root, day)
    return fresh_stamped(path, lambda: alerts_digest(layout.state(day)), "alerts file")


def store_alerts(
    layout: Layout, day: dt.date, state: DayState, rows: list[dict[str, object]]
) -> Path:
    table = pa.Table.from_pylist(rows, schema=ALERTS_SCHEMA)
    return store_stamped(alerts_cache_path(layout.root, day), table, alerts_digest(state))
