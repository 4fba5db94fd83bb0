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
    group = FileGroup()
    with group.file(path) as sink:
        yield sink
    group.publish()


def temporary_name(path: Path) -> Path:
    """Where `path` is written before it is renamed into place (`TMP_PREFIX`: readers and
    cleaners know it)."""
    return path.with_name(f"{TMP_PREFIX}{path.name}.{os.getpid()}")


class FileGroup:
    """Files that appear together or not at all: each is written complete (fsynced) under
    a temporary name, and `publish()` renames them all into place. A rename needs no free
    space, so a disk that fills (or fails) while they are written leaves every file that
    was there before as it was, not some new files beside older ones. `discard()` removes
    what was written and not published."""

    def __init__(self) -> None:
        self._staged: list[tuple[Path, Path]] = []  # (temporary, final)

    @contextlib.contextmanager
    def file(self, path: Path) -> Iterator[HashingSink]:
        """A file of the group: written and fsynced when the block succeeds, removed when
        it fails (a failing disk is a StorageError naming `path`)."""
        tmp = temporary_name(path)
        try:
            make_dirs_durable(path.parent)
            with open(tmp, "wb") as target:
                sink = HashingSink(target)
                yield sink
                target.flush()
                os.fsync(target.fileno())
        except BaseException as exc:
            with contextlib.suppress(OSError):  # the temp file may not exist; the cause wins
                tmp.unlink(missing_ok=True)
            if isinstance(exc, OSError):
                raise StorageError(f"cannot write {path}: {exc.strerror or exc}") from exc
            raise
        self._staged.append((tmp, path))

    def add(self, written: Path, path: Path) -> None:
        """A file written (complete) at `written` by someone else, to appear at `path`:
        fsynced here."""
        try:
            with open(written, "rb") as done:
                os.fsync(done.fileno())
        except OSError as exc:
            raise StorageError(f"cannot write {path}: {exc.strerror or exc}") from exc
        self._staged.append((written, path))

    def publish(self) -> None:
        """Every file of the group at its name (then their directories fsynced)."""
        staged, self._staged = self._staged, []
        for index, (tmp, path) in enumerate(staged):
            try:
                os.replace(tmp, path)
            except OSError as exc:
                self._staged = staged[index:]
                self.discard()
                raise StorageError(f"cannot write {path}: {exc.strerror or exc}") from exc
        for directory in sorted({path.parent for _, path in staged}):
            try:
                fsync_dir(directory)
            except OSError as exc:
                raise StorageError(f"cannot write {directory}: {exc.strerror or exc}") from exc

    def discard(self) -> None:
        """Remove the files written and not published."""
        staged, self._staged = self._staged, []
        for tmp, _ in staged:
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)


def file_sha256(path: Path) -> str:
    """SHA-256 of a whole file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as source:
        while chunk := source.read(HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()
