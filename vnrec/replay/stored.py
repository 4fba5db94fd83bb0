"""The day's alerts, computed by the trackers and stored when a day is compacted (the SQL
cannot compute them: they are sequential rules), so that `vnrec alerts` answers without
replaying the day (vnrec.storage.alerts_cache)."""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

from vnrec.replay.engine import replay
from vnrec.storage.alerts_cache import store_alerts
from vnrec.storage.layout import Layout
from vnrec.storage.stats_cache import stats_digest

log = logging.getLogger(__name__)


def derive_day_alerts(layout: Layout, day: dt.date) -> Path | None:
    """Store the day's alerts; None (nothing stored) when a writer committed meanwhile."""
    before = layout.state(day)
    alerts = replay(day, data=layout.root).alerts
    after = layout.state(day)
    if stats_digest(after) != stats_digest(before):
        log.info("%s changed while its alerts were computed: nothing stored", day)
        return None
    return store_alerts(layout, day, after, alerts)
