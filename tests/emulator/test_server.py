"""End to end over loopback with the real, unmodified ssi-fc-data client: authentication,
REST shapes, SignalR negotiation and subscriptions, and the stream's contents."""

from __future__ import annotations

import base64
import datetime as dt
import socket
import struct
import threading
import time
from collections.abc import Callable
from typing import Any

import orjson
import pytest
from ssi_fc_data.fc_md_client import MarketDataClient
from ssi_fc_data.fc_md_stream import MarketDataStream
from ssi_fc_data.model import model

from vnrec.emulator.auth import TokenIssuer
from vnrec.emulator.channels import parse_channels
from vnrec.emulator.config import EmulatorConfig, Pacing
from vnrec.emulator.feed import SyntheticSource
from vnrec.emulator.market import SyntheticMarket
from vnrec.emulator.server import EmulatorServer

from .conftest import CLIENT_WARNINGS, WAIT, Receiver, client_config, small_market

pytestmark = CLIENT_WARNINGS


def _expected(channels: str) -> list[dict[str, str]]:
    subscription = parse_channels(channels)
    market = SyntheticMarket(small_market())
    return [
        e.envelope for e in market.events() if subscription.matches(e.envelope["DataType"], e.key)
    ]


def test_client_receives_exactly_the_subscribed_channels(
    receiver: Receiver, capsys: pytest.CaptureFixture[str]
) -> None:
    """The client gets every message of the asked types and symbols, in order, and nothing
    else; the library's header print (token included) lands on stdout."""
    channels = "X-TRADE:ACB-BCM,MI:VN30"
    expected = _expected(channels)
    with EmulatorServer.synthetic(EmulatorConfig(), small_market()) as server:
        config = client_config(server.url)
        client = MarketDataClient(config)
        stream = MarketDataStream(config, client)
        stream.start(receiver.on_message, receiver.on_error, channels)
        assert server.wait_finished(WAIT)
        assert receiver.wait_messages(len(expected))
    assert receiver.messages == expected
    assert {m["DataType"] for m in receiver.messages} == {"X-TRADE", "MI"}
    assert receiver.errors == []
    assert "Bearer" in capsys.readouterr().out


def test_all_channels_carry_the_whole_day(receiver: Receiver) -> None:
    """Subscribing to every type with ALL delivers the ground truth, byte for byte."""
    expected = SyntheticMarket(small_market()).envelopes()
    channels = "X-TRADE:ALL,X-QUOTE:ALL,R:ALL,MI:ALL,B:ALL,F:ALL"
    with EmulatorServer.synthetic(EmulatorConfig(), small_market()) as server:
        config = client_config(server.url)
        MarketDataStream(config, MarketDataClient(config)).start(
            receiver.on_message, receiver.on_error, channels
        )
        assert receiver.wait_messages(len(expected))
        stats = server.stats()
    assert [orjson.dumps(m) for m in receiver.messages] == [orjson.dumps(e) for e in expected]
    assert stats.finished and stats.broadcast == len(expected)
    assert stats.connections[0].sent == len(expected)


def test_wrong_credentials_make_the_client_raise() -> None:
    """A wrong secret gets SSI's failure shape, which the client raises as an error."""
    with (
        EmulatorServer.synthetic(EmulatorConfig(), small_market()) as server,
        pytest.raises(NameError, match="Invalid consumerID or consumerSecret"),
    ):
        MarketDataClient(client_config(server.url, secret="wrong"))


def test_token_is_a_jwt_with_a_real_expiry() -> None:
    """The access token's payload decodes with plain base64 and carries exp = now + ttl."""
    issuer = TokenIssuer(b"k" * 32, ttl=3 * 3600, clock=lambda: 1_800_000_000.0)
    token = issuer.issue("someone")
    payload = token.split(".")[1]
    claims = orjson.loads(base64.b64decode(payload + "=" * (-len(payload) % 4)))
    assert claims["exp"] == 1_800_000_000 + 3 * 3600
    assert issuer.valid(token)
    assert not issuer.valid(token[:-2] + "xx")
    later = TokenIssuer(b"k" * 32, clock=lambda: 1_900_000_000.0)
    assert not later.valid(token)


