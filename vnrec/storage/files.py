"""Files that appear complete or not at all, with the checksum of what was written.

Every file vnrec stores is written under a temporary name, fsynced, renamed into place and
its directory fsynced, so a crash leaves either the whole file or a temporary one. The
SHA-256 of the bytes is computed while they are written (no second read) and recorded by
the commit log, so that a part altered or truncated later is caught.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from vnrec.errors import StorageError

TMP_PREFIX = ".tmp-"
HASH_CHUNK = 1 << 20


def fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def make_dirs_durable(directory: Path) -> None:
    """mkdir -p, fsyncing each new directory's parent so the entry survives a power cut."""
    missing: list[Path] = []
    current = directory
    while not current.exists():
        missing.append(current)
        current = current.parent
    for new_dir in reversed(missing):
        new_dir.mkdir(exist_ok=True)
        fsync_dir(new_dir.parent)


class HashingSink(io.RawIOBase):
    """A write-only file that hashes and counts what goes through it (pyarrow writes
    Parquet to it like to any Python file)."""

    def __init__(self, target: BinaryIO) -> None:
        super().__init__()
        self._target = target
        self._hash = hashlib.sha256()
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, data: bytes | bytearray | memoryview) -> int:  # type: ignore[override]
        self._hash.update(data)
        written = self._target.write(data)
        self.size += written
        return written

    def tell(self) -> int:
        return self.size

    def flush(self) -> None:
        self._target.flush()

    @property
    def sha256(self) -> str:
        return self._hash.hexdigest()


@contextlib.contextmanager
def atomic_file(path: Path) -> Iterator[HashingSink]:
    """A file that appears at `path` complete (fsynced, renamed, directory fsynced) when the
    block succeeds, and not at all when it fails. The sink knows the size and SHA-256 of
    what was written. A failing disk (full, read-only, ...) is a StorageError naming the
    file."""
    tmp = path.with_name(f"{TMP_PREFIX}{path.name}.{os.getpid()}")
    try:
        make_dirs_durable(path.parent)
        with open(tmp, "wb") as target:
            sink = HashingSink(target)
            yield sink
            target.flush()
            os.fsync(target.fileno())
        os.replace(tmp, path)
        fsync_dir(path.parent)
    except BaseException as exc:
        with contextlib.suppress(OSError):  # the temp file may not exist; the cause wins
            tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise StorageError(f"cannot write {path}: {exc.strerror or exc}") from exc
        raise


def file_sha256(path: Path) -> str:
    """SHA-256 of a whole file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as source:
        while chunk := source.read(HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()
