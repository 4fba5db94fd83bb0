"""The SSI FastConnect Data v2 channels: which DataType goes to which table, and every
documented field of each with the key spellings seen on the wire.

This is the single description of the wire model; the columnar normalizer, the Arrow
schemas and the emulator all derive from it. A field's `kind` decides its column type:
`price` and `value` are float64, `volume` and `count` int64, `text` a string.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

FieldKind = Literal["text", "price", "value", "volume", "count"]


@dataclass(frozen=True)
class WireField:
    column: str  # snake_case column name in the normalized table
    keys: tuple[str, ...]  # wire key spellings, preferred first
    kind: FieldKind


def _f(column: str, kind: FieldKind, *keys: str) -> WireField:
    return WireField(column, keys, kind)


def _book(levels: int) -> tuple[WireField, ...]:
    fields: list[WireField] = []
    for side in ("Bid", "Ask"):
        for level in range(1, levels + 1):
            fields.append(_f(f"{side.lower()}_price{level}", "price", f"{side}Price{level}"))
            fields.append(_f(f"{side.lower()}_vol{level}", "volume", f"{side}Vol{level}"))
    return tuple(fields)


BOOK_LEVELS = 10  # HOSE sends 3 levels, HNX/UPCOM/derivatives 10; unused levels are 0

SYMBOL = _f("symbol", "text", "Symbol")
ISIN = _f("isin", "text", "Isin", "ISIN")
EXCHANGE = _f("exchange", "text", "Exchange")
MARKET_ID = _f("market_id", "text", "MarketId", "MarketID")
TRADING_SESSION = _f("trading_session", "text", "TradingSession")
TRADING_STATUS = _f("trading_status", "text", "TradingStatus")

_PRICE_LIMITS = (
    _f("ceiling", "price", "Ceiling"),
    _f("floor", "price", "Floor"),
    _f("ref_price", "price", "RefPrice"),
)

_TRADE_FIELDS: tuple[WireField, ...] = (
    SYMBOL,
    ISIN,
    EXCHANGE,
    MARKET_ID,
    TRADING_SESSION,
    TRADING_STATUS,
    _f("side", "text", "Side"),
    _f("last_price", "price", "LastPrice"),
    _f("last_vol", "volume", "LastVol"),
    _f("total_vol", "volume", "TotalVol"),
    _f("total_val", "value", "TotalVal"),
    *_PRICE_LIMITS,
    _f("avg_price", "price", "AvgPrice"),
    _f("prior_val", "price", "PriorVal"),
    _f("highest", "price", "Highest"),
    _f("lowest", "price", "Lowest"),
    _f("change", "price", "Change"),
    _f("ratio_change", "value", "RatioChange"),
    _f("est_matched_price", "price", "EstMatchedPrice"),
    # Present on `X` snapshots only.
    _f("open", "price", "Open"),
    _f("high", "price", "High"),
    _f("low", "price", "Low"),
    _f("close", "price", "Close"),
)

_QUOTE_FIELDS: tuple[WireField, ...] = (
    SYMBOL,
    EXCHANGE,
    TRADING_SESSION,
    *_book(BOOK_LEVELS),
)

_FOREIGN_FIELDS: tuple[WireField, ...] = (
    SYMBOL,
    ISIN,
    EXCHANGE,
    MARKET_ID,
    _f("total_room", "volume", "TotalRoom"),
    _f("current_room", "volume", "CurrentRoom"),
    _f("buy_vol", "volume", "BuyVol", "FBuyVol"),
    _f("sell_vol", "volume", "SellVol", "FSellVol"),
    _f("buy_val", "value", "BuyVal", "FBuyVal"),
    _f("sell_val", "value", "SellVal", "FSellVal"),
)

_INDEX_FIELDS: tuple[WireField, ...] = (
    _f("index_id", "text", "IndexId", "IndexID"),
    _f("index_name", "text", "IndexName"),
    _f("index_type", "text", "IndexType"),
    EXCHANGE,
    MARKET_ID,
    TRADING_SESSION,
    _f("index_value", "price", "IndexValue"),
    _f("prior_index_value", "price", "PriorIndexValue"),
    _f("index_val_est", "price", "IndexValEst"),
    _f("change", "price", "Change"),
    _f("ratio_change", "value", "RatioChange"),
    _f("total_trade", "count", "TotalTrade"),
    _f("total_qtty", "volume", "TotalQtty"),
    _f("total_value", "value", "TotalValue"),
    _f("total_qtty_pt", "volume", "TotalQttyPt"),
    _f("total_value_pt", "value", "TotalValuePt"),
    _f("total_qtty_od", "volume", "TotalQttyOd"),
    _f("total_value_od", "value", "TotalValueOd"),
    _f("all_qty", "volume", "AllQty"),
    _f("all_value", "value", "AllValue"),
    _f("advances", "count", "Advances"),
    _f("declines", "count", "Declines"),
    _f("no_changes", "count", "NoChanges", "Nochanges"),
    _f("ceilings", "count", "Ceilings"),
    _f("floors", "count", "Floors"),
)

_BAR_FIELDS: tuple[WireField, ...] = (
    SYMBOL,
    _f("open", "price", "Open"),
    _f("high", "price", "High"),
    _f("low", "price", "Low"),
    _f("close", "price", "Close"),
    _f("volume", "volume", "Volume"),
    _f("value", "value", "Value"),
)

_STATUS_FIELDS: tuple[WireField, ...] = (
    SYMBOL,
    EXCHANGE,
    MARKET_ID,
    TRADING_SESSION,
    TRADING_STATUS,
    _f("trading_ol_session", "text", "TradingOlSession"),
)

_ODDLOT_FIELDS: tuple[WireField, ...] = (
    SYMBOL,
    EXCHANGE,
    TRADING_SESSION,
    TRADING_STATUS,
    _f("stock_no", "count", "StockNo"),
    _f("stock_type", "text", "StockType"),
    _f("last_price", "price", "LastPrice"),
    _f("last_vol", "volume", "LastVol"),
    _f("total_vol", "volume", "TotalVol"),
    _f("total_val", "value", "TotalVal"),
    *_PRICE_LIMITS,
    *_book(BOOK_LEVELS),
)


@dataclass(frozen=True)
class Channel:
    table: str
    data_types: tuple[str, ...]  # DataType / RType values routed to this table
    fields: tuple[WireField, ...]


CHANNELS: tuple[Channel, ...] = (
    Channel("trades", ("X-TRADE", "X", "Trade"), _TRADE_FIELDS),
    Channel("quotes", ("X-QUOTE", "X", "Quote"), _QUOTE_FIELDS),
    Channel("foreign", ("R",), _FOREIGN_FIELDS),
    Channel("index", ("MI",), _INDEX_FIELDS),
    Channel("bars", ("B",), _BAR_FIELDS),
    Channel("status", ("F",), _STATUS_FIELDS),
    Channel("oddlot", ("OL",), _ODDLOT_FIELDS),
)

NORMALIZED_TABLES: tuple[str, ...] = tuple(c.table for c in CHANNELS)
ALL_TABLES: tuple[str, ...] = ("raw", *NORMALIZED_TABLES)
KNOWN_DATA_TYPES: frozenset[str] = frozenset(t for c in CHANNELS for t in c.data_types)

# What kind of message a trade or quote row came from, as events and trackers name it: the
# wire's DataType spellings (`X-TRADE`, legacy `Trade`, `X`, ...) stay in this package.
TRADE_KIND = "trade"  # one trade: `X-TRADE`, legacy `Trade`
QUOTE_KIND = "quote"  # a book: `X-QUOTE`, legacy `Quote`
SNAPSHOT_KIND = "snapshot"  # `X`, the combined snapshot: a book, and a trade when TotalVol grew
SNAPSHOT_DATA_TYPE = "X"
TRADE_DATA_TYPES = ("X-TRADE", "Trade")
MESSAGE_KINDS: dict[str, str] = {
    **dict.fromkeys(TRADE_DATA_TYPES, TRADE_KIND),
    **dict.fromkeys(("X-QUOTE", "Quote"), QUOTE_KIND),
    SNAPSHOT_DATA_TYPE: SNAPSHOT_KIND,
}

# Key spellings of the envelope and of the time fields inside Content.
ENVELOPE_TYPE_KEYS = ("DataType", "datatype", "dataType", "Datatype")
ENVELOPE_CONTENT_KEYS = ("Content", "content")
DATE_KEYS = ("TradingDate",)
# Keys of Content that vnrec reads for nothing (the data type again); known, so that a
# message carrying them is not taken for one with keys vnrec has never seen.
IGNORED_KEYS = ("RType", "Rtype")
TIME_KEYS = ("Time", "TradingTime")
