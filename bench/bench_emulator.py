"""Sustained send rate of the emulator to one real ssi-fc-data client over loopback, with
no pacing (`--rate` unlimited): messages per second the client's callback receives."""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ssi_fc_data.fc_md_client import MarketDataClient
from ssi_fc_data.fc_md_stream import MarketDataStream

from vnrec.emulator.config import DEFAULT_CONSUMER_ID, DEFAULT_CONSUMER_SECRET, EmulatorConfig
from vnrec.emulator.feed import FeedItem, SyntheticSource
from vnrec.emulator.market import MarketConfig, SyntheticMarket
from vnrec.emulator.server import EmulatorServer

DAY = dt.date(2026, 2, 6)
ALL = "X-TRADE:ALL,X-QUOTE:ALL,R:ALL,MI:ALL,B:ALL,F:ALL"
TIMEOUT = 600.0


@dataclass
class _ClientConfig:
    consumerID: str
    consumerSecret: str
    url: str
    stream_url: str
    auth_type: str = "Bearer"


class _PreparedSource:
    """The day generated up front, so the benchmark measures sending, not generating."""

    def __init__(self, items: list[FeedItem]) -> None:
        self._items = items

    def items(self) -> Iterator[FeedItem]:
        return iter(self._items)


def _measure(symbols: int, activity: float) -> tuple[int, float]:
    market = SyntheticMarket(MarketConfig(DAY, seed=1, symbols=symbols, activity=activity))
    items = list(SyntheticSource(market).items())
    received = 0
    errors: list[Any] = []
    done = threading.Event()

    def on_message(_: dict[str, Any]) -> None:
        nonlocal received
        received += 1
        if received == len(items):
            done.set()

    server = EmulatorServer(EmulatorConfig(), _PreparedSource(items), market.universe)
    with server:
        config = _ClientConfig(DEFAULT_CONSUMER_ID, DEFAULT_CONSUMER_SECRET, server.url, server.url)
        stream = MarketDataStream(config, MarketDataClient(config))
        began = time.perf_counter()
        # The client prints its request headers, token included; keep them off stdout.
        with contextlib.redirect_stdout(io.StringIO()):
            stream.start(on_message, errors.append, ALL)
        if not done.wait(TIMEOUT):
            raise RuntimeError(
                f"the client received {received} of {len(items)} messages; errors: {errors[:3]}"
            )
        elapsed = time.perf_counter() - began
    return len(items), elapsed


def _generation_rate(symbols: int, activity: float) -> tuple[int, float]:
    began = time.perf_counter()
    market = SyntheticMarket(MarketConfig(DAY, seed=1, symbols=symbols, activity=activity))
    count = sum(1 for _ in market.events())
    return count, time.perf_counter() - began


def run(quick: bool) -> list[dict[str, Any]]:
    symbols, activity = (3, 0.2) if quick else (30, 1.0)
    count, elapsed = _measure(symbols, activity)
    generated, generation = _generation_rate(symbols, activity)
    note = (
        f"{count} messages, {symbols} stocks + 4 futures, activity {activity}, 1 client, loopback"
    )
    return [
        {
            "benchmark": "emulator",
            "metric": "send rate to one ssi-fc-data client",
            "value": count / elapsed,
            "unit": "msg/s",
            "note": note,
        },
        {
            "benchmark": "emulator",
            "metric": "synthetic day generation alone",
            "value": generated / generation,
            "unit": "msg/s",
            "note": f"synthetic day generation alone, {generated} messages",
        },
    ]


if __name__ == "__main__":
    import sys

    import orjson

    for row in run(quick="--quick" in sys.argv):
        print(orjson.dumps(row).decode())
