"""Fault injection, seen through the real ssi-fc-data client: each flag does what it says."""

from __future__ import annotations

import orjson
import pytest
from ssi_fc_data.fc_md_client import MarketDataClient
from ssi_fc_data.fc_md_stream import MarketDataStream
from ssi_fc_data.signalr.hubs.errors import UnAuthorizedHubError

from vnrec.emulator.config import EmulatorConfig, Faults, Pacing
from vnrec.emulator.market import SyntheticMarket
from vnrec.emulator.server import EmulatorServer

from .conftest import CLIENT_WARNINGS, WAIT, Receiver, client_config, small_market

pytestmark = CLIENT_WARNINGS

ALL = "X-TRADE:ALL,X-QUOTE:ALL,R:ALL,MI:ALL,B:ALL,F:ALL"
MARKET = small_market(symbols=1, activity=0.02)


def _subscribe(server: EmulatorServer, receiver: Receiver) -> MarketDataStream:
    config = client_config(server.url)
    stream = MarketDataStream(config, MarketDataClient(config), on_close=receiver.on_close)
    stream.start(receiver.on_message, receiver.on_error, ALL)
    return stream


def _faulty(**faults: object) -> EmulatorServer:
    return EmulatorServer.synthetic(EmulatorConfig(faults=Faults(**faults)), MARKET)  # type: ignore[arg-type]


def test_drop_then_reconnect_repeats_and_loses_messages() -> None:
    """The socket drops after N messages; the feed skips `lose_on_drop` messages (a gap)
    and a re-subscribing client first gets the last K messages again."""
    expected = SyntheticMarket(MARKET).envelopes()
    first, second = Receiver(), Receiver()
    with _faulty(drop_after=50, lose_on_drop=10, repeat_on_reconnect=5) as server:
        _subscribe(server, first)
        assert first.wait_closes()
        _subscribe(server, second)
        assert server.wait_finished(WAIT)
        assert second.wait_messages(5 + len(expected) - 60)
        stats = server.stats()
    assert first.messages == expected[:50]
    assert second.messages == expected[45:50] + expected[60:]
    assert stats.lost == 10 and stats.connections[0].dropped


@pytest.mark.parametrize(
    "pacing",
    [Pacing(rate=5_000.0, hold=True), Pacing(speed=50_000.0, hold=True)],
    ids=["rate", "speed"],
)
def test_held_pacing_waits_for_the_next_subscriber(pacing: Pacing) -> None:
    """With `hold`, a paced day stops while nobody is subscribed: after a drop nothing is
    broadcast until the next client subscribes, and that client gets the rest of the day."""
    expected = SyntheticMarket(MARKET).envelopes()
    first, second = Receiver(), Receiver()
    config = EmulatorConfig(pacing=pacing, faults=Faults(drop_after=50))
    with EmulatorServer.synthetic(config, MARKET) as server:
        _subscribe(server, first)
        assert first.wait_closes()
        held = server.stats()
        _subscribe(server, second)
        assert server.wait_finished(WAIT)
        assert second.wait_messages(len(expected) - 50)
    assert held.broadcast == 50 and not held.finished
    assert first.messages == expected[:50]
    assert second.messages == expected[50:]


def test_random_drops_are_seeded() -> None:
    """With a drop probability, the same fault seed drops after the same message."""
    counts = []
    for _ in range(2):
        receiver = Receiver()
        with _faulty(drop_probability=0.01, seed=3) as server:
            _subscribe(server, receiver)
            assert receiver.wait_closes()
            counts.append(server.stats().connections[0].sent)
    assert counts[0] == counts[1] and counts[0] > 0


def test_malformed_frames_reach_the_client(receiver: Receiver) -> None:
    """Malformed frames are interleaved and the real data is still complete and in order:
    unparsable frames trip the client's error path, a broken Content is handed over."""
    expected = SyntheticMarket(MARKET).envelopes()
    with _faulty(malformed_every=100) as server:
        _subscribe(server, receiver)
        assert server.wait_finished(WAIT)
        broken = len(expected) // 100 // 3
        assert receiver.wait_messages(len(expected) + broken)
    valid, invalid = [], []
    for message in receiver.messages:
        try:
            orjson.loads(message["Content"])
            valid.append(message)
        except orjson.JSONDecodeError:
            invalid.append(message)
    assert valid == expected
    assert len(invalid) == broken
    assert receiver.closes >= 1


def test_rejected_token_then_accepted() -> None:
    """The first negotiation is refused with 401 (the client raises); the next succeeds."""
    receiver = Receiver()
    with _faulty(reject_token=1) as server:
        with pytest.raises(UnAuthorizedHubError):
            _subscribe(server, receiver)
        _subscribe(server, receiver)
        assert receiver.wait_messages(1)


def test_stall_keeps_the_connection_open_without_data() -> None:
    """A stalled connection gets nothing after N messages but stays open; the day waits
    for a live subscriber and continues with the next connection."""
    expected = SyntheticMarket(MARKET).envelopes()
    first, second = Receiver(), Receiver()
    with _faulty(stall_after=20) as server:
        _subscribe(server, first)
        assert first.wait_messages(20)
        held = server.stats()
        _subscribe(server, second)
        assert server.wait_finished(WAIT)
        assert second.wait_messages(len(expected) - 20)
        closes_while_stalled = first.closes
    assert held.broadcast == 20 and not held.finished
    stalled = held.connections[0]
    assert stalled.stalled and not stalled.closed
    assert first.messages == expected[:20] and closes_while_stalled == 0
    assert second.messages == expected[20:]


def test_slow_down_keeps_the_content(receiver: Receiver) -> None:
    """After the slow-down point the rest of the day still arrives, unchanged."""
    expected = SyntheticMarket(MARKET).envelopes()
    with _faulty(slow_after=len(expected) - 10, slow_rate=500.0) as server:
        _subscribe(server, receiver)
        assert server.wait_finished(WAIT)
        assert receiver.wait_messages(len(expected))
    assert receiver.messages == expected
