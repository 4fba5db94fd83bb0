"""The real `ssi-fc-data` client, wrapped so that its defects cannot hurt a recording.

Guards, each against a known defect of ssi-fc-data 2.2.2:
- it prints the request headers, Bearer token included, during negotiation: stdout is
  swallowed around `start()`; it logs the websocket URL with the SignalR connection token
  in it: the token is masked from the moment the negotiation returns it;
- it turns TLS certificate checks off: the connection is built with `verify_ssl=True`;
- `start()` returns at once and there is no reconnect: callers get `on_open`/`on_close`
  callbacks and a frame clock, and reconnect themselves;
- `Connection.close()` calls a method the transport does not have, and the transport's
  `stop()` does nothing because its state never becomes connected: the websocket is
  closed directly;
- a frame that is not JSON raises inside the transport, which then reports a close while
  the socket stays open: such frames are handed to `on_malformed` and the stream goes on.
Errors of requests/websocket are translated into vnrec errors with secrets masked.
"""

from __future__ import annotations

import contextlib
import io
import logging
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import requests
from pydantic import SecretStr

from vnrec.errors import AuthError, VnrecError
from vnrec.ssi.secrets import Redactor

log = logging.getLogger(__name__)

HUB = "FcMarketDataV2Hub"
SIGNALR_PATH = "v2.0/signalr"
DEFAULT_URL = "https://fc-data.ssi.com.vn/"
DEFAULT_STREAM_URL = "https://fc-datahub.ssi.com.vn/"


class ConnectError(VnrecError):
    """The stream could not be opened (network, HTTP error): worth a retry."""


class TokenRejectedError(ConnectError):
    """The stream answered 401 to the access token: renew it, then retry."""


@dataclass(frozen=True)
class SsiSettings:
    consumer_id: str
    consumer_secret: SecretStr
    url: str = DEFAULT_URL
    stream_url: str = DEFAULT_STREAM_URL
    verify_tls: bool = True


@dataclass(frozen=True)
class _LibraryConfig:
    """The attribute names (camelCase) ssi-fc-data reads from its config object."""

    consumerID: str
    consumerSecret: str
    url: str
    stream_url: str
    auth_type: str = "Bearer"


class _Discard(io.TextIOBase):
    def write(self, text: str) -> int:
        return len(text)


CLOSE_TIMEOUT_S = 5.0


class StreamHandle:
    """One open SignalR connection; `close()` is safe to call more than once."""

    def __init__(self, connection: Any) -> None:
        self._connection = connection
        self._closed = False

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        transport = self._connection._Connection__transport  # see the module docstring
        websocket_app = getattr(transport, "_ws", None)
        thread = getattr(transport, "_thread", None)
        if websocket_app is not None:
            _wait_for_connect(websocket_app, thread)
            _bounded_close(websocket_app)
        if thread is not None:
            thread.join(timeout=CLOSE_TIMEOUT_S)


def _bounded_close(websocket_app: Any) -> None:
    """websocket-client's closing handshake, given CLOSE_TIMEOUT_S: it sends a close frame
    and reads until the reply, competing with the reader thread for the socket, and was
    seen to block for minutes with the server still sending keep-alives. A recorder asked
    to stop must stop: past the deadline the socket is shut down under both."""
    closing = threading.Thread(target=websocket_app.close, name="vnrec-ws-close", daemon=True)
    closing.start()
    closing.join(CLOSE_TIMEOUT_S)
    if not closing.is_alive():
        return
    log.warning("the websocket did not close in %.0f s; shutting its socket down", CLOSE_TIMEOUT_S)
    raw = getattr(getattr(websocket_app, "sock", None), "sock", None)
    if raw is not None:
        with contextlib.suppress(OSError):  # already closed by the library meanwhile
            raw.shutdown(socket.SHUT_RDWR)
    closing.join(CLOSE_TIMEOUT_S)


def _wait_for_connect(websocket_app: Any, thread: threading.Thread | None) -> None:
    """Let a connection attempt in progress finish before closing: websocket-client's
    `close()` forgets a socket that is still connecting (or not yet created: `run_forever`
    starts by setting `keep_running` again), which then connects and is never closed (a
    leaked file descriptor, and a stray connection)."""
    deadline = time.monotonic() + CLOSE_TIMEOUT_S
    pause = threading.Event()
    while time.monotonic() < deadline:
        if thread is None or not thread.is_alive():
            return
        if getattr(websocket_app, "has_done_teardown", True):
            return
        sock = websocket_app.sock
        if sock is not None and sock.connected:
            return
        pause.wait(0.01)


