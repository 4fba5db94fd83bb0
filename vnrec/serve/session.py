"""The serving session: one board, fed by one driver (live follower or day player) on a
thread of its own, read by the web server's handlers.

Feeding and reading take the same lock, one window at a time, so a reader sees the board
between two windows (whole seq ranges), never in the middle of one. A driver's failure is
kept and handed to `on_failure` (the CLI stops the server and reports it as one line)."""

from __future__ import annotations

import collections
import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import pyarrow as pa

from vnrec.events import Gap
from vnrec.serve.board import Board, timestamp_of_us

log = logging.getLogger(__name__)

RATE_SECONDS = 5.0  # messages/s is measured over this much wall time
STOP_SECONDS = 10.0


class Feeder(Protocol):
    """What a driver feeds."""

    @property
    def last_seq(self) -> int: ...

    def replace(self, board: Board) -> None: ...

    def add_gap(self, gap: Gap) -> None: ...

    def feed(self, window: Mapping[str, pa.Table]) -> set[str]: ...


class Driver(Protocol):
    mode: str

    def step(self, feeder: Feeder) -> tuple[set[str], float | None]:
        """Do what is due: (channels changed, seconds until the next step; None: until
        woken)."""
        ...

    def status(self) -> dict[str, object]: ...


class Session:
    def __init__(
        self,
        driver: Driver,
        on_failure: Callable[[BaseException], None],
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.driver = driver
        # Told which channels a step changed (the hub, once the server runs).
        self.notify: Callable[[set[str]], None] = lambda channels: None
        self._on_failure = on_failure
        self._monotonic = monotonic
        self.lock = threading.Lock()
        self._board: Board | None = None
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="vnrec-serve-feed", daemon=True)
        self._rates: collections.deque[tuple[float, int]] = collections.deque()
        self.failure: BaseException | None = None

    # -- Feeder (called on the driver's thread) ----------------------------------------

    @property
    def last_seq(self) -> int:
        with self.lock:
            return 0 if self._board is None else self._board.last_seq

    def replace(self, board: Board) -> None:
        with self.lock:
            self._board = board
            self._rates.clear()

    def add_gap(self, gap: Gap) -> None:
        with self.lock:
            self._require_board().add_gap(gap)

    def feed(self, window: Mapping[str, pa.Table]) -> set[str]:
        with self.lock:
            return self._require_board().feed(window)

    def _require_board(self) -> Board:
        if self._board is None:
            raise RuntimeError("the driver fed a window before giving a board")
        return self._board

    # -- the driver's thread -----------------------------------------------------------

    def start(self) -> None:
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def stop(self, timeout: float = STOP_SECONDS) -> None:
        """Stop feeding; a step still running (a large read) is given `timeout` seconds, then
        left to die with the process (the thread is a daemon: it writes nothing)."""
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.warning("the feed did not stop within %.0f s; exiting without it", timeout)

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                changed, wait = self.driver.step(self)
                self._note_rate()
                if changed:
                    self.notify(changed)
                if wait is None or wait > 0:
                    self._wake.wait(wait)
                    self._wake.clear()
        except Exception as exc:  # handed to the owner, who reports it and stops
            self.failure = exc
            log.debug("the feed failed", exc_info=True)
            self.notify({"status"})
            self._on_failure(exc)

    def _note_rate(self) -> None:
        now = self._monotonic()
        with self.lock:
            events = 0 if self._board is None else self._board.events
            self._rates.append((now, events))
            while len(self._rates) > 2 and now - self._rates[1][0] >= RATE_SECONDS:
                self._rates.popleft()

    # -- readers (the web server's handlers, on worker threads) ------------------------

    def _rate(self) -> float:
        if len(self._rates) < 2:
            return 0.0
        (t0, e0), (t1, e1) = self._rates[0], self._rates[-1]
        return round((e1 - e0) / (t1 - t0), 1) if t1 > t0 else 0.0

    def board_day(self) -> dt.date | None:
        with self.lock:
            return None if self._board is None else self._board.day

    def status(self) -> dict[str, Any]:
        driver = (
            self.driver.status()
        )  # before the session's lock: the driver's lock is never inside it
        with self.lock:
            board = self._board
            status: dict[str, Any] = {
                "mode": self.driver.mode,
                "date": None if board is None else board.day.isoformat(),
                "events": 0 if board is None else board.events,
                "last_seq": 0 if board is None else board.last_seq,
                "last_event_ts": None if board is None else timestamp_of_us(board.last_event_us),
                "rate": self._rate(),
                "gaps": [] if board is None else board.gap_rows(),
            }
            status.update(driver)
        if self.failure is not None:
            status["state"] = "failed"
            status["error"] = str(self.failure)
        return status

    def channel(self, name: str) -> dict[str, Any]:
        if name == "status":
            return self.status()
        with self.lock:
            return {} if self._board is None else self._board.channel(name)

    def snapshot(self) -> dict[str, Any]:
        status = self.status()
        with self.lock:
            document = {} if self._board is None else self._board.snapshot()
        document.update(
            lag_ms=status.get("lag_ms"),
            mode=status["mode"],
            status=status,
        )
        return document

    def candles(self, symbol: str, interval: str) -> list[dict[str, Any]]:
        with self.lock:
            return [] if self._board is None else self._board.candles(symbol, interval)