def test_rest_lists_have_ssi_shapes() -> None:
    """IndexComponents nests symbols, Securities pages, SecuritiesDetails lists the futures
    with their last trading dates, and a missing token is refused."""
    market = small_market(symbols=35)
    with EmulatorServer.synthetic(EmulatorConfig(), market) as server:
        config = client_config(server.url)
        client = MarketDataClient(config)
        components = client.index_components(config, model.index_components("VN30", 1, 100))
        securities = client.securities(config, model.securities("HOSE", 1, 10))
        details = client.securities_details(config, model.securities_details("DER", "", 1, 10))
        client._access_token = None  # the next call renews the token through AccessToken
        assert client.index_list(config, model.index_list("HOSE", 1, 10))["totalRecord"] == 2
        universe = server.universe
    vn30 = [c["StockSymbol"] for c in components["data"][0]["IndexComponent"]]
    assert vn30 == [s.symbol for s in universe.stocks if s.vn30] and len(vn30) == 30
    assert components["totalRecord"] == 1
    hose = [s for s in universe.stocks if s.exchange == "HOSE"]
    assert securities["totalRecord"] == len(hose) and len(securities["data"]) == 10
    futures = details["data"][0]["RepeatedInfo"]
    assert [(f["Symbol"], f["LastTradingDate"]) for f in futures] == [
        (f.symbol, f.last_trading_day.strftime("%d/%m/%Y"))
        for f in universe.futures
        if f.last_trading_day is not None
    ]
    assert futures[0]["LastTradingDate"] == "13/02/2026"


def test_rest_refuses_a_missing_token() -> None:
    """A GET without a valid Bearer token gets status 401 in SSI's wrapped shape."""
    import requests

    with EmulatorServer.synthetic(EmulatorConfig(), small_market()) as server:
        response = requests.get(server.url + "api/v2/Market/Securities", timeout=WAIT)
    assert response.status_code == 401
    assert response.json() == {"status": 401, "message": "Unauthorized", "data": None}


def test_bad_channel_string_gets_an_error(receiver: Receiver) -> None:
    """An unknown channel type is answered with the hub's Error method, not data."""
    with EmulatorServer.synthetic(EmulatorConfig(), small_market()) as server:
        config = client_config(server.url)
        MarketDataStream(config, MarketDataClient(config)).start(
            receiver.on_message, receiver.on_error, "X-TRADES:ALL"
        )
        assert receiver.wait_errors()
        assert not server.stats().started
    assert "unknown channel type 'X-TRADES'" in receiver.errors[0]
    assert receiver.messages == []


def test_channel_syntax() -> None:
    """Types with dash-separated symbols or ALL, comma-separated; malformed strings fail."""
    subscription = parse_channels("X-TRADE:VNM-FPT, MI:VN30,B:ALL")
    assert subscription.matches("X-TRADE", "FPT") and not subscription.matches("X-TRADE", "ACB")
    assert subscription.matches("B", "ANY") and not subscription.matches("R", "VNM")
    assert subscription.matches("MI", "VN30") and not subscription.matches("MI", "VNINDEX")
    for bad in ("", "X-TRADE", "X-TRADE:", "X-TRADE:VNM--FPT", "NOPE:ALL"):
        with pytest.raises(ValueError):
            parse_channels(bad)


def test_speed_paces_by_event_time(receiver: Receiver) -> None:
    """At --speed the day still arrives whole: pacing changes timing, never content."""
    market = small_market(symbols=1, activity=0.01)
    expected = SyntheticMarket(market).envelopes()
    offsets = [i.offset for i in SyntheticSource(SyntheticMarket(market)).items()]
    assert offsets[0] == 0.0 and offsets == sorted(offsets)
    config = EmulatorConfig(pacing=Pacing(speed=20_000.0))
    with EmulatorServer.synthetic(config, market) as server:
        client = client_config(server.url)
        MarketDataStream(client, MarketDataClient(client)).start(
            receiver.on_message,
            receiver.on_error,
            "X-TRADE:ALL,X-QUOTE:ALL,R:ALL,MI:ALL,B:ALL,F:ALL",
        )
        assert server.wait_finished(WAIT)
        assert receiver.wait_messages(len(expected))
    assert receiver.messages == expected


def test_keepalive_frames_keep_an_idle_connection_open(receiver: Receiver) -> None:
    """With nothing subscribed-to being sent, `{}` frames arrive and do not reach callbacks."""
    config = EmulatorConfig(keepalive=0.05)
    with EmulatorServer.synthetic(config, small_market()) as server:
        client = client_config(server.url)
        MarketDataStream(client, MarketDataClient(client)).start(
            receiver.on_message, receiver.on_error, "X-TRADE:NOSUCH"
        )
        assert server.wait_finished(WAIT)
        assert server.wait_subscribed(WAIT)
    assert receiver.messages == [] and receiver.errors == []


def test_loopback_only() -> None:
    """A non-loopback bind address is refused."""
    with pytest.raises(ValueError, match="loopback only"):
        EmulatorConfig(host="0.0.0.0")


