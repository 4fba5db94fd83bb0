"""Generated trading days full of edge cases, as SSI envelopes in their wire shapes.

Deterministic for a seed: auctions, empty and one-sided books, NaN prices, trades at and
through both sides, repeats after a "reconnect", `X` snapshots that do and do not add
volume, two VN30 futures, VN30 missing at the open and zero index values.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field
from typing import Any

from vnrec import testing
from vnrec.calendar import listed_futures

Envelope = dict[str, Any]
STOCKS = ("AAA", "BBB", "VNM", "ZZZ")


@dataclass
class _Symbol:
    price: float
    tick: float
    total_vol: int = 0
    bid: float = 0.0
    ask: float = 0.0
    sent: list[Envelope] = field(default_factory=list)


def _clock(index: int, events: int) -> str:
    seconds = 8 * 3600 + 45 * 60 + index * (6 * 3600) // events
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def _session(index: int, events: int) -> str:
    if index < events // 10:
        return "ATO"
    if index >= events - events // 10:
        return "ATC"
    return "LO"


def edge_case_day(day: dt.date, seed: int, events: int = 600) -> list[Envelope]:
    """One day of envelopes in arrival order."""
    rng = random.Random(seed)
    date = day.strftime("%d/%m/%Y")
    futures = [c.symbol for c in listed_futures(day)[:2]]
    book = {s: _Symbol(price=float(rng.randrange(200, 900) * 100), tick=100.0) for s in STOCKS}
    book.update({f: _Symbol(price=1300.0 + rng.random() * 10, tick=0.1) for f in futures})
    vn30_from = events // 5  # no VN30 value during the first fifth of the day
    vn30 = 1290.0
    out: list[Envelope] = []
    for index in range(events):
        time, session = _clock(index, events), _session(index, events)
        symbol = rng.choice(list(book))
        state = book[symbol]
        roll = rng.random()
        if index >= vn30_from and roll < 0.08:
            vn30 = round(vn30 + rng.uniform(-1, 1), 2)
            value = 0.0 if rng.random() < 0.1 else vn30
            out.append(testing.index("VN30", value, prior=1290.0, time=time, date=date))
            if rng.random() < 0.3:
                out.append(testing.index("VNINDEX", 1700.0, time=time, date=date))
        elif roll < 0.35:
            state.price = round(state.price + state.tick * rng.randint(-2, 2), 1)
            state.bid = 0.0 if rng.random() < 0.1 else state.price
            state.ask = 0.0 if rng.random() < 0.1 else round(state.price + state.tick, 1)
            asks: list[tuple[Any, float]] = [(state.ask, 1000.0)]
            if rng.random() < 0.03:
                asks = [("NaN", 1000.0)]
                state.ask = 0.0
            out.append(
                testing.quote(
                    symbol, [(state.bid, 500.0)], asks, time=time, date=date, session=session
                )
            )
        elif roll < 0.75:
            out.append(_trade(rng, symbol, state, time, date, session))
        elif roll < 0.85:
            added = rng.choice([0, 0, 100, 300, 1000])
            state.total_vol += added
            price = state.price if rng.random() < 0.95 else 0.0
            state.bid = state.price - state.tick
            state.ask = state.price + state.tick
            out.append(
                testing.snapshot(
                    symbol,
                    price,
                    float(added),
                    float(state.total_vol),
                    bids=[(state.bid, 100.0)],
                    asks=[(state.ask, 100.0)],
                    time=time,
                    date=date,
                    session=session,
                )
            )
        elif roll < 0.92 and state.sent:
            # A "reconnect": the feed sends earlier trades of the symbol again.
            out.extend(state.sent[-rng.randint(1, min(3, len(state.sent))) :])
        else:
            buy, sell = rng.randint(0, 10**6), rng.randint(0, 10**6)
            out.append(
                testing.foreign(
                    symbol,
                    buy,
                    sell,
                    buy * state.price,
                    sell * state.price,
                    time=time,
                    date=date,
                    prefixed=rng.random() < 0.5,
                )
            )
    return out


def _trade(
    rng: random.Random, symbol: str, state: _Symbol, time: str, date: str, session: str
) -> Envelope:
    volume = rng.choice([1, 10, 100, 500, 2000])
    kind = rng.random()
    if kind < 0.05:
        state.total_vol += volume  # a trade the recording missed; the next TotalVol shows it
        volume = rng.choice([1, 10])
    total: float = state.total_vol + volume
    last_vol: float = volume
    price: Any = rng.choice(
        [
            state.ask,
            state.ask + state.tick,
            state.bid,
            state.bid - state.tick,
            (state.bid + state.ask) / 2,
            state.price,
        ]
    )
    if kind > 0.97:
        price = "NaN"
    elif kind > 0.94:
        last_vol = 0.0  # not a trade
    elif kind > 0.91:
        total = 0.0  # TotalVol unknown: counted, never a repeat
    if price != "NaN" and price <= 0:
        price = state.price
    if last_vol > 0 and price != "NaN" and total > 0:
        state.total_vol = int(total)
    message = testing.trade(
        symbol,
        price,
        last_vol,
        total,
        time=time,
        date=date,
        session=session,
        side=rng.choice(["BU", "SD", None]),
        exchange="HOSE",
    )
    if last_vol > 0 and price != "NaN":
        state.sent.append(message)
    return message
