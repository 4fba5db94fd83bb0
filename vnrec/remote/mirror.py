"""Reading a remote data root: the days a command needs, mirrored into a local cache, on
which every reader then runs unchanged (DuckDB, the replay, verify read local files).

A remote day is the one its commit log describes. Mirroring it downloads the log aside,
then each part it names that the cache lacks (checked against the SHA-256 of its commit
record), the day's connections, members and stored results, and only then puts the log in
place: a mirror interrupted midway still shows the day as it was before. Parts are
immutable (named by seq range, checksummed), so a part already in the cache is not fetched
again; files the log no longer names are removed."""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from vnrec.errors import IntegrityError, NoDataError
from vnrec.remote.push import DERIVED
from vnrec.remote.s3 import ObjectStore, RemoteObject, file_digests
from vnrec.storage.closures import closures_path
from vnrec.storage.commits import log_path, read_state
from vnrec.storage.files import file_sha256
from vnrec.storage.schema import SCHEMAS

log = logging.getLogger(__name__)

_LOG_NAME = re.compile(r"_commits/date=(\d{4}-\d{2}-\d{2})\.log$")
DayFilter = Callable[[dt.date], bool]


@dataclass(frozen=True)
class RemoteRoot:
    """An s3:// data root and the local directory its days are mirrored into. Picklable: a
    worker on a cluster mirrors the day it runs, with its own AWS environment."""

    url: str
    cache: Path

    def days(self) -> list[dt.date]:
        return sorted(remote_days(ObjectStore.connect(self.url)))

    def fetch(self, wanted: DayFilter | None = None) -> Path:
        """A local data root holding the remote days that `wanted` keeps (all when None)."""
        return mirror(ObjectStore.connect(self.url), self.cache, wanted)


def remote_days(store: ObjectStore) -> dict[dt.date, RemoteObject]:
    """The days of the remote root (those with a commit log), with their log objects."""
    days = {}
    for item in store.listing("_commits/"):
        found = _LOG_NAME.fullmatch(item.relative)
        if found:
            days[dt.date.fromisoformat(found.group(1))] = item
    return days


def mirror(store: ObjectStore, cache: Path, wanted: DayFilter | None = None) -> Path:
    """Bring the remote days that `wanted` keeps (all when None) into `cache`; returns the
    cache, a data root. NoDataError when `wanted` keeps no remote day."""
    cache.mkdir(parents=True, exist_ok=True)
    closures = closures_path(cache).relative_to(cache).as_posix()
    if (found := store.head(closures)) is not None:
        _fetch_if_changed(store, found, cache)
    days = remote_days(store)
    chosen = sorted(day for day in days if wanted is None or wanted(day))
    if wanted is not None and not chosen:
        pushed = f"{min(days)} to {max(days)}" if days else "none"
        raise NoDataError(
            f"no recorded data {wanted} in {store.location.url} (days there: {pushed})"
        )
    for day in chosen:
        _mirror_day(store, cache, day, days[day])
    return cache


def _fetch_if_changed(store: ObjectStore, item: RemoteObject, cache: Path) -> None:
    target = cache / item.relative
    same_size = target.is_file() and target.stat().st_size == item.size
    if same_size and file_digests(target)[0] == item.etag:
        return
    store.get(item.relative, target)


def _mirror_day(store: ObjectStore, cache: Path, day: dt.date, log_object: RemoteObject) -> None:
    target_log = log_path(cache, day)
    if target_log.is_file() and file_digests(target_log)[0] == log_object.etag:
        return  # the same log: the day's files are those of the last mirror
    staging = cache / ".staging" / f"{day.isoformat()}-{os.getpid()}"
    try:
        store.get(log_object.relative, log_path(staging, day))
        state = read_state(staging, day)
        kept: set[Path] = set()
        for part in state.all_parts():
            relative = part.path.relative_to(staging)
            target = cache / relative
            kept.add(target)
            if target.is_file() and target.stat().st_size == part.bytes:
                continue
            store.get(relative.as_posix(), target)
            if file_sha256(target) != part.sha256:
                target.unlink()
                raise IntegrityError(
                    f"{store.location.url}/{relative.as_posix()}: not the part its commit"
                    " record describes (SHA-256 differs); the remote copy is damaged"
                )
        extras = [
            *store.listing(f"connections/date={day.isoformat()}/"),
            *store.listing(f"components/date={day.isoformat()}/"),
        ]
        for pattern in DERIVED:
            found = store.head(pattern.format(day=day.isoformat()))
            if found is not None:
                extras.append(found)
        for item in extras:
            _fetch_if_changed(store, item, cache)
        _drop_unnamed(cache, day, kept)
        target_log.parent.mkdir(parents=True, exist_ok=True)
        os.replace(log_path(staging, day), target_log)
        log.info("mirrored %s from %s", day, store.location.url)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _drop_unnamed(cache: Path, day: dt.date, kept: set[Path]) -> None:
    """Parts of the day in the cache that the new log does not name (compacted away)."""
    for table in SCHEMAS:
        directory = cache / table / f"date={day.isoformat()}"
        if directory.is_dir():
            for path in directory.glob("*.parquet"):
                if path not in kept:
                    path.unlink()
