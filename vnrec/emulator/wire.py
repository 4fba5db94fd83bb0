"""Content of each synthetic message in SSI's wire shapes, quirks included.

The spellings follow real captures (shared/fixtures/ssi-envelopes.jsonl): HOSE opening
auction trades carry numbers as strings, `"NaN"` for AvgPrice and null Isin/Side; futures
use `Rtype` and `ISIN`; some foreign-room messages use `FBuyVol`... with `TradingTime`;
VNINDEX uses `IndexID`/`Nochanges`; some bars carry `TradingTime` and no `TradingDate`.
"""

from __future__ import annotations

from typing import Any

import orjson

from vnrec.emulator.book import Bar, SymbolState

Content = dict[str, Any]


def envelope(data_type: str, content: Content) -> dict[str, Any]:
    """The envelope as the client hands it over: Content is JSON text, not an object."""
    return {"DataType": data_type, "Content": orjson.dumps(content).decode()}


def prefixed_foreign(state: SymbolState) -> bool:
    return state.position % 4 == 3


def undated_bars(state: SymbolState) -> bool:
    return state.position % 3 == 2


def _ratio(change: float, ref: float) -> float:
    return round(change / ref * 100, 2) if ref else 0.0


def trade(
    state: SymbolState, date: str, time: str, volume: int, session: str, side: str | None
) -> Content:
    grid, inst = state.grid, state.inst
    wire = grid.to_wire
    scale = grid.scale
    change = wire(state.last) - wire(inst.ref)
    total_val = state.total_val / scale
    if session == "ATO" and inst.exchange == "HOSE":
        # The opening match as captured: every number a string, no ISIN, no average yet.
        return {
            "RType": "X-TRADE",
            "TradingDate": date,
            "Time": time,
            "Isin": None,
            "Symbol": inst.symbol,
            "Ceiling": str(state.ceiling),
            "Floor": str(state.floor),
            "RefPrice": str(inst.ref),
            "LastPrice": str(state.last),
            "LastVol": str(volume),
            "TotalVol": str(state.total_vol),
            "TotalVal": str(state.total_val),
            "AvgPrice": "NaN",
            "Change": str(int(change)),
            "RatioChange": str(_ratio(change, wire(inst.ref))),
            "MarketId": "HOSE",
            "Exchange": "HOSE",
            "TradingSession": "ATO",
            "TradingStatus": "N",
            "Side": None,
        }
    future = inst.is_future
    extreme: Any = wire if future else int
    return {
        ("Rtype" if future else "RType"): "X-TRADE",
        "TradingDate": date,
        "Time": time,
        ("ISIN" if future else "Isin"): inst.symbol,
        "Symbol": inst.symbol,
        "Ceiling": wire(state.ceiling),
        "Floor": wire(state.floor),
        "RefPrice": wire(inst.ref),
        "AvgPrice": round(total_val / state.total_vol, 2),
        "PriorVal": wire(state.prior),
        "LastPrice": wire(state.last),
        "LastVol": float(volume),
        "TotalVal": total_val,
        "TotalVol": float(state.total_vol),
        "MarketId": inst.exchange,
        "Exchange": inst.exchange,
        "TradingSession": session,
        "TradingStatus": "N",
        "Change": round(change, 2),
        "RatioChange": _ratio(change, wire(inst.ref)),
        "EstMatchedPrice": 0.0,
        "Highest": extreme(state.highest),
        "Lowest": extreme(state.lowest),
        "Side": side,
    }


def _book_fields(state: SymbolState, levels: int) -> Content:
    wire = state.grid.to_wire
    fields: Content = {}
    for name, side in (("Bid", state.bids), ("Ask", state.asks)):
        for level in range(levels):
            price, volume = side[level] if level < len(side) else (0, 0)
            fields[f"{name}Price{level + 1}"] = wire(price) if price else 0.0
            fields[f"{name}Vol{level + 1}"] = float(volume)
    return fields


def quote(state: SymbolState, date: str, time: str, session: str) -> Content:
    return {
        "RType": "X-QUOTE",
        "TradingDate": date,
        "Time": time,
        "Symbol": state.inst.symbol,
        "Exchange": state.inst.exchange,
        "TradingSession": session,
        **_book_fields(state, state.levels),
    }


