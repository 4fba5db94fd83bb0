"""Alerts (SPEC.md 7.5), replayable: event time only, per-day state, identical live and
replayed. This module holds the rules' constants, the pieces both implementations share
(the 60-second de-duplication, the foreign and basis rules, which see a few messages a
minute) and `AlertTracker`, the per-trade reference of the trade rules that the columnar
engine (vnrec.replay.alerts) is tested against.

Decisions where SPEC.md 7.5 is silent (docs/design.md, "Alerts"):

- `t` of a trade in the rolling windows (volume_spike, imbalance) is the symbol's event-time
  high-water mark: the latest event time of its counted trades so far, this one included.
  Equal to the trade's own time while the feed's times only go forward; a trade stamped
  earlier than one before it is taken at the later time, so windows stay well defined.
  Trades without an event time take no part in any trade rule.
- A recording gap (vnrec.events.Gap) starts the trade rules afresh: the rolling windows and
  the transition states (previous trade at its limit, previous imbalance) forget what came
  before it, since the trades missed in the gap would be part of them. The foreign and basis
  rules keep their state (cumulative figures and a sign survive a gap), and so do the
  de-duplication timers.
- foreign_acceleration's N5 is the net value of the latest `R` of the symbol (by seq) at or
  before `t - 5 min` whose buy and sell values are both known.
- `value` and `threshold` are floats; an imbalance with no sell volume has `value` null.
"""

from __future__ import annotations

import collections
import datetime as dt
import math
from typing import NamedTuple

from vnrec.calendar import DEFAULT_CALENDAR, TradingCalendar, listed_contract_months
from vnrec.calendar import parse_futures_symbol as _parse_future
from vnrec.events import Gap

MINUTE_US = 60_000_000
SPIKE_WINDOW_US = 20 * MINUTE_US
SPIKE_FACTOR = 3
SPIKE_MIN_TRADES = 10
IMBALANCE_WINDOW_US = 5 * MINUTE_US
IMBALANCE_FACTOR = 3
IMBALANCE_MIN_VOLUME = 100_000
FOREIGN_WINDOW_US = 5 * MINUTE_US
FOREIGN_FACTOR = 0.3
FOREIGN_MIN_NET = 1_000_000_000.0
DEDUP_US = MINUTE_US

VOLUME_SPIKE = "volume_spike"
CEILING_HIT = "ceiling_hit"
FLOOR_HIT = "floor_hit"
FOREIGN_ACCELERATION = "foreign_acceleration"
BASIS_FLIP = "basis_flip"
IMBALANCE = "imbalance"
KINDS = (VOLUME_SPIKE, CEILING_HIT, FLOOR_HIT, FOREIGN_ACCELERATION, BASIS_FLIP, IMBALANCE)
ALERT_KEYS = ("seq", "event_ts", "kind", "symbol", "value", "threshold")


class Alert(NamedTuple):
    """One alert; `event_ts` in UTC microseconds, as events carry it."""

    seq: int
    event_ts: int
    kind: str
    symbol: str
    value: float | None
    threshold: float


def alert_rows(alerts: list[Alert]) -> list[dict[str, object]]:
    """The alerts as output objects (ALERT_KEYS), by seq then kind; times as datetimes."""
    epoch = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    return [
        {
            "seq": a.seq,
            "event_ts": epoch + dt.timedelta(microseconds=a.event_ts),
            "kind": a.kind,
            "symbol": a.symbol,
            "value": a.value,
            "threshold": a.threshold,
        }
        for a in sorted(alerts, key=lambda a: (a.seq, a.kind))
    ]


class Deduper:
    """At most one alert per kind and symbol per 60 s of event time, counted from the last
    one emitted (a suppressed alert changes no timer)."""

    def __init__(self) -> None:
        self._last: dict[tuple[str, str], int] = {}

    def emit(self, alert: Alert) -> bool:
        key = (alert.kind, alert.symbol)
        last = self._last.get(key)
        if last is not None and alert.event_ts - last < DEDUP_US:
            return False
        self._last[key] = alert.event_ts
        return True


class ForeignAcceleration:
    """The foreign_acceleration rule over `R` messages, in seq order."""

    def __init__(self) -> None:
        self._history: dict[str, list[tuple[int, float]]] = {}  # (event_ts, net) by seq

    def on_foreign(
        self,
        seq: int,
        event_ts: int | None,
        symbol: str | None,
        buy_val: float | None,
        sell_val: float | None,
    ) -> Alert | None:
        if event_ts is None or symbol is None or not _known(buy_val) or not _known(sell_val):
            return None
        assert buy_val is not None and sell_val is not None
        net = buy_val - sell_val
        history = self._history.setdefault(symbol, [])
        before = None
        horizon = event_ts - FOREIGN_WINDOW_US
        for stamp, value in reversed(history):
            if stamp <= horizon:
                before = value
                break
        history.append((event_ts, net))
        if before is None or abs(before) < FOREIGN_MIN_NET:
            return None
        threshold = FOREIGN_FACTOR * abs(before)
        if abs(net - before) >= threshold:
            return Alert(seq, event_ts, FOREIGN_ACCELERATION, symbol, net - before, threshold)
        return None


