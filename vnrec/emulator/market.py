"""A seeded, deterministic synthetic trading day in SSI's wire shapes.

`SyntheticMarket(MarketConfig(day, seed=...)).events()` yields `MarketEvent`s in emission
order, from the derivatives opening auction at 08:45 to the close at 15:00 (Asia/Ho_Chi_Minh):

- session phases per market (shared/MARKET.md, `vnrec.calendar.SESSIONS`): book building
  during ATO/ATC with one auction match at the end of each (TradingSession `ATO`/`ATC`,
  no aggressor), continuous trading in `LO`, nothing at lunch, a status message (`F`) per
  symbol at every phase change;
- each instrument has an order book on its tick grid within its daily limits; every book
  change is sent as `X-QUOTE` before the next trade, and a continuous trade takes the best
  ask (`Side` BU) or the best bid (`Side` SD) of that book, in whole lots;
- `TotalVol`/`TotalVal` are the running sums of `LastVol` and price x volume;
- prices follow a market factor plus a per-stock walk; VN30 and VNINDEX are cap-weighted
  from the last trade prices (reference price before the first trade); the four listed
  VN30 futures follow the latest VN30 value plus a small basis;
- foreign buys and sells (`R`) are cumulative and move the current room; 1-minute bars (`B`)
  close at each minute boundary;
- event rates are highest after the open and before the close, and the auctions are bursts.

The same config yields byte-identical envelopes: every random draw comes from a
`random.Random` seeded by (seed, day, name), and ties in time are broken by a counter.
"""

from __future__ import annotations

import datetime as dt
import heapq
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple

from vnrec.calendar import DEFAULT_CALENDAR, HCM_TZ, SESSIONS, TradingCalendar, session_at
from vnrec.emulator import wire
from vnrec.emulator.book import Foreign, SymbolState
from vnrec.emulator.universe import VN30, IndexSpec, Instrument, Universe, build_universe
from vnrec.errors import BadInputError

DAY_START = 8 * 3600 + 45 * 60  # derivatives ATO opens
DAY_END = 15 * 3600  # the last phase of any market ends
_MORNING_END = 11 * 3600 + 30 * 60
_AFTERNOON_START = 13 * 3600
_ATC_END = 14 * 3600 + 45 * 60

_ACTIVE = frozenset(("LO", "ATO", "ATC"))
_P_TRADE = 0.42  # share of continuous events that are trades (the rest move the book)
_MARKET_DAILY_SD = 0.011
_IDIO_DAILY_SD = 0.015
_CONTINUOUS_SECONDS = 16_200.0

# Heap priorities at one instant: a minute's bars close first, then auctions match, then
# status changes, books open, ordinary events, and the index last so that it sees them all.
_BARS, _MATCH, _STATUS, _OPEN, _EVENT, _INDEX = range(6)


@dataclass(frozen=True)
class MarketConfig:
    day: dt.date
    seed: int = 0
    symbols: int = len(VN30)  # stocks, VN30 members first, up to universe.MAX_SYMBOLS
    activity: float = 1.0  # multiplies every instrument's event rate
    index_interval: int = 5  # seconds between MI messages while HOSE trades
    snapshots: bool = False  # also send the combined `X` message after each change
    force: bool = False  # generate a day the calendar says is not a trading day
    calendar: TradingCalendar = DEFAULT_CALENDAR


class MarketEvent(NamedTuple):
    time: dt.datetime  # when the message is sent, Asia/Ho_Chi_Minh
    envelope: dict[str, Any]  # {"DataType": ..., "Content": "<JSON text>"}
    key: str  # Symbol, or IndexId for MI: what channel symbol lists filter on


@dataclass(frozen=True)
class _Window:
    name: str
    start: int
    end: int


def _seconds(value: dt.time) -> int:
    return value.hour * 3600 + value.minute * 60


def _windows(exchange: str) -> tuple[_Window, ...]:
    return tuple(_Window(s.name, _seconds(s.start), _seconds(s.end)) for s in SESSIONS[exchange])


