"""Exclusive, non-blocking locks on parts of a data root.

fcntl locks, so the kernel releases them when the holder dies (kill -9 included), and they
conflict between two opens of the same file even within one process. A lock never waits:
a second writer fails at once with one line saying who holds what.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import logging
import os
from pathlib import Path
from types import TracebackType

from vnrec.errors import LockedError, StorageError
from vnrec.storage.files import make_dirs_durable

LOCKS_DIR = ".locks"

log = logging.getLogger(__name__)


class FileLock:
    def __init__(self, path: Path, refusal: str) -> None:
        self.path = path
        self._refusal = refusal
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> None:
        fd = self._open()
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_holder(fd)
            os.close(fd)
            raise LockedError(self._refusal + (f" (pid {holder})" if holder else "")) from None
        except OSError as exc:  # a filesystem without locks
            os.close(fd)
            raise StorageError(f"cannot lock {self.path}: {exc.strerror or exc}") from exc
        self._fd = fd
        self._name_holder(fd)

    def _open(self) -> int:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            return os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise StorageError(f"cannot create the lock file {self.path}: {exc.strerror}") from exc

    def _name_holder(self, fd: int) -> None:
        """Who holds it, for the message a second process prints."""
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, str(os.getpid()).encode(), 0)
        except OSError as exc:  # a full disk: the lock is held, it just names no one
            log.warning("cannot write the pid into %s: %s", self.path, exc.strerror or exc)

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> FileLock:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


def _read_holder(fd: int) -> str:
    try:
        return os.pread(fd, 32, 0).decode("ascii", errors="replace").strip()
    except OSError:
        return ""


class DayLock(FileLock):
    """One writer per day of a data root (recorder, import, compaction, recovery), and a
    push, which must read one state of the day."""

    def __init__(self, root: Path, day: dt.date) -> None:
        super().__init__(
            root / LOCKS_DIR / f"{day.isoformat()}.lock",
            f"{day.isoformat()} in {root} is being written by another vnrec process"
            " (record, import, compact, recover or push); try again when it is done",
        )


class RecorderLock(FileLock):
    """One recorder per data root: its connection log and journals are its own."""

    def __init__(self, root: Path) -> None:
        super().__init__(
            root / LOCKS_DIR / "recorder.lock",
            f"another `vnrec record` is recording into {root}; one recorder per data root",
        )


class DirectoryLock(FileLock):
    """A lock on a directory itself (made when missing): no lock file appears among the
    files it holds, and none names the holder."""

    def _open(self) -> int:
        try:
            make_dirs_durable(self.path)
            return os.open(self.path, os.O_RDONLY | os.O_DIRECTORY)
        except OSError as exc:
            raise StorageError(f"cannot write {self.path}: {exc.strerror or exc}") from exc

    def _name_holder(self, fd: int) -> None:
        pass


def day_locked(root: Path, day: dt.date) -> bool:
    """Whether a writer holds the day now (a reader's hint, not a guarantee)."""
    lock = DayLock(root, day)
    if not lock.path.exists():
        return False
    fd = os.open(lock.path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False
