"""The streaming side: classic ASP.NET SignalR (protocol 1.5) as FastConnect Data serves it.

`negotiate` hands out a connection token, `connect` upgrades to a websocket (the Bearer
token in the Authorization header is checked), the client invokes
`FcMarketDataV2Hub.SwitchChannels("<channels>")` and the hub broadcasts the day's envelopes
to every subscriber whose channels match, as `Broadcast` frames; a bad channel string gets
an `Error` frame; idle connections get `{}` keep-alives. The day starts with the first
subscription and is sent once, to whoever is subscribed at the time (live semantics);
unpaced or with `Pacing.hold`, the feed waits while nobody is subscribed.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import random
import threading
import uuid
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass

import orjson
from aiohttp import web

from vnrec.emulator.auth import TokenIssuer, bearer_token
from vnrec.emulator.channels import ChannelError, Subscription, parse_channels
from vnrec.emulator.config import Faults, Pacing
from vnrec.emulator.feed import DaySource, FeedItem

log = logging.getLogger(__name__)

HUB = "FcMarketDataV2Hub"
PREFIX = "/v2.0/signalr/"
PROTOCOL_VERSION = "1.5"
_YIELD_EVERY = 64  # unpaced sending gives other tasks a turn this often

# A valid envelope whose Content is not JSON, as the JSON string a Broadcast carries.
_BROKEN_CONTENT = orjson.dumps(
    orjson.dumps({"DataType": "X-TRADE", "Content": '{"Symbol": broken'}).decode()
).decode()
_MALFORMED = (
    '{"C":"d-0-B,0","M":[{"H":"' + HUB + '","M":"Broadcast","A":["',
    '{"M":[{"H":"' + HUB + '","M":"Broadcast","A":["this is not JSON"]}]}',
    '{"M":[{"H":"' + HUB + '","M":"Broadcast","A":[' + _BROKEN_CONTENT + "]}]}",
)


@dataclass(frozen=True)
class ConnectionStats:
    number: int  # 1 for the first websocket connection, 2 for the next, ...
    channels: str | None  # the last accepted channel string
    sent: int  # Broadcast frames sent (repeats included, malformed frames not)
    closed: bool
    dropped: bool
    stalled: bool


@dataclass(frozen=True)
class HubStats:
    started: bool  # the first subscription arrived and the day began
    finished: bool  # every item of the day has been broadcast
    broadcast: int  # items of the day broadcast (or skipped by lose_on_drop)
    lost: int  # items skipped by lose_on_drop
    connections: tuple[ConnectionStats, ...]


class _Client:
    def __init__(self, number: int, ws: web.WebSocketResponse, request: web.Request) -> None:
        self.number = number
        self.ws = ws
        self.request = request
        self.subscription: Subscription | None = None
        self.channels: str | None = None
        self.sent = 0
        self.malformed = 0
        self.frames = itertools.count(1)
        self.lock = asyncio.Lock()
        self.closed = False
        self.dropped = False
        self.stalled = False

    @property
    def active(self) -> bool:
        return self.subscription is not None and not (self.closed or self.stalled)

    def cursor(self) -> str:
        return f"d-{self.number:X}-B,{next(self.frames)}"

    def stats(self) -> ConnectionStats:
        return ConnectionStats(
            self.number, self.channels, self.sent, self.closed, self.dropped, self.stalled
        )


def _hub_frame(cursor: str, method: str, argument_json: str) -> str:
    return f'{{"C":"{cursor}","M":[{{"H":"{HUB}","M":"{method}","A":[{argument_json}]}}]}}'


class Hub:
    """Lives on the server's event loop; `finished` and `subscribed` are thread-safe."""

    def __init__(
        self,
        source: DaySource,
        issuer: TokenIssuer,
        *,
        pacing: Pacing,
        faults: Faults,
        keepalive: float,
    ) -> None:
        self.source = source
        self.issuer = issuer
        self.pacing = pacing
        self.faults = faults
        self.keepalive = keepalive
        self.finished = threading.Event()
        self.subscribed = threading.Event()
        self.tokens: set[str] = set()
        self.clients: list[_Client] = []
        self.negotiations = 0
        self.subscriptions = 0
        self.broadcast = 0
        self.lost = 0
        self.lose_pending = 0
        self.recent: deque[tuple[FeedItem, str]] = deque(maxlen=max(faults.repeat_on_reconnect, 1))
        self.rng = random.Random(faults.seed)
        self.audience = asyncio.Event()
        self.feed_task: asyncio.Task[None] | None = None

    def routes(self) -> list[web.RouteDef]:
        return [
            web.route("*", PREFIX + "negotiate", self.negotiate),
            web.get(PREFIX + "connect", self.connect),
            web.get(PREFIX + "reconnect", self.connect),
            web.get(PREFIX + "start", self.start),
            web.post(PREFIX + "abort", self.abort),
            web.get(PREFIX + "ping", self.ping),
        ]

    def stats(self) -> HubStats:
        return HubStats(
            self.feed_task is not None,
            self.finished.is_set(),
            self.broadcast,
            self.lost,
            tuple(c.stats() for c in self.clients),
        )

    # --- HTTP endpoints ------------------------------------------------------------------

    def _authorized(self, request: web.Request) -> bool:
        token = bearer_token(request.headers.get("Authorization"))
        return token is not None and self.issuer.valid(token)

    async def negotiate(self, request: web.Request) -> web.Response:
        self.negotiations += 1
        rejecting = self.faults.reject_token
        if rejecting == -1 or self.negotiations <= rejecting:
            log.info("negotiation %d refused (fault: reject token)", self.negotiations)
            raise web.HTTPUnauthorized(text="Unauthorized")
        if not self._authorized(request):
            log.info("negotiation refused: missing or invalid bearer token")
            raise web.HTTPUnauthorized(text="Unauthorized")
        token = f"{uuid.uuid4()}:{uuid.uuid4().hex}"
        self.tokens.add(token)
        body = {
            "Url": PREFIX.rstrip("/"),
            "ConnectionToken": token,
            "ConnectionId": token.split(":", maxsplit=1)[0],
            "KeepAliveTimeout": 20.0,
            "DisconnectTimeout": 30.0,
            "ConnectionTimeout": 110.0,
            "TryWebSockets": True,
            "ProtocolVersion": PROTOCOL_VERSION,
            "TransportConnectTimeout": 5.0,
            "LongPollDelay": 0.0,
        }
        return web.json_response(body)

    async def start(self, request: web.Request) -> web.Response:
        if request.query.get("connectionToken") not in self.tokens:
            raise web.HTTPBadRequest(text="unknown connection token")
        return web.json_response({"Response": "started"})

    async def abort(self, request: web.Request) -> web.Response:
        token = request.query.get("connectionToken")
        self.tokens.discard(token or "")
        return web.Response(text="")

    async def ping(self, request: web.Request) -> web.Response:
        return web.json_response({"Response": "pong"})

    async def connect(self, request: web.Request) -> web.StreamResponse:
        if request.query.get("transport") != "webSockets":
            raise web.HTTPBadRequest(text="only the webSockets transport is served")
        if request.query.get("connectionToken") not in self.tokens:
            raise web.HTTPBadRequest(text="unknown connection token")
        if HUB.lower() not in request.query.get("connectionData", "").lower():
            raise web.HTTPBadRequest(text=f"connectionData must name the hub {HUB}")
        if not self._authorized(request):
            log.info("websocket refused: missing or invalid bearer token")
            raise web.HTTPUnauthorized(text="Unauthorized")
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        client = _Client(len(self.clients) + 1, ws, request)
        self.clients.append(client)
        log.info("connection %d open", client.number)
        keepalive = asyncio.create_task(self._keepalive(client))
        try:
            await ws.send_str(f'{{"C":"{client.cursor()}","S":1,"M":[]}}')
            async for message in ws:
                if message.type == web.WSMsgType.TEXT:
                    await self._invocation(client, message.data)
        except ConnectionResetError:
            log.info("connection %d reset", client.number)
        finally:
            client.closed = True
            keepalive.cancel()
            log.info("connection %d closed after %d messages", client.number, client.sent)
        return ws

    # --- hub invocations -----------------------------------------------------------------

    async def _invocation(self, client: _Client, text: str) -> None:
        try:
            call = orjson.loads(text)
        except orjson.JSONDecodeError:
            log.info("connection %d sent a frame that is not JSON", client.number)
            return
        if not isinstance(call, dict):
            return
        ident = str(call.get("I", ""))
        hub, method, args = str(call.get("H", "")), call.get("M"), call.get("A") or []
        if hub.lower() != HUB.lower() or method != "SwitchChannels":
            reply = {"I": ident, "E": f"'{method}' method could not be resolved on hub '{hub}'."}
            await self._send(client, orjson.dumps(reply).decode())
            return
        text_arg = args[0] if isinstance(args, list) and args else None
        try:
            if not isinstance(text_arg, str):
                raise ChannelError("SwitchChannels expects one channel string")
            subscription = parse_channels(text_arg)
        except ChannelError as exc:
            log.info("connection %d: bad channel string: %s", client.number, exc)
            message = orjson.dumps(f"Invalid channel: {exc}").decode()
            await self._send(client, _hub_frame(client.cursor(), "Error", message))
            await self._send(client, orjson.dumps({"I": ident}).decode())
            return
        await self._subscribe(client, subscription, text_arg, ident)

    async def _subscribe(
        self, client: _Client, subscription: Subscription, channels: str, ident: str
    ) -> None:
        async with client.lock:
            first_ever = self.subscriptions == 0
            if client.subscription is None:
                self.subscriptions += 1
            client.subscription, client.channels = subscription, channels
            await self._send_locked(client, orjson.dumps({"I": ident}).decode())
            log.info("connection %d subscribed to %s", client.number, channels)
            if not first_ever and self.faults.repeat_on_reconnect:
                # SSI may resend what it sent just before; the client must cope.
                for item, argument in list(self.recent)[-self.faults.repeat_on_reconnect :]:
                    if subscription.matches(item.data_type, item.key):
                        await self._deliver_locked(client, argument)
        self.audience.set()
        self.subscribed.set()
        if self.feed_task is None:
            self.feed_task = asyncio.create_task(self._feed())

    # --- sending -------------------------------------------------------------------------

    async def _send(self, client: _Client, frame: str) -> None:
        async with client.lock:
            await self._send_locked(client, frame)

    async def _send_locked(self, client: _Client, frame: str) -> None:
        if client.closed:
            return
        try:
            await client.ws.send_str(frame)
        except ConnectionError:
            # Not only resets: a connection lost while this send waited for the reader to
            # drain raises aiohttp's plain ConnectionError, which used to end the whole feed.
            client.closed = True

    async def _deliver_locked(self, client: _Client, argument: str) -> None:
        faults = self.faults
        if faults.malformed_every and (client.sent + 1) % faults.malformed_every == 0:
            await self._send_locked(client, _MALFORMED[client.malformed % len(_MALFORMED)])
            client.malformed += 1
        await self._send_locked(client, _hub_frame(client.cursor(), "Broadcast", argument))
        if client.closed:
            return
        client.sent += 1
        if self._should_drop(client):
            self._drop(client)
        elif (
            faults.stall_after is not None
            and client.number <= faults.stall_connections
            and client.sent >= faults.stall_after
        ):
            log.info("connection %d stalls (fault) after %d messages", client.number, client.sent)
            client.stalled = True

    def _should_drop(self, client: _Client) -> bool:
        faults = self.faults
        if (
            faults.drop_after is not None
            and client.number <= faults.drop_connections
            and client.sent >= faults.drop_after
        ):
            return True
        return faults.drop_probability > 0 and self.rng.random() < faults.drop_probability

    def _drop(self, client: _Client) -> None:
        log.info("dropping connection %d (fault) after %d messages", client.number, client.sent)
        transport = client.request.transport
        if transport is not None:
            transport.abort()
        client.closed = client.dropped = True
        self.lose_pending += self.faults.lose_on_drop

    async def _keepalive(self, client: _Client) -> None:
        while not client.closed:
            await asyncio.sleep(self.keepalive)
            if not client.stalled:
                # Shielded: this task is cancelled when the connection ends, and a cancel
                # while waiting for a slow reader would cancel the drain future the feed
                # may be waiting on too (see close()).
                await asyncio.shield(self._send(client, "{}"))

    async def _await_audience(self) -> None:
        while not any(c.active for c in self.clients):
            self.audience.clear()
            await self.audience.wait()

    async def _feed(self) -> None:
        loop = asyncio.get_running_loop()
        pacing, faults = self.pacing, self.faults
        began = loop.time()
        items: Iterator[FeedItem] = self.source.items()
        for position, item in enumerate(items):
            if pacing.speed is not None:
                await asyncio.sleep(max(began + item.offset / pacing.speed - loop.time(), 0.0))
            elif pacing.rate is not None:
                await asyncio.sleep(max(began + position / pacing.rate - loop.time(), 0.0))
            elif position % _YIELD_EVERY == 0:
                await asyncio.sleep(0)
            if faults.slow_after is not None and position >= faults.slow_after:
                await asyncio.sleep(1.0 / faults.slow_rate)
            if pacing.hold or pacing.unlimited:
                held_since = loop.time()
                await self._await_audience()
                # The clock stood still while nobody listened: the pace resumes from now.
                began += loop.time() - held_since
            self.broadcast += 1
            if self.lose_pending:
                self.lose_pending -= 1
                self.lost += 1
                continue
            argument = orjson.dumps(item.text).decode()
            self.recent.append((item, argument))
            for client in list(self.clients):
                subscription = client.subscription
                if (
                    client.active
                    and subscription is not None
                    and subscription.matches(item.data_type, item.key)
                ):
                    async with client.lock:
                        if client.active:
                            await self._deliver_locked(client, argument)
        log.info("the day is sent: %d messages broadcast", self.broadcast)
        self.finished.set()

    async def close(self) -> None:
        # Websockets first, the feed after: aiohttp (3.14) gives all writers of a connection
        # one drain future and cancels it with whichever task is cancelled while waiting on
        # it, so cancelling a feed stuck behind a slow reader first made the close frame's
        # drain raise CancelledError. Closed clients are skipped by the feed meanwhile.
        for client in self.clients:
            if not client.closed:
                client.closed = True
                await client.ws.close(code=1001, message=b"server shutdown")
        if self.feed_task is not None:
            self.feed_task.cancel()
            # The cancellation was asked for here, so its exception is the expected outcome.
            with contextlib.suppress(asyncio.CancelledError):
                await self.feed_task
