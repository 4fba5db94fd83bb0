"""Factories for SSI FastConnect envelopes in their real wire shapes, for tests and benchmarks.

Each factory returns the envelope as a dict `{"DataType": ..., "Content": "<JSON text>"}`
exactly as the `ssi-fc-data` client hands it to a callback; `content_as_object=True` gives
the object form some captures have. Numbers are floats as SSI sends them (`100.0`) unless a
caller passes strings or "NaN" to exercise the quirks.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import orjson

Envelope = dict[str, Any]
DEFAULT_DATE = "05/11/2026"  # TradingDate is dd/MM/yyyy


def envelope(
    data_type: str, content: Mapping[str, Any], *, content_as_object: bool = False
) -> Envelope:
    body: Any = dict(content) if content_as_object else orjson.dumps(dict(content)).decode()
    return {"DataType": data_type, "Content": body}


def trade(
    symbol: str,
    price: float | str,
    volume: float | str,
    total_vol: float | str,
    *,
    time: str = "09:20:00",
    date: str = DEFAULT_DATE,
    session: str | None = "LO",
    side: str | None = None,
    total_val: float | str | None = None,
    exchange: str = "HOSE",
    data_type: str = "X-TRADE",
    **extra: Any,
) -> Envelope:
    content: dict[str, Any] = {
        "RType": data_type,
        "TradingDate": date,
        "Time": time,
        "Isin": symbol,
        "Symbol": symbol,
        "LastPrice": price,
        "LastVol": volume,
        "TotalVol": total_vol,
        "TotalVal": total_val if total_val is not None else 0.0,
        "MarketId": exchange,
        "Exchange": exchange,
        "TradingSession": session,
        "TradingStatus": "N",
        "Side": side,
        **extra,
    }
    return envelope(data_type, content)


def quote(
    symbol: str,
    bids: Iterable[tuple[float, float]] = (),
    asks: Iterable[tuple[float, float]] = (),
    *,
    time: str = "09:20:00",
    date: str = DEFAULT_DATE,
    session: str | None = "LO",
    levels: int = 3,
    exchange: str = "HOSE",
    **extra: Any,
) -> Envelope:
    """A book snapshot; levels not given are sent as 0 price and 0 volume, as SSI does."""
    content: dict[str, Any] = {
        "RType": "X-QUOTE",
        "TradingDate": date,
        "Time": time,
        "Symbol": symbol,
        "Exchange": exchange,
        "TradingSession": session,
    }
    for side, book in (("Bid", list(bids)), ("Ask", list(asks))):
        for level in range(1, levels + 1):
            price, vol = book[level - 1] if level <= len(book) else (0.0, 0.0)
            content[f"{side}Price{level}"] = price
            content[f"{side}Vol{level}"] = vol
    content.update(extra)
    return envelope("X-QUOTE", content)


def snapshot(
    symbol: str,
    price: float,
    volume: float,
    total_vol: float,
    bids: Iterable[tuple[float, float]] = (),
    asks: Iterable[tuple[float, float]] = (),
    *,
    time: str = "10:00:00",
    date: str = DEFAULT_DATE,
    session: str | None = "LO",
    **extra: Any,
) -> Envelope:
    """An `X` combined message: last trade, cumulative totals and the book in one."""
    book = quote(symbol, bids, asks, time=time, date=date, session=session, levels=10)
    content = orjson.loads(book["Content"])
    content.update(
        {
            "RType": "X",
            "Isin": symbol,
            "LastPrice": price,
            "LastVol": volume,
            "TotalVol": total_vol,
            "TotalVal": 0.0,
            "TradingStatus": "N",
            **extra,
        }
    )
    return envelope("X", content)


def foreign(
    symbol: str,
    buy_vol: float,
    sell_vol: float,
    buy_val: float,
    sell_val: float,
    *,
    total_room: float = 1_000_000_000.0,
    current_room: float = 500_000_000.0,
    time: str = "10:00:00",
    date: str = DEFAULT_DATE,
    prefixed: bool = False,
) -> Envelope:
    """An `R` message; `prefixed=True` uses the `FBuyVol` spelling and `TradingTime`."""
    p = "F" if prefixed else ""
    content: dict[str, Any] = {
        "RType": "R",
        "TradingDate": date,
        ("TradingTime" if prefixed else "Time"): time,
        "Isin": symbol,
        "Symbol": symbol,
        "TotalRoom": total_room,
        "CurrentRoom": current_room,
        f"{p}BuyVol": buy_vol,
        f"{p}SellVol": sell_vol,
        f"{p}BuyVal": buy_val,
        f"{p}SellVal": sell_val,
    }
    return envelope("R", content)


def index(
    index_id: str,
    value: float | str,
    *,
    prior: float = 0.0,
    time: str = "09:20:00",
    date: str = DEFAULT_DATE,
    session: str | None = "LO",
    **extra: Any,
) -> Envelope:
    numeric_value = float(value)
    change = numeric_value - prior if prior else 0.0
    content: dict[str, Any] = {
        "IndexId": index_id,
        "IndexValue": value,
        "PriorIndexValue": prior,
        "TradingDate": date,
        "Time": time,
        "Change": round(change, 2),
        "RatioChange": round(change / prior * 100, 2) if prior else 0.0,
        "TotalQtty": 0.0,
        "TotalValue": 0.0,
        "Advances": 0,
        "Declines": 0,
        "NoChanges": 0,
        "RType": "MI",
        "TradingSession": session,
        **extra,
    }
    return envelope("MI", content)


def bar(
    symbol: str,
    open_: float,
    high: float,
    low: float,
    close: float,
    volume: float,
    *,
    time: str = "10:31:00",
    date: str | None = DEFAULT_DATE,
) -> Envelope:
    content: dict[str, Any] = {"RType": "B", "Symbol": symbol}
    if date is not None:
        content["TradingDate"] = date
    content.update(
        {
            "TradingTime" if date is None else "Time": time,
            "Open": open_,
            "High": high,
            "Low": low,
            "Close": close,
            "Volume": volume,
            "Value": 0.0,
        }
    )
    return envelope("B", content)


def status(
    symbol: str,
    session: str,
    *,
    trading_status: str = "N",
    time: str = "11:30:00",
    date: str = DEFAULT_DATE,
) -> Envelope:
    content = {
        "RType": "F",
        "MarketId": "HOSE",
        "TradingDate": date,
        "Time": time,
        "Symbol": symbol,
        "TradingSession": session,
        "TradingStatus": trading_status,
        "Exchange": "HOSE",
    }
    return envelope("F", content)


def to_jsonl(envelopes: Iterable[Mapping[str, Any]]) -> bytes:
    """Envelopes as JSON Lines, the format `vnrec import` reads."""
    return b"".join(orjson.dumps(dict(e)) + b"\n" for e in envelopes)
