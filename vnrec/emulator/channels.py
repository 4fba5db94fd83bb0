"""Channel subscriptions as `SwitchChannels` receives them: `TYPE:SYMBOLS` with symbols
dash-separated or `ALL`, several channels comma-separated (`X-TRADE:VNM-FPT,MI:VN30`)."""

from __future__ import annotations

from dataclasses import dataclass

# The DataTypes a client may subscribe to; MI symbol lists name index ids.
CHANNEL_TYPES = frozenset(("X-TRADE", "X-QUOTE", "X", "R", "MI", "B", "F", "OL"))


class ChannelError(ValueError):
    """A channel string the hub refuses; the message says which part and why."""


@dataclass(frozen=True)
class Subscription:
    """DataType -> the symbols subscribed (None for ALL)."""

    channels: dict[str, frozenset[str] | None]

    def matches(self, data_type: str, key: str) -> bool:
        if data_type not in self.channels:
            return False
        symbols = self.channels[data_type]
        return symbols is None or key in symbols


def parse_channels(text: str) -> Subscription:
    """Parse a channel string; raises ChannelError for anything the hub would reject."""
    channels: dict[str, frozenset[str] | None] = {}
    if not text.strip():
        raise ChannelError("empty channel string")
    for part in text.split(","):
        data_type, colon, symbols = part.strip().partition(":")
        data_type = data_type.strip().upper()
        if not colon:
            raise ChannelError(f"channel {part.strip()!r} is not TYPE:SYMBOLS")
        if data_type not in CHANNEL_TYPES:
            raise ChannelError(f"unknown channel type {data_type!r} in {part.strip()!r}")
        names = [s.strip().upper() for s in symbols.split("-")]
        if not all(names):
            raise ChannelError(f"channel {part.strip()!r} has an empty symbol")
        if "ALL" in names:
            channels[data_type] = None
            continue
        previous = channels.get(data_type, frozenset())
        if previous is not None:
            channels[data_type] = previous | frozenset(names)
    return Subscription(channels)