def test_recorded_day_is_served_in_seq_order(receiver: Receiver, tmp_path: object) -> None:
    """A day imported into Parquet is streamed back from its raw table, in the same order."""
    from pathlib import Path

    from vnrec.storage.importer import import_envelopes
    from vnrec.storage.layout import Layout

    root = Path(str(tmp_path))
    envelopes = SyntheticMarket(small_market(symbols=1, activity=0.02)).envelopes()
    import_envelopes(Layout(root), envelopes)
    day = dt.date(2026, 2, 6)
    with EmulatorServer.recorded(EmulatorConfig(), root, day) as server:
        client = client_config(server.url)
        MarketDataStream(client, MarketDataClient(client)).start(
            receiver.on_message,
            receiver.on_error,
            "X-TRADE:ALL,X-QUOTE:ALL,R:ALL,MI:ALL,B:ALL,F:ALL",
        )
        assert receiver.wait_messages(len(envelopes))
    assert receiver.messages == envelopes


ALL = "X-TRADE:ALL,X-QUOTE:ALL,R:ALL,MI:ALL,B:ALL,F:ALL"
BIG = small_market(activity=0.1)  # 7.5 MB: more than loopback socket buffers hold (~3 MB)


class _PausedReader(Receiver):
    """Stops reading after its first message until `resume` is set, so that the socket
    buffers fill up and the emulator's feed waits for this client to drain."""

    def __init__(self) -> None:
        super().__init__()
        self.resume = threading.Event()

    def on_message(self, message: dict[str, Any]) -> None:
        super().on_message(message)
        self.resume.wait()


def _until(condition: Callable[[], bool]) -> bool:
    """Polls a condition of the server's internals that no event signals."""
    deadline = time.monotonic() + WAIT
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def _stream(server: EmulatorServer, receiver: Receiver) -> MarketDataStream:
    config = client_config(server.url)
    stream = MarketDataStream(config, MarketDataClient(config), on_close=receiver.on_close)
    stream.start(receiver.on_message, receiver.on_error, ALL)
    return stream


def _backlogged(server: EmulatorServer) -> bool:
    """The first connection's send buffer is over its high-water mark: the feed waits."""
    transport = server._require_hub().clients[0].request.transport
    return transport is not None and (
        transport.get_write_buffer_size() > transport.get_write_buffer_limits()[1]
    )


def test_stop_while_the_feed_waits_for_a_client() -> None:
    """stop() closes cleanly while the feed is blocked behind a client that stopped
    reading; the client gets the close once it reads again. (The feed used to be
    cancelled first, which cancelled the drain future it shares with the close.)"""
    reader = _PausedReader()
    server = EmulatorServer.synthetic(EmulatorConfig(), BIG)
    server.start()
    errors: list[Exception] = []

    def stop() -> None:
        try:
            server.stop()
        except Exception as exc:  # noqa: BLE001 - handed to the test thread
            errors.append(exc)

    stopping = threading.Thread(target=stop)
    try:
        _stream(server, reader)
        assert reader.wait_messages(1)
        assert _until(lambda: _backlogged(server))
        connection = server._require_hub().clients[0]
        stopping.start()
        assert _until(lambda: connection.closed)  # the server is closing the websocket
    finally:
        reader.resume.set()
        if stopping.is_alive():
            stopping.join(WAIT)
        server.stop()
    assert errors == []
    assert reader.wait_closes()


def test_a_connection_reset_while_backlogged_does_not_end_the_day() -> None:
    """A client that resets its connection while the feed waits for it to drain loses
    that connection only (and the message in flight); the next subscriber gets the rest
    of the day. (aiohttp's ConnectionError used to end the feed for everyone.)"""
    expected = SyntheticMarket(BIG).envelopes()
    first, second = _PausedReader(), Receiver()
    with EmulatorServer.synthetic(EmulatorConfig(), BIG) as server:
        stream = _stream(server, first)
        assert first.wait_messages(1)
        assert _until(lambda: _backlogged(server))
        app = stream.connection._Connection__transport._ws
        raw = app.sock.sock
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        # The client's thread waits on this socket's fd: told to stop before the fd is
        # closed under it, it ends once its callback returns, instead of waiting forever.
        app.keep_running = False
        raw.close()  # with a zero linger and unread data: a reset
        first.resume.set()
        assert _until(lambda: server.stats().connections[0].closed)
        _stream(server, second)
        assert server.wait_finished(WAIT)
        stats = server.stats()
        assert second.wait_messages(stats.connections[1].sent)
    assert stats.connections[1].sent == len(expected) - stats.connections[0].sent - 1
    assert second.messages == expected[len(expected) - len(second.messages) :]
