"""`vnrec push`: compacted days of a local data root to an object store prefix.

A day becomes visible remotely only through its commit log (`_commits/date=D.log`), as
locally: every file the log names (and the day's connections, members and stored results)
is uploaded and checked first, the log last, in one PUT (atomic for a reader). A push that
dies midway leaves objects no log names: invisible, and skipped by the next push, which
then completes the day. Pushing a day again uploads nothing (every object and the log are
the same). The day is locked for writers meanwhile, so what is pushed is one state."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from pathlib import Path

from vnrec.errors import IntegrityError, VnrecError
from vnrec.remote.s3 import ObjectStore, file_digests
from vnrec.storage.closures import closures_path
from vnrec.storage.commits import log_path, read_state
from vnrec.storage.gaps import connections_dir
from vnrec.storage.locks import DayLock

log = logging.getLogger(__name__)

DERIVED = ("_derived/stats/date={day}.json", "_derived/basis/date={day}.parquet",
           "_derived/alerts/date={day}.parquet")  # fmt: skip


class NotCompactedError(VnrecError):
    """Only compacted days are pushed: the remote history holds finished days."""


@dataclass
class PushReport:
    day: dt.date
    uploaded: list[str] = field(default_factory=list)
    unchanged: int = 0
    bytes: int = 0

    def line(self) -> str:
        if not self.uploaded:
            return f"{self.day}: already pushed ({self.unchanged} objects unchanged)"
        return (
            f"{self.day}: pushed {len(self.uploaded)} objects ({self.bytes:,} bytes),"
            f" {self.unchanged} unchanged"
        )


def _day_files(root: Path, day: dt.date) -> list[tuple[Path, str | None]]:
    """The files of a compacted day, the log excepted: (path, SHA-256 its commit record
    gives, for parts)."""
    state = read_state(root, day)
    if not state.table_parts("raw"):
        raise VnrecError(f"no recorded data for {day.isoformat()} in {root}")
    if state.pending:
        raise VnrecError(f"{day.isoformat()}: an import is unfinished; run `vnrec recover` first")
    crowded = sorted(t for t, parts in state.parts.items() if len(parts) > 1)
    if crowded:
        raise NotCompactedError(
            f"{day.isoformat()} is not compacted ({', '.join(crowded)} hold several parts):"
            f" run `vnrec compact --date {day.isoformat()}` first"
        )
    files: list[tuple[Path, str | None]] = [(p.path, p.sha256) for p in state.all_parts()]
    extras = [*sorted(connections_dir(root, day).glob("*.parquet"))]
    extras += sorted((root / "components" / f"date={day.isoformat()}").glob("*"))
    extras += [root / pattern.format(day=day.isoformat()) for pattern in DERIVED]
    extras.append(closures_path(root))
    files += [(path, None) for path in extras if path.is_file()]
    return files


def push_day(store: ObjectStore, root: Path, day: dt.date) -> PushReport:
    report = PushReport(day)
    with DayLock(root, day):
        for path, recorded in _day_files(root, day):
            _push_file(store, root, path, recorded, report)
        _push_file(store, root, log_path(root, day), None, report)  # last: the day appears
    return report


def _push_file(
    store: ObjectStore, root: Path, path: Path, recorded: str | None, report: PushReport
) -> None:
    relative = path.relative_to(root).as_posix()
    md5, sha = file_digests(path)
    if recorded is not None and sha != recorded:
        raise IntegrityError(
            f"{path}: its bytes are not what its commit record says; run `vnrec verify`"
            " (nothing damaged is pushed)"
        )
    remote = store.head(relative)
    if remote is not None and remote.etag == md5 and remote.size == path.stat().st_size:
        report.unchanged += 1
        return
    store.put(path, relative, md5, sha)
    report.uploaded.append(relative)
    report.bytes += path.stat().st_size
    log.info("uploaded %s", relative)
