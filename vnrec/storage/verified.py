"""Committed parts checked against their commit records' SHA-256 before a reader uses them.

A page checksum catches a damaged page only where the reader verifies it (replay does,
DuckDB does not), and no page checksum catches a part swapped for another sound one (the
same name and size from another day). So a reader checks that each committed part it opens
is the file its record names, by its SHA-256, before using a row of it.

Hashing costs about a millisecond per megabyte. What was checked is remembered per day in
`<root>/_derived/verified/date=D.jsonl`, one line per part appended: its digest with what
changes whenever its file does (device, inode, size, modification and status-change times
in ns; no program can set the status-change time back). A part whose file still matches
is not hashed again. Writers append the parts they commit with the digest they computed
while writing them (a recorder's commit appends a few lines, never rewrites the day's), so
reading what vnrec wrote costs a `stat` per part; compaction rewrites the day's record
with its merged parts only. A root that cannot be written (a read-only mount) is hashed
in full at every read; a damaged line is skipped (its part is hashed again).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import orjson

from vnrec.errors import IntegrityError, StorageError
from vnrec.storage.commits import PartFile
from vnrec.storage.files import atomic_file, file_sha256

log = logging.getLogger(__name__)

HASH_THREADS = 2  # hashlib leaves the interpreter lock while it hashes
Entry = list[object]  # [sha256, device, inode, size, mtime_ns, ctime_ns]


class MissingPartError(IntegrityError, FileNotFoundError):
    """A committed part is not there: damage, or, for a reader racing a compaction, a part
    the compaction replaced (a `FileNotFoundError`, as reading it would have raised)."""


def verified_path(root: Path, day: dt.date) -> Path:
    return root / "_derived" / "verified" / f"date={day.isoformat()}.jsonl"


class PartChecks:
    """The checks of one day's parts, its record read once (a replay checks each part as
    it opens it: thousands for a recorded day not yet compacted)."""

    def __init__(self, root: Path, day: dt.date) -> None:
        self._root = root
        self._day = day
        self._known = _load(verified_path(root, day))

    def check(self, parts: Sequence[PartFile], *, rehash: bool = False) -> None:
        """Every part is there, with its record's size and SHA-256 (hashed only when its
        file changed since it was last found sound, or always with `rehash`). An
        IntegrityError names the first that is not."""
        unchecked: list[tuple[PartFile, Entry]] = []
        for part in parts:
            entry = [part.sha256, *_fingerprint(part)]
            if entry[3] != part.bytes:
                raise IntegrityError(
                    f"committed part {part.path} has {entry[3]:,} bytes, its commit record"
                    f" says {part.bytes:,}: it was altered; run `vnrec verify`"
                )
            if rehash or self._known.get(_key(part)) != entry:
                unchecked.append((part, entry))
        if not unchecked:
            return
        paths = [part.path for part, _ in unchecked]
        try:
            if len(paths) == 1:
                digests = [file_sha256(paths[0])]
            else:
                with ThreadPoolExecutor(HASH_THREADS, thread_name_prefix="vnrec-hash") as pool:
                    digests = list(pool.map(file_sha256, paths))
        except OSError as exc:
            where = exc.filename or self._root
            raise StorageError(f"cannot read {where}: {exc.strerror or exc}") from exc
        for (part, _), digest in zip(unchecked, digests, strict=True):
            if digest != part.sha256:
                raise IntegrityError(
                    f"committed part {part.path} is not the file its commit record names"
                    " (its SHA-256 differs): it was altered or replaced; run `vnrec verify`"
                )
        fresh = {_key(part): entry for part, entry in unchecked}
        self._known.update(fresh)
        _append(verified_path(self._root, self._day), fresh)


def check_parts(
    root: Path, day: dt.date, parts: Sequence[PartFile], *, rehash: bool = False
) -> None:
    """`PartChecks(root, day).check(parts)`, for one look at a day's parts."""
    PartChecks(root, day).check(parts, rehash=rehash)


def remember_parts(root: Path, day: dt.date, parts: Sequence[PartFile]) -> None:
    """Parts a writer has just committed, with the digest it computed while writing them."""
    try:
        fresh = {_key(part): [part.sha256, *_fingerprint(part)] for part in parts}
    except IntegrityError:
        return  # a part already gone (a compaction racing): its readers will hash it
    _append(verified_path(root, day), fresh)


def forget_all_but(root: Path, day: dt.date, parts: Sequence[PartFile]) -> None:
    """Rewrite the day's record with `parts` only (after a compaction replaced the rest),
    so that a recorded day's record does not keep its thousands of old parts."""
    path = verified_path(root, day)
    known = _load(path)
    kept = {key: known[key] for key in map(_key, parts) if key in known}
    try:
        with atomic_file(path) as sink:
            sink.write(_lines(kept))
    except StorageError as exc:  # a read-only root: the record only stays longer
        log.debug("not rewriting %s: %s", path, exc)


def _key(part: PartFile) -> str:
    return f"{part.table}/{part.name}"


def _fingerprint(part: PartFile) -> list[int]:
    try:
        st = os.stat(part.path)
    except FileNotFoundError:
        missing = f"committed part {part.path} is missing; run `vnrec verify`"
        raise MissingPartError(missing) from None
    except OSError as exc:
        raise StorageError(f"cannot read {part.path}: {exc.strerror or exc}") from exc
    return [st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns]


def _load(path: Path) -> dict[str, Entry]:
    """The record, later lines winning; lines that do not read are skipped."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return {}
    except OSError as exc:
        log.debug("not reading %s: %s", path, exc)
        return {}
    known: dict[str, Entry] = {}
    for line in data.splitlines():
        try:
            key, *entry = orjson.loads(line)
        except (orjson.JSONDecodeError, TypeError, ValueError):
            continue  # a torn or damaged line: its part is hashed again
        if isinstance(key, str) and len(entry) == 6:
            known[key] = entry
    return known


def _lines(entries: dict[str, Entry]) -> bytes:
    return b"".join(orjson.dumps([key, *entry]) + b"\n" for key, entry in entries.items())


def _append(path: Path, entries: dict[str, Entry]) -> None:
    """Best effort, without fsync, in one write (so two processes appending at once
    interleave whole lines): a line lost to a crash or a read-only root only costs hashing
    again."""
    if not entries:
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            os.write(fd, _lines(entries))
        finally:
            os.close(fd)
    except OSError as exc:
        log.debug("not remembering checked parts in %s: %s", path, exc)
