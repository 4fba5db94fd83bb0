"""The group-commit thread: writes and fsyncs the journals every commit interval."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)


class GroupCommitter:
    """Calls `commit` (write + fsync of the journals) every `interval` seconds in a
    background thread. The first failure stops the thread and is kept in `error` for the
    recorder's supervisor, which stops the recording."""

    def __init__(self, commit: Callable[[], object], interval: float) -> None:
        self._commit = commit
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="vnrec-journal", daemon=True)
        self.error: BaseException | None = None

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        try:
            while not self._stop.wait(self._interval):
                self._commit()
        except Exception as exc:  # noqa: BLE001 - handed to the supervisor, which stops
            log.error("journal commit failed: %s", exc)
            self.error = exc

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
