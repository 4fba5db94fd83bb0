"""Settings of the emulator server: where it listens, who may log in, how fast it sends,
and which faults it injects. Small frozen value objects with named defaults."""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field

from vnrec.emulator.auth import DEFAULT_TOKEN_TTL, Credentials

DEFAULT_HOST = "127.0.0.1"
DEFAULT_CONSUMER_ID = "vnrec-demo"
DEFAULT_CONSUMER_SECRET = "vnrec-demo-secret"
DEFAULT_KEEPALIVE = 10.0  # seconds between `{}` keep-alive frames
LOOPBACK_HOSTS = frozenset(("127.0.0.1", "::1", "localhost"))


@dataclass(frozen=True)
class Pacing:
    """How fast the day is sent. `speed` compresses event time (360: a day in about a
    minute); `rate` sends a fixed number of messages per second whatever the event times;
    neither sends as fast as the slowest subscriber reads.

    A paced day runs on its own clock, as SSI's does: while no connection is subscribed,
    the messages falling due are sent to nobody. With `hold`, that clock stops instead:
    a message falling due while no connection is subscribed and receiving (closed,
    dropped and stalled ones do not count) waits for the next subscriber, and the pace
    resumes from that moment. The day then lasts its nominal length of subscribed time
    however long clients take to reconnect. The unpaced feed always holds (`hold`
    changes nothing there)."""

    speed: float | None = None
    rate: float | None = None
    hold: bool = False

    def __post_init__(self) -> None:
        if self.speed is not None and self.rate is not None:
            raise ValueError("choose either a speed or a rate, not both")
        for name, value in (("speed", self.speed), ("rate", self.rate)):
            if value is not None and value <= 0:
                raise ValueError(f"{name} must be positive, not {value}")

    @property
    def unlimited(self) -> bool:
        return self.speed is None and self.rate is None


@dataclass(frozen=True)
class Faults:
    """Misbehaviour on purpose, to test a recorder. Counts are of data (Broadcast) messages.

    - `drop_after`: close the socket (no close frame) of a connection after it received
      this many messages; applies to the first `drop_connections` connections.
    - `drop_probability`: after each message, drop the socket with this probability
      (drawn from a `random.Random(seed)`), on every connection.
    - `lose_on_drop`: messages the feed skips after each drop, so the client sees a gap.
    - `repeat_on_reconnect`: send the last K broadcast messages again to every client that
      subscribes after the first, as SSI may after a reconnect.
    - `malformed_every`: before every Nth message of a connection, send a malformed frame
      (cycling: a non-JSON frame, a Broadcast whose argument is not JSON, an envelope whose
      Content is not JSON).
    - `reject_token`: refuse the first N stream negotiations with 401 (-1: all of them).
    - `stall_after`: after this many messages a connection gets nothing more, keep-alives
      included, while it stays open; applies to the first `stall_connections` connections.
    - `slow_after`/`slow_rate`: after the feed's Nth message, send at most `slow_rate`
      messages per second.

    After a drop or stall, a paced feed (`Pacing.speed`/`rate`) keeps its clock running,
    so a client that reconnects has missed what fell due meanwhile, on top of
    `lose_on_drop`; with `Pacing.hold` (and always without pacing) the feed waits for a
    subscriber, and a reconnecting client misses only what `lose_on_drop` skips and what
    was already on its way to the old connection.
    """

    drop_after: int | None = None
    drop_connections: int = 1
    drop_probability: float = 0.0
    lose_on_drop: int = 0
    repeat_on_reconnect: int = 0
    malformed_every: int = 0
    reject_token: int = 0
    stall_after: int | None = None
    stall_connections: int = 1
    slow_after: int | None = None
    slow_rate: float = 10.0
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0.0 <= self.drop_probability <= 1.0:
            raise ValueError(f"drop probability must be in [0, 1], not {self.drop_probability}")
        if self.slow_rate <= 0:
            raise ValueError(f"slow rate must be positive, not {self.slow_rate}")
        for name in ("lose_on_drop", "repeat_on_reconnect", "malformed_every"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name.replace('_', ' ')} must not be negative")


@dataclass(frozen=True)
class EmulatorConfig:
    host: str = DEFAULT_HOST
    port: int = 0  # 0: a free port chosen by the system
    credentials: Credentials = field(
        default_factory=lambda: Credentials(DEFAULT_CONSUMER_ID, DEFAULT_CONSUMER_SECRET)
    )
    pacing: Pacing = field(default_factory=Pacing)
    faults: Faults = field(default_factory=Faults)
    keepalive: float = DEFAULT_KEEPALIVE
    token_ttl: int = DEFAULT_TOKEN_TTL
    tls: ssl.SSLContext | None = None  # serve https/wss, to test clients' certificate checks

    def __post_init__(self) -> None:
        if self.host not in LOOPBACK_HOSTS:
            raise ValueError(f"the emulator listens on loopback only, not on {self.host!r}")
