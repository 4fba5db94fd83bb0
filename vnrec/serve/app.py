"""The web application of `vnrec serve`: the page, its API and the WebSocket (FastAPI).

Everything but the page's static assets (library code, no market data) needs the token when
one is set: `Authorization: Bearer T` or `?token=T`. The token is compared in constant time
and never logged (the server's access log is off: query strings would carry it)."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from fastapi import FastAPI, HTTPException, Request, WebSocket
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles

from vnrec.cli.output import to_json
from vnrec.errors import BadInputError
from vnrec.serve.hub import Hub
from vnrec.serve.models import Control, Days, Snapshot, Status
from vnrec.serve.player import DayPlayer
from vnrec.serve.session import Driver, Session
from vnrec.storage.layout import Layout

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

PUBLIC_PREFIX = "/static/"


def static_dir() -> Path:
    return Path(str(resources.files("vnrec.serve") / "static"))


class TokenGuard:
    """ASGI middleware: 401 (HTTP) or a refused handshake (WebSocket) without the token."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self._app = app
        self._token = token.encode()

    def _allowed(self, scope: Scope) -> bool:
        for name, value in scope.get("headers", ()):
            if name == b"authorization" and value.startswith(b"Bearer "):
                return hmac.compare_digest(value[7:], self._token)
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        given = query.get("token", [""])[-1].encode("latin-1", "replace")
        return hmac.compare_digest(given, self._token)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        guarded = kind in ("http", "websocket") and not str(scope.get("path", "")).startswith(
            PUBLIC_PREFIX
        )
        if guarded and not self._allowed(scope):
            if kind == "websocket":
                await send({"type": "websocket.close", "code": 1008})
                return
            body = b'{"detail":"missing or wrong token"}'
            await send(
                {
                    "type": "http.response.start",
                    "status": 401,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"www-authenticate", b"Bearer"),
                        (b"content-length", str(len(body)).encode()),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return
        await self._app(scope, receive, send)


def _json(document: Any) -> Response:
    return Response(to_json(document, indent=False), media_type="application/json")


def create_app(root: Path, session: Session, hub: Hub, token: str | None) -> FastAPI:
    page = (static_dir() / "index.html").read_text(encoding="utf-8")

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        hub.attach(asyncio.get_running_loop())
        session.start()
        ticker = asyncio.create_task(hub.tick_status())
        try:
            yield
        finally:
            ticker.cancel()
            await hub.close()
            await asyncio.to_thread(session.stop)

    app = FastAPI(
        title="vnrec serve",
        summary="The market as it happens, and any recorded day replayed.",
        lifespan=lifespan,
    )
    app.mount("/static", StaticFiles(directory=static_dir()), name="static")

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        # FastAPI's own answer echoes the input, which JSON cannot carry when it is the
        # infinity `1e309` reads as (the server answered 500 and stopped): where and why only.
        detail = [
            {"loc": list(error.get("loc", ())), "msg": error.get("msg"), "type": error.get("type")}
            for error in exc.errors()
        ]
        return JSONResponse({"detail": detail}, status_code=422)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def index() -> HTMLResponse:
        return HTMLResponse(page)

    @app.get("/api/snapshot", response_model=None, responses={200: {"model": Snapshot}})
    async def snapshot() -> Response:
        """The replay object of the events processed so far, with candles, alerts, the last
        event time, the lag and the mode."""
        return _json(await asyncio.to_thread(session.snapshot))

    @app.get("/api/status", response_model=None, responses={200: {"model": Status}})
    async def status() -> Response:
        return _json(await asyncio.to_thread(session.status))

    @app.get("/api/days", response_model=None, responses={200: {"model": Days}})
    async def days() -> Response:
        """The recorded days of the data root."""
        recorded = await asyncio.to_thread(Layout(root).days)
        serving = session.board_day()
        return _json({"days": recorded, "serving": serving, "mode": session.driver.mode})

    @app.get("/api/candles", response_model=None)
    async def candles(symbol: str, interval: str = "1m") -> Response:
        """One symbol's candles of the events processed so far (1m, 5m, 15m or 1h)."""
        try:
            rows = await asyncio.to_thread(session.candles, symbol, interval)
        except BadInputError as exc:
            raise HTTPException(400, str(exc)) from exc
        return _json(rows)

    @app.post("/api/control", response_model=None, responses={200: {"model": Status}})
    async def control(command: Control) -> Response:
        """Replay mode only: pause, resume, speed (N x) or jump (HH:MM local)."""
        player = session.driver
        if not isinstance(player, DayPlayer):
            raise HTTPException(409, "controls need replay mode (vnrec serve --replay DATE)")
        if command.action == "pause":
            player.pause()
        elif command.action == "resume":
            player.resume()
        elif command.action == "speed":
            if command.speed is None:
                raise HTTPException(422, "speed needs `speed` (> 0)")
            player.set_speed(command.speed)
        else:
            if command.time is None:
                raise HTTPException(422, "jump needs `time` (HH:MM)")
            player.jump(command.time)
        session.wake()
        hub.changed(("status",))
        return _json(await asyncio.to_thread(session.status))

    @app.websocket("/ws")
    async def pushes(socket: WebSocket) -> None:
        """Pushes as `{"channel", "data"}` (vnrec.serve.models.Push), throttled per channel."""
        await hub.serve(socket)

    if token is not None:
        app.add_middleware(TokenGuard, token=token)
    return app


def build_app(
    root: Path,
    driver: Driver,
    *,
    token: str | None,
    throttle: float,
    on_failure: Callable[[BaseException], None],
) -> tuple[FastAPI, Session]:
    """The application over one driver: its session (fed on a thread of its own once the
    app starts) pushes through a hub throttled to one push per channel per `throttle`
    seconds; `on_failure` hears of the feed's or a push's failure."""
    session = Session(driver, on_failure)
    hub = Hub(session, throttle, on_failure)
    session.notify = hub.changed_threadsafe
    return create_app(root, session, hub, token), session
