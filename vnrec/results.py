"""The output contract of SPEC.md section 4: the field names, in order, of each result
object. The Python trackers and the DuckDB reports compute these independently; only the
names are shared, so the parity tests compare values, not spellings."""

from __future__ import annotations

import math
from typing import Any

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
    "advance_ratio",
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
    "last_basis_pct",
    "premium",
)


def premium(basis: float | None) -> str | None:
    """Whether a future trades above its index (premium), below (discount) or at it."""
    if basis is None or math.isnan(basis):
        return None
    return "premium" if basis > 0 else "discount" if basis < 0 else "flat"


def basis_pct(basis: float | None, index: float | None) -> float | None:
    """The basis in percent of the index value."""
    if basis is None or index is None or not index > 0:
        return None
    return basis / index * 100


def with_basis_extras(row: dict[str, Any]) -> dict[str, Any]:
    """A basis summary (BASIS_KEYS up to `front`) with its derived fields."""
    row["last_basis_pct"] = basis_pct(row["last_basis"], row["last_index"])
    row["premium"] = premium(row["last_basis"])
    return row


def advance_ratio(advances: int | None, declines: int | None) -> float | None:
    """Breadth: the advancing share of the stocks that moved, advances / (advances +
    declines); None when unknown or when nothing moved."""
    if advances is None or declines is None or advances + declines <= 0:
        return None
    return advances / (advances + declines)


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


FLOW_FIGURES = ("buy_volume", "sell_volume", "buy_value", "sell_value", "net_volume", "net_value")


def market_flow(rows: list[dict[str, Any]], top: int) -> list[dict[str, Any]]:
    """Foreign flow rows (one per symbol) as one `market` row of totals, then the `top` net
    buyers and the `top` net sellers by net value: rows of `group, rank, symbol, symbols`
    and the flow figures. Sums of values are exact (math.fsum)."""
    market: dict[str, Any] = {"group": "market", "rank": None, "symbol": None, "symbols": len(rows)}
    for key in FLOW_FIGURES:
        known = [
            row[key]
            for row in rows
            if row[key] is not None and not (isinstance(row[key], float) and math.isnan(row[key]))
        ]
        market[key] = math.fsum(known) if key.endswith("value") else sum(known)

    def ranked(group: str, chosen: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [
            {"group": group, "rank": rank, "symbol": row["symbol"], "symbols": 1}
            | {key: row[key] for key in FLOW_FIGURES}
            for rank, row in enumerate(chosen[:top], start=1)
        ]

    def net(row: dict[str, Any]) -> float:
        value = row["net_value"]
        return 0.0 if value is None or math.isnan(value) else float(value)

    buyers = sorted((r for r in rows if net(r) > 0), key=lambda r: (-net(r), r["symbol"]))
    sellers = sorted((r for r in rows if net(r) < 0), key=lambda r: (net(r), r["symbol"]))
    return [market, *ranked("buyer", buyers), *ranked("seller", sellers)]
