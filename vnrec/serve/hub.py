"""WebSocket pushes: per channel, a trailing-edge throttle decides when a push is computed;
each client gets the newest message of each channel.

A push is computed once (on a worker thread, from the session) and offered to every
client. A client keeps at most one unsent message per channel and replaces it with a newer
one, so a slow browser receives fewer, newer states and never holds the others back or
makes the server's memory grow."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from typing import Any, Protocol

from starlette.websockets import WebSocket, WebSocketDisconnect

from vnrec.cli.output import to_json
from vnrec.serve.board import CHANNELS
from vnrec.serve.throttle import TrailingThrottle

log = logging.getLogger(__name__)

STATUS_EVERY_SECONDS = 1.0  # lag and staleness change without any new message


class ChannelSource(Protocol):
    def channel(self, name: str) -> dict[str, Any]: ...


class _Client:
    def __init__(self, socket: WebSocket) -> None:
        self.socket = socket
        self._unsent: dict[str, str] = {}
        self._ready = asyncio.Event()

    def offer(self, channel: str, message: str) -> None:
        self._unsent[channel] = message
        self._ready.set()

    async def send_forever(self) -> None:
        while True:
            await self._ready.wait()
            self._ready.clear()
            while self._unsent:
                channel = next(iter(self._unsent))
                await self.socket.send_text(self._unsent.pop(channel))


class Hub:
    def __init__(
        self,
        source: ChannelSource,
        interval: float,
        on_failure: Callable[[BaseException], None],
    ) -> None:
        self._source = source
        self._on_failure = on_failure
        self._throttles = {channel: TrailingThrottle(interval) for channel in CHANNELS}
        self._latest: dict[str, str] = {}
        self._clients: dict[int, _Client] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self.pushes: dict[str, int] = dict.fromkeys(CHANNELS, 0)

    def attach(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._locks = {channel: asyncio.Lock() for channel in CHANNELS}

    def changed_threadsafe(self, channels: Iterable[str]) -> None:
        """From the feeding thread: these channels changed."""
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self.changed, frozenset(channels))

    def changed(self, channels: Iterable[str]) -> None:
        assert self._loop is not None
        wanted = set(channels)
        for channel in CHANNELS:  # a fixed order, whatever the set's
            if channel not in wanted:
                continue
            delay = self._throttles[channel].on_change(self._loop.time())
            if delay is not None:
                self._loop.call_later(delay, self._fire, channel)

    def _fire(self, channel: str) -> None:
        assert self._loop is not None
        self._throttles[channel].begin_send(self._loop.time())
        task = self._loop.create_task(self._push(channel))
        self._tasks.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            error = task.exception()
            assert error is not None
            self._on_failure(error)

    async def _push(self, channel: str) -> None:
        # One computation per channel at a time, so pushes go out in the order of the states.
        async with self._locks[channel]:
            data = await asyncio.to_thread(self._source.channel, channel)
            message = to_json({"channel": channel, "data": data}, indent=False).decode()
            self._latest[channel] = message
            self.pushes[channel] += 1
            for client in list(self._clients.values()):
                client.offer(channel, message)

    async def tick_status(self) -> None:
        """Push the status now and then, for its lag and staleness."""
        while True:
            self.changed(("status",))
            await asyncio.sleep(STATUS_EVERY_SECONDS)

    async def serve(self, socket: WebSocket) -> None:
        """One client, from accept to disconnect: the latest of every channel first."""
        await socket.accept()
        client = _Client(socket)
        self._clients[id(client)] = client
        for channel in CHANNELS:
            if channel in self._latest:
                client.offer(channel, self._latest[channel])
        sender = asyncio.create_task(client.send_forever())
        try:
            receiver = asyncio.create_task(_until_closed(socket))
            done, _ = await asyncio.wait({sender, receiver}, return_when=asyncio.FIRST_COMPLETED)
            for task in (sender, receiver):
                task.cancel()
            for task in done:
                if not task.cancelled() and task.exception() is not None:
                    error = task.exception()
                    if not isinstance(error, WebSocketDisconnect | OSError | RuntimeError):
                        raise error  # type: ignore[misc]
                    log.debug("client gone: %r", error)
        finally:
            del self._clients[id(client)]

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()


async def _until_closed(socket: WebSocket) -> None:
    """Read (and ignore) what the client sends until it goes."""
    while True:
        message = await socket.receive()
        if message["type"] == "websocket.disconnect":
            return
