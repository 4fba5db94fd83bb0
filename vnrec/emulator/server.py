"""The emulator server: REST and SignalR on one loopback port, run by aiohttp on an event
loop in a background thread so that tests and `vnrec demo` can use it in-process:

    with EmulatorServer.synthetic(EmulatorConfig(), MarketConfig(day)) as server:
        config.url = server.url            # for ssi-fc-data: url and stream_url
        ...
        server.wait_finished(timeout=30)   # the whole day has been broadcast
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import secrets
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from aiohttp import web

from vnrec.emulator.auth import TokenIssuer
from vnrec.emulator.config import EmulatorConfig
from vnrec.emulator.feed import DaySource, RecordedSource, SyntheticSource
from vnrec.emulator.hub import Hub, HubStats
from vnrec.emulator.market import MarketConfig, SyntheticMarket
from vnrec.emulator.rest import RestApi
from vnrec.emulator.universe import Universe, build_universe
from vnrec.errors import VnrecError

log = logging.getLogger(__name__)

_STARTUP_TIMEOUT = 30.0
_SHUTDOWN_TIMEOUT = 30.0
_CLOSE_TIMEOUT = 1.0  # seconds open connections get to finish when the server stops


class EmulatorError(VnrecError):
    """The emulator could not start (for example, the port is taken)."""


class EmulatorServer:
    """A running emulator; `start()`/`stop()` or use it as a context manager."""

    def __init__(
        self,
        config: EmulatorConfig,
        source: DaySource,
        universe: Universe,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.source = source
        self.universe = universe
        self._issuer = TokenIssuer(secrets.token_bytes(32), ttl=config.token_ttl, clock=clock)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._hub: Hub | None = None
        self._port = 0
        self._ready = threading.Event()
        self._startup_error: BaseException | None = None

    @classmethod
    def synthetic(cls, config: EmulatorConfig, market: MarketConfig) -> EmulatorServer:
        """Serve a synthetic day (raises BadInputError for a non-trading day unless forced)."""
        synthetic = SyntheticMarket(market)
        return cls(config, SyntheticSource(synthetic), synthetic.universe)

    @classmethod
    def recorded(
        cls, config: EmulatorConfig, root: Path, day: dt.date, *, seed: int = 0
    ) -> EmulatorServer:
        """Serve a recorded day's raw envelopes; the REST lists come from a synthetic
        universe of that day (the recording holds no reference data)."""
        return cls(config, RecordedSource(root, day), build_universe(day, seed=seed))

    # --- lifecycle -----------------------------------------------------------------------

    def __enter__(self) -> EmulatorServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> None:
        if self._thread is not None:
            raise EmulatorError("the emulator is already running")
        self._thread = threading.Thread(target=self._run, name="vnrec-emulator", daemon=True)
        self._thread.start()
        if not self._ready.wait(_STARTUP_TIMEOUT):
            raise EmulatorError("the emulator did not start in time")
        if self._startup_error is not None or self._hub is None:
            self._thread.join(_SHUTDOWN_TIMEOUT)
            self._thread = None
            reason = self._startup_error or "see the log"
            raise EmulatorError(f"the emulator could not start: {reason}")
        log.info("emulator listening on %s", self.url)

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._startup())
        except OSError as exc:
            self._startup_error = exc
            loop.close()
            return
        finally:
            # Whatever happened, start() must stop waiting; it checks what was set up.
            self._ready.set()
        loop.run_forever()
        loop.close()

    async def _startup(self) -> None:
        config = self.config
        hub = Hub(
            self.source,
            self._issuer,
            pacing=config.pacing,
            faults=config.faults,
            keepalive=config.keepalive,
        )
        rest = RestApi(self.universe, config.credentials, self._issuer)
        app = web.Application()
        app.add_routes(rest.routes() + hub.routes())
        runner = web.AppRunner(
            app, access_log=None, handle_signals=False, shutdown_timeout=_CLOSE_TIMEOUT
        )
        await runner.setup()
        site = web.TCPSite(runner, config.host, config.port, ssl_context=config.tls)
        try:
            await site.start()
        except OSError:
            await runner.cleanup()
            raise
        server = site._server
        sockets = getattr(server, "sockets", None) or []
        self._port = sockets[0].getsockname()[1] if sockets else config.port
        self._runner, self._hub = runner, hub

    async def _shutdown(self) -> None:
        if self._hub is not None:
            await self._hub.close()
        if self._runner is not None:
            await self._runner.cleanup()

    def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        if loop.is_running():
            future = asyncio.run_coroutine_threadsafe(self._shutdown(), loop)
            future.result(_SHUTDOWN_TIMEOUT)
            loop.call_soon_threadsafe(loop.stop)
        thread.join(_SHUTDOWN_TIMEOUT)
        self._thread = self._loop = None
        log.info("emulator stopped")

    # --- what clients and tests need -----------------------------------------------------

    @property
    def port(self) -> int:
        return self._port

    @property
    def url(self) -> str:
        """The REST base URL (`SSI_URL`), with the trailing slash the client expects."""
        host = f"[{self.config.host}]" if ":" in self.config.host else self.config.host
        scheme = "https" if self.config.tls is not None else "http"
        return f"{scheme}://{host}:{self._port}/"

    @property
    def stream_url(self) -> str:
        """The stream base URL (`SSI_STREAM_URL`); the same server serves both."""
        return self.url

    def _require_hub(self) -> Hub:
        if self._hub is None:
            raise EmulatorError("the emulator is not running")
        return self._hub

    def wait_subscribed(self, timeout: float) -> bool:
        """Block until a client has subscribed (the day has begun); False on timeout."""
        return self._require_hub().subscribed.wait(timeout)

    def wait_finished(self, timeout: float) -> bool:
        """Block until every message of the day has been broadcast; False on timeout."""
        return self._require_hub().finished.wait(timeout)

    def stats(self) -> HubStats:
        """A consistent snapshot of what the hub has sent, taken on its own loop."""
        hub, loop = self._require_hub(), self._loop
        if loop is None:
            raise EmulatorError("the emulator is not running")

        async def snapshot() -> HubStats:
            return hub.stats()

        return asyncio.run_coroutine_threadsafe(snapshot(), loop).result(_SHUTDOWN_TIMEOUT)
