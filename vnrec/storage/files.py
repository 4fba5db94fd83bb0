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
        """Every file of the group at its name (then their directories fsynced); or, when
        a rename fails or is interrupted, none: the files renamed already are put back as
        they were (the previous version of each is kept until the end, `_kept_previous`),
        and what was not published is removed."""
        staged, self._staged = self._staged, []
        keep_previous = len(staged) > 1  # one file needs nothing put back
        done: list[tuple[Path, Path | None]] = []  # (final, previous version)
        try:
            for tmp, path in staged:
                previous = _kept_previous(path) if keep_previous else None
                try:
                    os.replace(tmp, path)
                except BaseException:
                    # An interrupt can come right after the rename: then it is one to undo.
                    if not tmp.exists():
                        done.append((path, previous))
                    elif previous is not None:
                        _put_back(previous, path)
                    raise
                done.append((path, previous))
        except BaseException as exc:
            for path, previous in reversed(done):
                with contextlib.suppress(OSError):
                    if previous is None:
                        path.unlink()
                    else:
                        os.replace(previous, path)
            for tmp, _ in staged[len(done) :]:
                with contextlib.suppress(OSError):
                    tmp.unlink(missing_ok=True)
            if isinstance(exc, OSError):
                failed = staged[len(done)][1] if len(done) < len(staged) else staged[-1][1]
                raise StorageError(f"cannot write {failed}: {exc.strerror or exc}") from exc
            raise
        for _, previous in done:
            if previous is not None:
                with contextlib.suppress(OSError):  # a leftover link is a temporary file
                    previous.unlink()
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


def _kept_previous(path: Path) -> Path | None:
    """What is at `path` now, kept under a temporary name to put it back with: a hard
    link, or, where links cannot be made (a filesystem without them, a full directory), the
    file itself moved there (`path` is then missing until the new file is renamed in).
    None when there is no file there: putting back then removes the new one."""
    temporary = temporary_name(path)
    previous = temporary.with_name(f"{temporary.name}.previous")
    with contextlib.suppress(FileNotFoundError):
        previous.unlink()  # a killed run's
    try:
        os.link(path, previous, follow_symlinks=False)
    except FileNotFoundError:
        return None
    except OSError:
        if path.is_dir() and not path.is_symlink():
            return None  # not a file of ours: the rename onto it fails and says so
        try:
            os.replace(path, previous)
        except OSError:
            return None
    return previous


def _put_back(previous: Path, path: Path) -> None:
    """Undo `_kept_previous` for a file whose new version was not renamed in."""
    with contextlib.suppress(OSError):
        if path.exists() or path.is_symlink():
            previous.unlink()  # a link: the file is still at `path`
        else:
            os.replace(previous, path)  # moved: move it back


def owner_gone(temporary: Path) -> bool:
    """Whether the process whose pid a temporary name ends with (`temporary_name`, maybe
    `.previous` after it) no longer runs: only then is the file a leftover, not the work
    of another process writing beside this one."""
    parts = temporary.name.removesuffix(".previous").rsplit(".", 1)
    if len(parts) != 2 or not parts[1].isdigit():
        return True  # not named by a running writer: no one's
    try:
        os.kill(int(parts[1]), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # another user's process
        return False
    return False


def file_sha256(path: Path) -> str:
    """SHA-256 of a whole file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as source:
        while chunk := source.read(HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()
