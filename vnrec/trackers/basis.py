"""Basis of VN30 index futures: trade price minus the latest VN30 value before the trade.

Both symbol forms (`VN30FYYMM` and KRX `41I1...`) are recognised through
`vnrec.calendar.parse_futures_symbol`; each contract symbol keeps its own series, and the
day's front contract comes from `vnrec.calendar.front_contract`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, NamedTuple

from vnrec.calendar import DEFAULT_CALENDAR, TradingCalendar, front_contract, parse_futures_symbol
from vnrec.events import IndexEvent
from vnrec.results import with_basis_extras
from vnrec.trackers.trades import CountedTrade

VN30 = "VN30"


class BasisPoint(NamedTuple):
    """The basis at one counted futures trade."""

    seq: int
    event_ts: int | None
    symbol: str
    price: float
    index_value: float
    basis: float


class _Contract:
    __slots__ = ("last", "max_basis", "min_basis", "points")

    def __init__(self) -> None:
        self.points = 0
        self.last: BasisPoint | None = None
        self.min_basis = 0.0
        self.max_basis = 0.0


class BasisTracker:
    """Per VN30 futures contract: the basis series and its summary for one trading day."""

    def __init__(
        self,
        day: dt.date,
        calendar: TradingCalendar = DEFAULT_CALENDAR,
        keep_series: bool = True,
    ) -> None:
        self._day = day
        self._calendar = calendar
        self._vn30: float | None = None
        self._is_vn30_future: dict[str | None, bool] = {}
        self._contracts: dict[str, _Contract] = {}
        self._keep_series = keep_series
        self.series: list[BasisPoint] = []

    def on_index(self, event: IndexEvent) -> None:
        value = event.value
        if event.index_id == VN30 and value is not None and value > 0:
            self._vn30 = value

    def basis_of(self, symbol: str | None, price: float) -> float | None:
        """The basis of a trade of `symbol` at `price` now (None: no VN30 future, or no
        VN30 value yet)."""
        if self._vn30 is None or not self.covers(symbol):
            return None
        return price - self._vn30

    def covers(self, symbol: str | None) -> bool:
        """Whether trades of `symbol` (a VN30 future, either symbol form) get a basis."""
        known = self._is_vn30_future.get(symbol)
        return self._recognise(symbol) if known is None else known

    def _recognise(self, symbol: str | None) -> bool:
        contract = None if symbol is None else parse_futures_symbol(symbol)
        known = contract is not None and contract.underlying == VN30
        self._is_vn30_future[symbol] = known
        if known:
            assert symbol is not None
            self._contracts[symbol] = _Contract()
        return known

    def on_trade(self, trade: CountedTrade) -> None:
        symbol = trade.symbol
        known = self._is_vn30_future.get(symbol)
        if known is None:
            known = self._recognise(symbol)
        if not known:
            return
        assert symbol is not None
        vn30 = self._vn30
        if vn30 is None:
            return
        price = trade.price
        basis = price - vn30
        point = BasisPoint(trade.seq, trade.event_ts, symbol, price, vn30, basis)
        contract = self._contracts[symbol]
        if contract.points == 0 or basis < contract.min_basis:
            contract.min_basis = basis
        if contract.points == 0 or basis > contract.max_basis:
            contract.max_basis = basis
        contract.points += 1
        contract.last = point
        if self._keep_series:
            self.series.append(point)

    def rows(self) -> list[dict[str, Any]]:
        """One object per VN30 futures contract with a counted trade (sorted), BASIS_KEYS."""
        symbols = sorted(self._contracts)
        front = front_contract(symbols, self._day, self._calendar)
        rows = []
        for symbol in symbols:
            contract = self._contracts[symbol]
            last = contract.last
            has_points = last is not None
            rows.append(
                {
                    "symbol": symbol,
                    "points": contract.points,
                    "last_price": last.price if last is not None else None,
                    "last_index": last.index_value if last is not None else None,
                    "last_basis": last.basis if last is not None else None,
                    "min_basis": contract.min_basis if has_points else None,
                    "max_basis": contract.max_basis if has_points else None,
                    "front": symbol == front,
                }
            )
        return [with_basis_extras(row) for row in rows]
