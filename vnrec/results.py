"""The output contract of SPEC.md section 4: the field names, in order, of each result
object. The Python trackers and the DuckDB reports compute these independently; only the
names are shared, so the parity tests compare values, not spellings."""

from __future__ import annotations

STATS_KEYS: tuple[str, ...] = (
    "symbol",
    "trades",
    "volume",
    "value",
    "buy_volume",
    "buy_value",
    "sell_volume",
    "sell_value",
    "neutral_volume",
    "neutral_value",
    "ato_volume",
    "continuous_volume",
    "atc_volume",
    "open",
    "high",
    "low",
    "close",
    "vwap",
    "duplicates",
    "unpriced",
)

FOREIGN_KEYS: tuple[str, ...] = (
    "symbol",
    "buy_volume",
    "sell_volume",
    "buy_value",
    "sell_value",
    "net_volume",
    "net_value",
    "total_room",
    "current_room",
)

INDEX_KEYS: tuple[str, ...] = (
    "index_id",
    "value",
    "prior_value",
    "change",
    "ratio_change",
    "advances",
    "declines",
    "no_changes",
    "total_qtty",
    "total_value",
)

BASIS_KEYS: tuple[str, ...] = (
    "symbol",
    "points",
    "last_price",
    "last_index",
    "last_basis",
    "min_basis",
    "max_basis",
    "front",
)

# SPEC.md 7.4: candles per symbol over the counted trades, and per index id over the values
# > 0; intervals start on the local clock (Asia/Ho_Chi_Minh is UTC+7, a whole number of
# hours, so they start on the UTC clock too).
CANDLE_KEYS: tuple[str, ...] = (
    "symbol",
    "start",
    "open",
    "high",
    "low",
    "close",
    "volume",
    "value",
    "buy_volume",
    "sell_volume",
    "neutral_volume",
    "trades",
)
INDEX_CANDLE_KEYS: tuple[str, ...] = ("index_id", "start", "open", "high", "low", "close")
CANDLE_INTERVALS: dict[str, int] = {"1m": 60, "5m": 300, "15m": 900, "1h": 3600}  # seconds