class BasisFlip:
    """The basis_flip rule over the counted trades of the day's front contract."""

    def __init__(self, day: dt.date, calendar: TradingCalendar = DEFAULT_CALENDAR) -> None:
        self._front = listed_contract_months(day, calendar)[0]
        self._fronts: dict[str, bool] = {}
        self._sign: dict[str, float] = {}  # the last non-zero basis' sign, per symbol

    def is_front(self, symbol: str | None) -> bool:
        if symbol is None:
            return False
        known = self._fronts.get(symbol)
        if known is None:
            contract = _parse_future(symbol)
            known = self._fronts[symbol] = (
                contract is not None
                and contract.underlying == "VN30"
                and (contract.year, contract.month) == self._front
            )
        return known

    def on_basis(
        self, seq: int, event_ts: int | None, symbol: str, basis: float | None
    ) -> Alert | None:
        """A counted trade of `symbol` (the front contract) with its basis."""
        if basis is None or math.isnan(basis) or basis == 0:
            return None
        sign = math.copysign(1.0, basis)
        last = self._sign.get(symbol)
        self._sign[symbol] = sign
        if last is not None and last != sign and event_ts is not None:
            return Alert(seq, event_ts, BASIS_FLIP, symbol, basis, 0.0)
        return None

    def last_sign(self, symbol: str) -> float | None:
        """The sign of `symbol`'s last non-zero basis (None before the first)."""
        return self._sign.get(symbol)

    def set_last_sign(self, symbol: str, sign: float) -> None:
        """After trades the columnar engine applied the rule to (vnrec.replay.alerts)."""
        self._sign[symbol] = sign


def _known(value: float | None) -> bool:
    return value is not None and not math.isnan(value)


class _Symbol:
    """Per symbol: the trades in the rolling windows and the transition states."""

    def __init__(self) -> None:
        self.clock = -1  # event-time high-water mark
        self.spike: collections.deque[tuple[int, int]] = collections.deque()  # (t, volume)
        self.flow: collections.deque[tuple[int, int, int]] = collections.deque()  # (t, b, s)
        self.buy = 0
        self.sell = 0
        self.at_ceiling = False
        self.at_floor = False
        self.imbalanced = False


class AlertTracker:
    """The reference: every alert rule, one counted trade (or `R` message) at a time."""

    def __init__(self, day: dt.date, calendar: TradingCalendar = DEFAULT_CALENDAR) -> None:
        self._symbols: dict[str | None, _Symbol] = {}
        self._dedup = Deduper()
        self._foreign = ForeignAcceleration()
        self._basis = BasisFlip(day, calendar)
        self.alerts: list[Alert] = []

    def on_gap(self, gap: Gap) -> None:
        self._symbols.clear()

    def on_foreign(
        self,
        seq: int,
        event_ts: int | None,
        symbol: str | None,
        buy_val: float | None,
        sell_val: float | None,
    ) -> None:
        self._emit(self._foreign.on_foreign(seq, event_ts, symbol, buy_val, sell_val))

    def on_trade(
        self,
        seq: int,
        event_ts: int | None,
        symbol: str | None,
        price: float,
        volume: int,
        side: str,
        phase: str,
        ceiling: float | None,
        floor: float | None,
        basis: float | None,
    ) -> None:
        """A counted trade: its classification `side`, `phase`, its message's Ceiling and
        Floor, and its basis (VN30 futures)."""
        if symbol is None:
            return
        if event_ts is None:
            return
        state = self._symbols.get(symbol)
        if state is None:
            state = self._symbols[symbol] = _Symbol()
        state.clock = max(state.clock, event_ts)
        t = state.clock
        # volume_spike: the earlier trades with a clock in (t - 20 min, t)
        while state.spike and state.spike[0][0] <= t - SPIKE_WINDOW_US:
            state.spike.popleft()
        before = [(stamp, v) for stamp, v in state.spike if stamp < t]
        count = len(before)
        total = sum(v for _, v in before)
        if count >= SPIKE_MIN_TRADES and volume * count >= SPIKE_FACTOR * total:
            threshold = SPIKE_FACTOR * total / count
            self._emit(Alert(seq, event_ts, VOLUME_SPIKE, symbol, float(volume), threshold))
        state.spike.append((t, volume))
        # ceiling_hit / floor_hit: at the limit now, and the previous trade was not
        at_ceiling = _known(ceiling) and ceiling is not None and ceiling > 0 and price >= ceiling
        at_floor = _known(floor) and floor is not None and floor > 0 and price <= floor
        if at_ceiling and not state.at_ceiling:
            assert ceiling is not None
            self._emit(Alert(seq, event_ts, CEILING_HIT, symbol, price, ceiling))
        if at_floor and not state.at_floor:
            assert floor is not None
            self._emit(Alert(seq, event_ts, FLOOR_HIT, symbol, price, floor))
        state.at_ceiling, state.at_floor = at_ceiling, at_floor
        # basis_flip
        if self._basis.is_front(symbol):
            self._emit(self._basis.on_basis(seq, event_ts, symbol, basis))
        # imbalance: the trades with a clock in (t - 5 min, t], this one included
        state.flow.append((t, volume if side == "buy" else 0, volume if side == "sell" else 0))
        state.buy += state.flow[-1][1]
        state.sell += state.flow[-1][2]
        while state.flow and state.flow[0][0] <= t - IMBALANCE_WINDOW_US:
            _, buy, sell = state.flow.popleft()
            state.buy -= buy
            state.sell -= sell
        if phase == "continuous":
            buy, sell = state.buy, state.sell
            now = buy + sell >= IMBALANCE_MIN_VOLUME and (
                buy >= IMBALANCE_FACTOR * sell or sell >= IMBALANCE_FACTOR * buy
            )
            if now and not state.imbalanced:
                ratio = None if sell == 0 else buy / sell
                self._emit(Alert(seq, event_ts, IMBALANCE, symbol, ratio, float(IMBALANCE_FACTOR)))
            state.imbalanced = now

    def _emit(self, alert: Alert | None) -> None:
        if alert is not None and self._dedup.emit(alert):
            self.alerts.append(alert)
