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
