"""The stored columns the built-in trackers read of each table: what a replay asks the
Parquet reader for. A module of its own, free of the trackers' imports, so that a replay
starts reading before it loads them (vnrec.replay.engine)."""

from __future__ import annotations

TRADE_COLUMNS = (
    "seq",
    "event_ts",
    "data_type",
    "symbol",
    "last_price",
    "last_vol",
    "total_vol",
    "trading_session",
    "side",
    "ceiling",
    "floor",
)
WIRE_SIDE = "side"  # for the frames of counted trades only (--out, user trackers)
PRICE_LIMITS = ("ceiling", "floor")  # for the alert rules only
QUOTE_COLUMNS = ("seq", "symbol", "bid_price1", "ask_price1")
FOREIGN_FIGURES = ("buy_vol", "sell_vol", "buy_val", "sell_val")
FOREIGN_COLUMNS = (
    "seq",
    "recv_ns",
    "event_ts",
    "symbol",
    *FOREIGN_FIGURES,
    "total_room",
    "current_room",
)
INDEX_FIELDS = (
    "index_value",
    "prior_index_value",
    "change",
    "ratio_change",
    "advances",
    "declines",
    "no_changes",
    "total_qtty",
    "total_value",
)
INDEX_COLUMNS = ("seq", "recv_ns", "event_ts", "index_id", *INDEX_FIELDS, "trading_session")
# What the columnar trackers read of each table; the other tables only count as messages.
ENGINE_COLUMNS: dict[str, tuple[str, ...]] = {
    "trades": TRADE_COLUMNS,
    "quotes": QUOTE_COLUMNS,
    "foreign": FOREIGN_COLUMNS,
    "index": INDEX_COLUMNS,
    "bars": ("seq",),
    "status": ("seq",),
    "oddlot": ("seq",),
    "raw": ("seq", "data_type"),
}