class SsiClient:
    """Authentication and the market-data stream, on the real ssi-fc-data client."""

    def __init__(self, settings: SsiSettings, redactor: Redactor) -> None:
        self._settings = settings
        self._redactor = redactor
        redactor.add(settings.consumer_secret.get_secret_value())
        self._client: Any = None

    def _library_config(self) -> _LibraryConfig:
        return _LibraryConfig(
            self._settings.consumer_id,
            self._settings.consumer_secret.get_secret_value(),
            self._settings.url,
            self._settings.stream_url,
        )

    def renew_token(self) -> None:
        """Forget the cached token so that the next call authenticates again."""
        self._client = None

    def access_token(self) -> str:
        """A valid access token (the library renews it when it is near expiry)."""
        from ssi_fc_data.fc_md_client import MarketDataClient

        try:
            if self._client is None:
                self._client = MarketDataClient(self._library_config())
            token: str = self._client._get_access_token()
        except NameError as exc:  # the library's way of saying "status != 200"
            raise AuthError(
                f"SSI refused the credentials of consumer {self._settings.consumer_id!r}:"
                f" {self._redactor.redact(str(exc))}"
            ) from None
        except (requests.RequestException, ValueError, KeyError, TypeError) as exc:
            raise ConnectError(
                f"cannot get an access token from {self._settings.url}:"
                f" {self._redactor.redact(f'{type(exc).__name__}: {exc}')}"
            ) from None
        self._redactor.add(token)
        return token

    def index_components(self, index_id: str) -> list[str]:
        """The stock symbols of an index today (REST `IndexComponents`, which nests them as
        `data[0].IndexComponent[].StockSymbol`)."""
        from ssi_fc_data.model import model

        self.access_token()  # authenticates (or says why not) before asking
        try:
            response = self._client.index_components(
                None, model.index_components(indexCode=index_id, pageIndex=1, pageSize=1000)
            )
            status = response.get("status")
            # The lists answer "Success" where the token answers 200.
            if status != 200 and str(status).lower() != "success":
                raise ConnectError(
                    f"IndexComponents {index_id} answered status {status}:"
                    f" {self._redactor.redact(str(response.get('message')))}"
                )
            data = response.get("data") or []
            members = data[0].get("IndexComponent") or [] if data else []
            symbols = [str(m["StockSymbol"]) for m in members if m.get("StockSymbol")]
        except (requests.RequestException, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ConnectError(
                f"cannot read the components of {index_id} from {self._settings.url}:"
                f" {self._redactor.redact(f'{type(exc).__name__}: {exc}')}"
            ) from None
        if not symbols:
            raise ConnectError(f"IndexComponents {index_id}: no members (is it an index code?)")
        return sorted(set(symbols))

    def open_stream(
        self,
        channels: str,
        *,
        on_broadcast: Callable[[str], None],
        on_hub_error: Callable[[str], None],
        on_frame: Callable[[], None],
        on_open: Callable[[], None],
        on_close: Callable[[], None],
        on_malformed: Callable[[str, str], None],
    ) -> StreamHandle:
        """Negotiate, open the websocket and subscribe to `channels` once it is open.

        `on_broadcast` gets the Broadcast argument (the envelope JSON text) as received;
        `on_frame` is called for every frame, keep-alives included; `on_malformed` gets a
        frame that is not JSON, with the reason."""
        from ssi_fc_data.signalr import Connection
        from ssi_fc_data.signalr.hubs.errors import UnAuthorizedHubError

        token = self.access_token()
        headers = {"Authorization": f"Bearer {token}"}
        connection = Connection(
            self._settings.stream_url + SIGNALR_PATH,
            headers,
            on_close=on_close,
            verify_ssl=self._settings.verify_tls,
        )
        hub = connection.register_hub(HUB)
        hub.client.on("Broadcast", lambda *args: on_broadcast(args[0] if args else ""))
        hub.client.on("Error", lambda *args: on_hub_error(" ".join(map(str, args))))
        connection.received += lambda **_frame: on_frame()

        def subscribe() -> None:
            hub.server.invoke("SwitchChannels", channels)
            on_open()

        connection.on_open_callback(subscribe)
        transport = connection._Connection__transport
        parse_frame = transport._on_message

        def guarded(raw: str) -> None:
            try:
                parse_frame(raw)
            except ValueError as exc:  # json.JSONDecodeError
                on_malformed(raw, f"frame is not JSON ({exc})")

        transport._on_message = guarded
        socket_url = transport._get_socket_url

        def masked_socket_url(data: Any) -> Any:
            # The connection token is a credential; the library logs the websocket URL that
            # carries it (percent-encoded) right after negotiating: mask it before that.
            token = data.get("ConnectionToken") if isinstance(data, dict) else None
            if isinstance(token, str):
                self._redactor.add(token)
            return socket_url(data)

        transport._get_socket_url = masked_socket_url
        try:
            with contextlib.redirect_stdout(_Discard()):
                connection.start()
        except UnAuthorizedHubError as exc:
            raise TokenRejectedError(self._describe(exc)) from None
        except (requests.RequestException, OSError, ValueError, KeyError) as exc:
            # HubError (an OSError) for other HTTP statuses; ValueError for a bad answer.
            raise ConnectError(self._describe(exc)) from None
        return StreamHandle(connection)

    def _describe(self, exc: BaseException) -> str:
        text = f"{type(exc).__name__}: {exc}".strip()
        return (
            f"cannot open the stream at {self._settings.stream_url}: {self._redactor.redact(text)}"
        )
