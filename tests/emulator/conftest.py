"""Shared pieces of the emulator tests: a small synthetic day, the real ssi-fc-data client
configuration, and a receiver that collects what the client's callbacks get."""

from __future__ import annotations

import datetime as dt
import gc
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from vnrec.emulator.config import DEFAULT_CONSUMER_ID, DEFAULT_CONSUMER_SECRET
from vnrec.emulator.market import MarketConfig, MarketEvent, SyntheticMarket

DAY = dt.date(2026, 2, 6)  # a Friday before Tet; the February contract expires on the 13th
WAIT = 30.0  # generous upper bound for loopback delivery; tests never assert on durations


# When the server closes a connection, the client answers the close frame, which marks its
# websocket disconnected, and then closes it, which does nothing once disconnected
# (websocket-client 1.9): the socket is left to the garbage collector. With warnings as
# errors that surfaces as an unraisable exception, hence these filters, and the fixture
# below that makes it surface while they apply.
CLIENT_WARNINGS = [
    pytest.mark.filterwarnings("ignore:unclosed <socket.socket:ResourceWarning"),
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
]


@dataclass
class ClientConfig:
    """What ssi-fc-data reads from its config object."""

    consumerID: str
    consumerSecret: str
    url: str
    stream_url: str
    auth_type: str = "Bearer"


def client_config(url: str, *, secret: str = DEFAULT_CONSUMER_SECRET) -> ClientConfig:
    return ClientConfig(DEFAULT_CONSUMER_ID, secret, url, url)


class Receiver:
    """Collects messages and errors from the client's threads; waits for a count."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self.errors: list[Any] = []
        self.closes = 0
        self._changed = threading.Condition()

    def on_message(self, message: dict[str, Any]) -> None:
        with self._changed:
            self.messages.append(message)
            self._changed.notify_all()

    def on_error(self, error: Any) -> None:
        with self._changed:
            self.errors.append(error)
            self._changed.notify_all()

    def on_close(self) -> None:
        with self._changed:
            self.closes += 1
            self._changed.notify_all()

    def wait_messages(self, count: int, timeout: float = WAIT) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: len(self.messages) >= count, timeout)

    def wait_errors(self, count: int = 1, timeout: float = WAIT) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: len(self.errors) >= count, timeout)

    def wait_closes(self, count: int = 1, timeout: float = WAIT) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: self.closes >= count, timeout)


def small_market(**overrides: Any) -> MarketConfig:
    settings: dict[str, Any] = {"seed": 7, "symbols": 3, "activity": 0.05}
    settings.update(overrides)
    return MarketConfig(DAY, **settings)


@pytest.fixture(scope="session")
def day_market() -> SyntheticMarket:
    """A whole synthetic day over HOSE, HNX, UPCOM and the futures, at reduced activity."""
    return SyntheticMarket(MarketConfig(DAY, seed=11, symbols=40, activity=0.15))


@pytest.fixture(scope="session")
def day_events(day_market: SyntheticMarket) -> list[MarketEvent]:
    return list(day_market.events())


@pytest.fixture(autouse=True)
def _client_threads() -> Iterator[None]:
    """After every test, the client websocket threads it started are joined and their
    sockets collected while the test's warning filters still apply: left running, a
    thread drops its socket later, in another test or at the end of the session."""
    before = set(threading.enumerate())
    yield
    for thread in set(threading.enumerate()) - before:
        if thread.daemon:
            thread.join(WAIT)
    gc.collect()


@pytest.fixture
def receiver() -> Receiver:
    return Receiver()