def snapshot(state: SymbolState, date: str, time: str, session: str, last_vol: int) -> Content:
    """The combined `X` message: limits, day OHLC, last trade, totals and a 10-level book."""
    wire, inst = state.grid.to_wire, state.inst
    change = wire(state.last) - wire(inst.ref) if state.last else 0.0
    return {
        "RType": "X",
        "TradingDate": date,
        "Time": time,
        "Isin": inst.symbol,
        "Symbol": inst.symbol,
        "Ceiling": wire(state.ceiling),
        "Floor": wire(state.floor),
        "RefPrice": wire(inst.ref),
        "Open": wire(state.open),
        "High": wire(state.highest),
        "Low": wire(state.lowest),
        "Close": wire(state.last),
        "AvgPrice": round(state.total_val / state.grid.scale / state.total_vol, 2)
        if state.total_vol
        else 0.0,
        "PriorVal": wire(state.prior),
        "LastPrice": wire(state.last),
        "LastVol": float(last_vol),
        "TotalVal": state.total_val / state.grid.scale,
        "TotalVol": float(state.total_vol),
        **_book_fields(state, 10),
        "MarketId": inst.exchange,
        "Exchange": inst.exchange,
        "TradingSession": session,
        "TradingStatus": "N",
        "Change": round(change, 2),
        "RatioChange": _ratio(change, wire(inst.ref)),
        "EstMatchedPrice": 0.0,
    }


def foreign(state: SymbolState, date: str, time: str) -> Content:
    room, symbol = state.foreign, state.inst.symbol
    if prefixed_foreign(state):
        return {
            "Rtype": "R",
            "TradingDate": date,
            "TradingTime": time,
            "Isin": symbol,
            "Symbol": symbol,
            "TotalRoom": float(room.total_room),
            "CurrentRoom": float(room.current_room),
            "FBuyVol": float(room.buy_vol),
            "FSellVol": float(room.sell_vol),
            "FBuyVal": float(room.buy_val),
            "FSellVal": float(room.sell_val),
        }
    return {
        "RType": "R",
        "TradingDate": date,
        "Time": time,
        "Isin": symbol,
        "Symbol": symbol,
        "TotalRoom": float(room.total_room),
        "CurrentRoom": float(room.current_room),
        "BuyVol": float(room.buy_vol),
        "SellVol": float(room.sell_vol),
        "BuyVal": float(room.buy_val),
        "SellVal": float(room.sell_val),
        "MarketId": state.inst.exchange,
        "Exchange": state.inst.exchange,
    }


def bar(state: SymbolState, item: Bar, date: str, time: str) -> Content:
    wire = state.grid.to_wire
    ohlc: Content = {
        "Open": wire(item.open),
        "High": wire(item.high),
        "Low": wire(item.low),
        "Close": wire(item.close),
        "Volume": float(item.volume),
        "Value": item.value / state.grid.scale,
    }
    if undated_bars(state):
        return {"RType": "B", "Symbol": state.inst.symbol, "TradingTime": time, **ohlc}
    return {"RType": "B", "TradingDate": date, "Time": time, "Symbol": state.inst.symbol, **ohlc}


def status(state: SymbolState, date: str, time: str, session: str) -> Content:
    exchange = state.inst.exchange
    return {
        "RType": "F",
        "MarketId": exchange,
        "TradingDate": date,
        "Time": time,
        "Symbol": state.inst.symbol,
        "TradingSession": session,
        "TradingStatus": "N",
        "Exchange": exchange,
        "TradingOlSession": "",
    }


def index(
    index_id: str,
    date: str,
    time: str,
    session: str,
    value: float,
    prior: float,
    breadth: tuple[int, int, int, int, int],
    qtty: int,
    total_value: float,
) -> Content:
    """An MI message; VN30 in the `IndexId` spelling with null session, VNINDEX in the
    `IndexID`/`Nochanges` spelling, as both appear in captures."""
    advances, declines, no_changes, ceilings, floors = breadth
    change = round(value - prior, 2)
    common: Content = {
        "IndexValue": value,
        "PriorIndexValue": prior,
        "TradingDate": date,
        "Time": time,
        "TotalTrade": 0.0,
        "TotalQtty": float(qtty),
        "TotalValue": total_value,
        "IndexName": index_id,
        "Advances": advances,
        "Declines": declines,
        "Ceilings": ceilings,
        "Floors": floors,
        "Change": change,
        "RatioChange": round(change / prior * 100, 2) if prior else 0.0,
        "TotalQttyPt": 0.0,
        "TotalValuePt": 0.0,
        "Exchange": "HOSE",
        "AllQty": float(qtty),
        "AllValue": total_value,
        "RType": "MI",
        "TotalQttyOd": 0.0,
        "TotalValueOd": 0.0,
    }
    if index_id == "VNINDEX":
        return {"IndexID": index_id, "Nochanges": no_changes, **common, "TradingSession": session}
    return {
        "IndexId": index_id,
        "IndexValEst": 0.0,
        "NoChanges": no_changes,
        **common,
        "IndexType": "Main",
        "TradingSession": None,
        "MarketId": None,
    }