def _clock(seconds: int) -> str:
    return f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class SyntheticMarket:
    """One synthetic day. `events()` may be iterated any number of times, identically."""

    def __init__(self, config: MarketConfig) -> None:
        if config.activity <= 0:
            raise BadInputError(f"activity must be positive, not {config.activity}")
        if not config.force and not config.calendar.is_trading_day(config.day):
            raise BadInputError(
                f"{config.day.isoformat()} is not a trading day (weekend or holiday);"
                " force it to generate one anyway"
            )
        try:
            self.universe: Universe = build_universe(
                config.day, seed=config.seed, symbols=config.symbols, calendar=config.calendar
            )
        except ValueError as exc:
            raise BadInputError(str(exc)) from None
        self.config = config

    def events(self) -> Iterator[MarketEvent]:
        return _DayRun(self.config, self.universe).run()

    def envelopes(self) -> list[dict[str, Any]]:
        """The ground truth: every envelope of the day, in the order it is sent."""
        return [event.envelope for event in self.events()]


class _DayRun:
    """The simulation of one day; single use."""

    def __init__(self, config: MarketConfig, universe: Universe) -> None:
        self.config = config
        self.universe = universe
        self.date = config.day.strftime("%d/%m/%Y")
        self.midnight = dt.datetime.combine(config.day, dt.time(0), HCM_TZ)
        self.windows = {name: _windows(name) for name in SESSIONS}
        self.states = [self._state(i, inst) for i, inst in enumerate(universe.instruments)]
        self.by_symbol = {s.inst.symbol: s for s in self.states}
        self.beta = [s.rng.uniform(0.6, 1.4) for s in self.states]
        self.last_t = [float(DAY_START)] * len(self.states)
        self.factor = self._market_factor()
        self.vn30 = universe.index("VN30").prior
        self.heap: list[tuple[float, int, int, int | str]] = []
        self.counter = 0
        self.dirty_bars: set[int] = set()
        self.out: list[MarketEvent] = []

    # --- setup ---------------------------------------------------------------------------

    def _state(self, position: int, inst: Instrument) -> SymbolState:
        rng = random.Random(f"{self.config.seed}|{self.config.day}|{inst.symbol}|flow")
        floor, ceiling = inst.grid.limits(inst.ref)
        room = inst.foreign_room
        held = room * rng.choice((0.2, 0.5, 0.8, 1.0)) if room else 0
        current = max(int(room - held) // inst.lot * inst.lot, 0)
        return SymbolState(
            inst=inst,
            position=position,
            rng=rng,
            floor=floor,
            ceiling=ceiling,
            levels=3 if inst.exchange == "HOSE" else 10,
            foreign=Foreign(room, current),
        )

    def _market_factor(self) -> list[float]:
        rng = random.Random(f"{self.config.seed}|{self.config.day}|market")
        drift = rng.gauss(0.0, 0.008) / _CONTINUOUS_SECONDS
        step = _MARKET_DAILY_SD / math.sqrt(_CONTINUOUS_SECONDS)
        path, level = [], 0.0
        for _ in range(DAY_END - DAY_START + 1):
            path.append(level)
            level += drift + rng.gauss(0.0, step)
        return path

    def _push(self, t: float, kind: int, payload: int | str) -> None:
        self.counter += 1
        heapq.heappush(self.heap, (t, kind, self.counter, payload))

    def _schedule_day(self) -> None:
        exchanges = sorted({s.inst.exchange for s in self.states})
        for exchange in exchanges:
            windows = self.windows[exchange]
            for window in windows:
                self._push(window.start, _STATUS, f"{exchange}:{window.name}")
                if window.name in ("ATO", "ATC"):
                    self._push(window.end, _MATCH, f"{exchange}:{window.name}")
            self._push(windows[-1].end, _STATUS, f"{exchange}:C")
        for state in self.states:
            first = next(w for w in self.windows[state.inst.exchange] if w.name in _ACTIVE)
            self._push(first.start, _OPEN, state.position)
        for minute in range(DAY_START + 60, DAY_END + 1, 60):
            self._push(minute, _BARS, 0)
        interval = self.config.index_interval
        ticks = {DAY_START, DAY_END, _MORNING_END, _ATC_END}
        for start, end in ((9 * 3600, _MORNING_END), (_AFTERNOON_START, _ATC_END)):
            ticks.update(range(start, end + 1, interval))
        for tick in sorted(ticks):
            self._push(tick, _INDEX, 0)

    # --- the loop ------------------------------------------------------------------------

    def run(self) -> Iterator[MarketEvent]:
        self._schedule_day()
        handlers = {
            _BARS: self._bars,
            _MATCH: self._match,
            _STATUS: self._status,
            _OPEN: self._open,
            _EVENT: self._event,
            _INDEX: self._index,
        }
        while self.heap:
            t, kind, _, payload = heapq.heappop(self.heap)
            handlers[kind](t, payload)
            yield from self.out
            self.out.clear()

    def _emit(self, t: float, data_type: str, key: str, content: wire.Content) -> None:
        time = self.midnight + dt.timedelta(seconds=t)
        self.out.append(MarketEvent(time, wire.envelope(data_type, content), key))

    # --- rates and prices ----------------------------------------------------------------

    def _profile(self, exchange: str, t: float, session: str) -> float:
        if session != "LO":
            return 1.5  # orders pour in while an auction builds its book
        if t < _MORNING_END:
            opening = 9 * 3600 + (15 * 60 if exchange == "HOSE" else 0)
            return 1.0 + 2.5 * math.exp(-(t - opening) / 1200.0)
        closing = DAY_END if exchange == "UPCOM" else 14 * 3600 + 30 * 60
        return (
            1.0
            + 0.4 * math.exp(-(t - _AFTERNOON_START) / 600.0)
            + 1.5 * math.exp(-(closing - t) / 900.0)
        )

    def _next_time(self, state: SymbolState, t: float) -> float | None:
        rate_base = state.inst.activity * self.config.activity
        for window in self.windows[state.inst.exchange]:
            if window.end <= t or window.name not in _ACTIVE:
                continue
            start = max(t, float(window.start))
            rate = rate_base * self._profile(state.inst.exchange, start, window.name)
            candidate = start + state.rng.expovariate(rate)
            if candidate < window.end:
                return candidate
            t = window.end
        return None

    def _fair(self, state: SymbolState, t: float) -> float:
        """Where the instrument 'should' trade now, in grid units."""
        if state.inst.is_future:
            points = self.vn30 + state.inst.basis + state.rng.gauss(0.0, 0.4)
            return points * state.grid.scale
        elapsed = t - self.last_t[state.position]
        state.idio += state.rng.gauss(
            0.0, _IDIO_DAILY_SD * math.sqrt(max(elapsed, 0.0) / _CONTINUOUS_SECONDS)
        )
        self.last_t[state.position] = t
        index = min(max(int(t) - DAY_START, 0), len(self.factor) - 1)
        return state.inst.ref * math.exp(
            self.beta[state.position] * self.factor[index] + state.idio
        )

    def _fair_price(self, state: SymbolState, t: float) -> int:
        price = state.grid.nearest(max(self._fair(state, t), 1.0))
        return min(max(price, state.floor), state.ceiling)

    # --- handlers ------------------------------------------------------------------------

    def _open(self, t: float, payload: int | str) -> None:
        state = self.states[int(payload)]
        session = session_at(state.inst.exchange, dt.time(int(t) // 3600, int(t) // 60 % 60))
        state.reset_book(state.inst.ref)
        self._quote(state, t, session)
        if not state.inst.is_future:
            self._emit(t, "R", state.inst.symbol, wire.foreign(state, self.date, _clock(int(t))))
        self._schedule_next(state, t)

    def _schedule_next(self, state: SymbolState, t: float) -> None:
        following = self._next_time(state, t)
        if following is not None:
            self._push(following, _EVENT, state.position)

    def _session(self, exchange: str, t: float) -> str:
        for window in self.windows[exchange]:
            if window.start <= t < window.end:
                return window.name
        return "C"

    def _event(self, t: float, payload: int | str) -> None:
        state = self.states[int(payload)]
        session = self._session(state.inst.exchange, t)
        fair = self._fair(state, t)
        if session == "LO":
            self._continuous(state, t, fair)
        else:
            self._book_building(state, t, fair, session)
        self._schedule_next(state, t)

    def _continuous(self, state: SymbolState, t: float, fair: float) -> None:
        mid = state.mid()
        imbalance = (fair - mid) / state.grid.tick(int(mid))
        if state.rng.random() < _P_TRADE:
            buy_share = min(max(0.5 + 0.12 * imbalance, 0.1), 0.9)
            self._trade(state, t, state.rng.random() < buy_share)
        else:
            self._move_book(state, imbalance)
            self._quote(state, t, "LO")

    def _trade(self, state: SymbolState, t: float, buy: bool) -> None:
        if not state.asks and not state.bids:
            state.reset_book(state.last or state.inst.ref)
            self._quote(state, t, "LO")
            return
        if buy and not state.asks:
            buy = False
        if not buy and not state.bids:
            buy = True
        side = state.asks if buy else state.bids
        level = side[0]
        volume = min(level[1], state.lots(4.0 if not state.inst.is_future else 3.0))
        price = level[0]
        level[1] -= volume
        if level[1] == 0:
            side.pop(0)
        state.record_trade(price, volume, int(t))
        self.dirty_bars.add(state.position)
        clock = _clock(int(t))
        content = wire.trade(state, self.date, clock, volume, "LO", "BU" if buy else "SD")
        self._emit(t, "X-TRADE", state.inst.symbol, content)
        state.replenish()
        self._quote(state, t, "LO", last_vol=volume)
        self._foreign(state, t, price, volume)

    def _move_book(self, state: SymbolState, imbalance: float) -> None:
        """Orders arrive or leave: the book leans toward the fair price or volumes change."""
        grid, rng = state.grid, state.rng
        spread = state.spread_ticks()
        if imbalance > 0.7 and rng.random() < 0.6 and state.bids:
            if state.asks and spread > 1:
                state.bids.insert(0, [grid.up(state.bids[0][0]), state.level_volume()])
                del state.bids[state.levels :]
            elif state.asks:
                state.asks.pop(0)
        elif imbalance < -0.7 and rng.random() < 0.6 and state.asks:
            if state.bids and spread > 1:
                state.asks.insert(0, [grid.down(state.asks[0][0]), state.level_volume()])
                del state.asks[state.levels :]
            elif state.bids:
                state.bids.pop(0)
        elif spread > 2 and rng.random() < 0.5:
            # A wide spread attracts a better order on one side.
            if rng.random() < 0.5:
                state.bids.insert(0, [grid.up(state.bids[0][0]), state.level_volume()])
                del state.bids[state.levels :]
            else:
                state.asks.insert(0, [grid.down(state.asks[0][0]), state.level_volume()])
                del state.asks[state.levels :]
        else:
            side = (
                state.bids if (rng.random() < 0.5 and state.bids) or not state.asks else state.asks
            )
            if side:
                level = side[rng.randrange(len(side))]
                change = state.lots(6.0) * (1 if rng.random() < 0.55 else -1)
                level[1] = max(level[1] + change, state.inst.lot)
        state.replenish()

    def _book_building(self, state: SymbolState, t: float, fair: float, session: str) -> None:
        rng = state.rng
        target = min(max(state.grid.nearest(fair), state.floor), state.ceiling)
        if (
            state.bids
            and abs(target - state.bids[0][0]) > state.grid.tick(target)
            and rng.random() < 0.3
        ):
            state.reset_book(target)
        else:
            self._move_book(state, 0.0)
        self._quote(state, t, session)

    def _quote(self, state: SymbolState, t: float, session: str, last_vol: int = 0) -> None:
        clock = _clock(int(t))
        symbol = state.inst.symbol
        self._emit(t, "X-QUOTE", symbol, wire.quote(state, self.date, clock, session))
        if self.config.snapshots:
            self._emit(t, "X", symbol, wire.snapshot(state, self.date, clock, session, last_vol))

    def _foreign(self, state: SymbolState, t: float, price: int, volume: int) -> None:
        if state.inst.is_future:
            return
        rng, room, lot = state.rng, state.foreign, state.inst.lot
        if rng.random() >= (0.3 if state.inst.vn30 else 0.1):
            return
        part = max(int(volume * rng.uniform(0.2, 1.0)) // lot * lot, lot)
        kind = rng.random()
        changed = False
        if kind < 0.55:
            bought = min(part, room.current_room // lot * lot)
            if bought:
                room.buy_vol += bought
                room.buy_val += bought * price
                room.current_room -= bought
                changed = True
        if kind >= 0.45:
            room.sell_vol += part
            room.sell_val += part * price
            room.current_room = min(room.current_room + part, room.total_room)
            changed = True
        if changed:
            self._emit(t, "R", state.inst.symbol, wire.foreign(state, self.date, _clock(int(t))))

    def _match(self, t: float, payload: int | str) -> None:
        exchange, session = str(payload).split(":")
        clock = _clock(int(t))
        for state in self.states:
            if state.inst.exchange != exchange:
                continue
            probability = min(0.98, 0.3 + state.inst.activity * self.config.activity * 20)
            if state.rng.random() >= probability:
                continue
            price = self._fair_price(state, t)
            volume = state.lots(40.0 if not state.inst.is_future else 30.0)
            state.record_trade(price, volume, int(t))
            self.dirty_bars.add(state.position)
            content = wire.trade(state, self.date, clock, volume, session, None)
            self._emit(t, "X-TRADE", state.inst.symbol, content)
            if session == "ATO":
                state.reset_book(price)
                self._quote(state, t, "LO", last_vol=volume)
            self._foreign(state, t, price, volume)

    def _status(self, t: float, payload: int | str) -> None:
        exchange, session = str(payload).split(":")
        clock = _clock(int(t))
        for state in self.states:
            if state.inst.exchange == exchange:
                content = wire.status(state, self.date, clock, session)
                self._emit(t, "F", state.inst.symbol, content)

    def _bars(self, t: float, payload: int | str) -> None:
        for position in sorted(self.dirty_bars):
            state = self.states[position]
            item = state.take_bar(int(t))
            if item is None:
                continue
            content = wire.bar(state, item, self.date, _clock(item.minute))
            self._emit(t, "B", state.inst.symbol, content)
        self.dirty_bars = {p for p in self.dirty_bars if self.states[p].bar is not None}

    def _index(self, t: float, payload: int | str) -> None:
        clock = _clock(int(t))
        session = session_at("HOSE", dt.time(int(t) // 3600, int(t) // 60 % 60, int(t) % 60))
        for spec in self.universe.indices:
            members = [self.by_symbol[symbol] for symbol in spec.members]
            if not members:
                continue
            value = index_value(spec, members)
            if spec.index_id == "VN30":
                self.vn30 = value
            content = wire.index(
                spec.index_id,
                self.date,
                clock,
                session,
                value,
                spec.prior,
                _breadth(members),
                sum(m.total_vol for m in members),
                float(sum(m.total_val for m in members)),
            )
            self._emit(t, "MI", spec.index_id, content)


def index_value(spec: IndexSpec, members: list[SymbolState]) -> float:
    """Cap-weighted: prior x sum(shares x last) / sum(shares x reference), 2 decimals."""
    current = sum(m.inst.shares * (m.last or m.inst.ref) for m in members)
    base = sum(m.inst.shares * m.inst.ref for m in members)
    return round(spec.prior * current / base, 2)


def _breadth(members: list[SymbolState]) -> tuple[int, int, int, int, int]:
    advances = declines = unchanged = ceilings = floors = 0
    for m in members:
        price = m.last or m.inst.ref
        if price > m.inst.ref:
            advances += 1
        elif price < m.inst.ref:
            declines += 1
        else:
            unchanged += 1
        ceilings += price == m.ceiling
        floors += price == m.floor
    return advances, declines, unchanged, ceilings, floors
