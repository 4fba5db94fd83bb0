"""Committed parts checked against their commit records' SHA-256 before a reader uses them.

A page checksum catches a damaged page only where the reader verifies it (replay does,
DuckDB does not), and no page checksum catches a part swapped for another sound one (the
same name and size from another day). So a reader checks that each committed part it opens
is the file its record names, by its SHA-256, before using a row of it.

Hashing costs about a millisecond per megabyte. What was checked is remembered per day in
`<root>/_derived/verified/date=D.json`: each part's digest with what changes whenever its
file does (device, inode, size, modification and status-change times in ns; no program can
set the status-change time back). A part whose file still matches is not hashed again.
Writers remember the parts they commit with the digest they computed while writing them,
so reading what vnrec wrote costs a `stat` per part. A root that cannot be written (a
read-only mount) is hashed in full at every read; a damaged or missing record is rebuilt.
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
from vnrec.storage.files import file_sha256

log = logging.getLogger(__name__)

HASH_THREADS = 2  # hashlib leaves the interpreter lock while it hashes
Entry = list[object]  # [sha256, device, inode, size, mtime_ns, ctime_ns]


class MissingPartError(IntegrityError, FileNotFoundError):
    """A committed part is not there: damage, or, for a reader racing a compaction, a part
    the compaction replaced (a `FileNotFoundError`, as reading it would have raised)."""


def verified_path(root: Path, day: dt.date) -> Path:
    return root / "_derived" / "verified" / f"date={day.isoformat()}.json"


def check_parts(
    root: Path, day: dt.date, parts: Sequence[PartFile], *, rehash: bool = False
) -> None:
    """Every part is there, with its record's size and SHA-256 (hashed only when its file
    changed since it was last found sound, or always with `rehash`). An IntegrityError
    names the first that is not."""
    known = {} if rehash else _load(root, day)
    unchecked: list[tuple[PartFile, Entry]] = []
    for part in parts:
        entry = [part.sha256, *_fingerprint(part)]
        if entry[3] != part.bytes:
            raise IntegrityError(
                f"committed part {part.path} has {entry[3]:,} bytes, its commit record says"
                f" {part.bytes:,}: it was altered; run `vnrec verify`"
            )
        if known.get(_key(part)) != entry:
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
        raise StorageError(f"cannot read {exc.filename or root}: {exc.strerror or exc}") from exc
    for (part, entry), digest in zip(unchecked, digests, strict=True):
        if digest != part.sha256:
            raise IntegrityError(
                f"committed part {part.path} is not the file its commit record names (its"
                " SHA-256 differs): it was altered or replaced; run `vnrec verify`"
            )
        known[_key(part)] = entry
    _store(root, day, known if not rehash else {**_load(root, day), **known})


def remember_parts(root: Path, day: dt.date, parts: Sequence[PartFile]) -> None:
    """Parts a writer has just committed, with the digest it computed while writing them."""
    known = _load(root, day)
    try:
        for part in parts:
            known[_key(part)] = [part.sha256, *_fingerprint(part)]
    except IntegrityError:
        return  # a part already gone (a compaction racing): its readers will hash it
    _store(root, day, known)


def _key(part: PartFile) -> str:
    return f"{part.table}/{part.name}"


def _fingerprint(part: PartFile) -> list[int]:
    try:
        st = os.stat(part.path)
    except FileNotFoundError:
        raise MissingPartError(
            f"committed part {part.path} is missing; run `vnrec verify`"
        ) from None
    except OSError as exc:
        raise StorageError(f"cannot read {part.path}: {exc.strerror or exc}") from exc
    return [st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns]


def _load(root: Path, day: dt.date) -> dict[str, Entry]:
    path = verified_path(root, day)
    try:
        known = orjson.loads(path.read_bytes())
    except FileNotFoundError:
        return {}
    except (OSError, orjson.JSONDecodeError) as exc:
        log.debug("rebuilding %s: %s", path, exc)
        return {}
    return known if isinstance(known, dict) else {}


def _store(root: Path, day: dt.date, known: dict[str, Entry]) -> None:
    """Best effort, without fsync: a record lost to a crash or a read-only root only costs
    hashing again."""
    path = verified_path(root, day)
    temporary = path.with_name(f".tmp-{path.name}.{os.getpid()}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary.write_bytes(orjson.dumps(known, option=orjson.OPT_SORT_KEYS))
        os.replace(temporary, path)
    except OSError as exc:
        log.debug("not remembering checked parts in %s: %s", path, exc)
        try:
            temporary.unlink(missing_ok=True)
        except OSError as cleanup:
            log.debug("cannot remove %s: %s", temporary, cleanup)
