"""`vnrec recover`: open every day that needs it as a writer would, and say what was done.

Every writer recovers the days it touches anyway (vnrec.storage.day); this is for a root
that nobody is about to write: after a killed recorder or import, or to adopt the days of a
vnrec 0.1 root, which readers refuse until then."""

from __future__ import annotations

import datetime as dt

from vnrec.storage.commits import logged_days
from vnrec.storage.day import RecoveryReport, open_day
from vnrec.storage.journal import journal_days
from vnrec.storage.layout import Layout


def recover_root(layout: Layout, days: list[dt.date] | None = None) -> list[RecoveryReport]:
    """Recover `days` (default: every day with a commit log, a journal or part files)."""
    found = set(logged_days(layout.root)) | set(journal_days(layout.root))
    found |= set(layout.disk_days())
    wanted = sorted(found) if days is None else [day for day in days if day in found]
    reports = []
    for day in wanted:
        report = RecoveryReport(day)
        open_day(layout, day, adopt=True, report=report).close()
        reports.append(report)
    return reports
