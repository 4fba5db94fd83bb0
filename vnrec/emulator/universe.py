"""The instruments of a synthetic day: VN30 stocks first, then generated HOSE/HNX/UPCOM
tickers up to the requested count, and the four VN30 futures listed that day.

Everything is drawn from a `random.Random` seeded by (seed, name), so one instrument's
parameters never depend on how many others there are.
"""

from __future__ import annotations

import datetime as dt
import random
import string
from dataclasses import dataclass

from vnrec.calendar import DEFAULT_CALENDAR, TradingCalendar, listed_futures
from vnrec.emulator.prices import LOT, PriceGrid

MAX_SYMBOLS = 1_600

# VN30 members with a typical price level (VND) and shares outstanding (millions); the
# levels only anchor the seeded reference prices, they are not quotes.
VN30: tuple[tuple[str, int, int], ...] = (
    ("ACB", 25_000, 4_470),
    ("BCM", 65_000, 1_035),
    ("BID", 45_000, 6_995),
    ("BVH", 50_000, 742),
    ("CTG", 38_000, 5_370),
    ("FPT", 120_000, 1_471),
    ("GAS", 70_000, 2_342),
    ("GVR", 30_000, 4_000),
    ("HDB", 25_000, 3_493),
    ("HPG", 27_000, 6_396),
    ("LPB", 35_000, 2_987),
    ("MBB", 24_000, 6_103),
    ("MSN", 75_000, 1_438),
    ("MWG", 65_000, 1_478),
    ("PLX", 38_000, 1_271),
    ("SAB", 55_000, 1_283),
    ("SHB", 13_000, 4_595),
    ("SSB", 18_000, 2_831),
    ("SSI", 28_000, 1_960),
    ("STB", 40_000, 1_885),
    ("TCB", 25_000, 7_065),
    ("TPB", 16_000, 2_642),
    ("VCB", 62_000, 8_356),
    ("VHM", 55_000, 4_108),
    ("VIB", 19_000, 2_979),
    ("VIC", 70_000, 3_824),
    ("VJC", 100_000, 542),
    ("VNM", 62_000, 2_090),
    ("VPB", 20_000, 7_934),
    ("VRE", 25_000, 2_272),
)

# Share of generated (non-VN30) tickers per exchange, roughly the listed counts.
_EXCHANGE_MIX = (("HOSE", 0.27), ("HNX", 0.22), ("UPCOM", 0.51))


@dataclass(frozen=True)
class Instrument:
    symbol: str
    exchange: str  # HOSE, HNX, UPCOM or DERIVATIVES
    ref: int  # reference price in grid units (VND; tenths of a point for futures)
    shares: int  # shares outstanding (index weight); 0 for futures
    foreign_room: int  # foreign ownership limit in shares; 0 for futures
    activity: float  # mean events per second in continuous trading, before the profile
    vn30: bool = False
    last_trading_day: dt.date | None = None  # futures only
    basis: float = 0.0  # futures only: premium over VN30 in points

    @property
    def grid(self) -> PriceGrid:
        return PriceGrid(self.exchange)

    @property
    def is_future(self) -> bool:
        return self.exchange == "DERIVATIVES"

    @property
    def lot(self) -> int:
        return 1 if self.is_future else LOT


@dataclass(frozen=True)
class IndexSpec:
    index_id: str
    prior: float  # prior close in points
    members: tuple[str, ...]


@dataclass(frozen=True)
class Universe:
    day: dt.date
    stocks: tuple[Instrument, ...]
    futures: tuple[Instrument, ...]
    indices: tuple[IndexSpec, ...]

    @property
    def instruments(self) -> tuple[Instrument, ...]:
        return self.stocks + self.futures

    def index(self, index_id: str) -> IndexSpec:
        for spec in self.indices:
            if spec.index_id == index_id:
                return spec
        raise KeyError(index_id)

    def instrument(self, symbol: str) -> Instrument:
        for item in self.instruments:
            if item.symbol == symbol:
                return item
        raise KeyError(symbol)


def _rng(seed: int, *names: object) -> random.Random:
    return random.Random("|".join(str(n) for n in (seed, *names)))


def _reference(rng: random.Random, level: float, exchange: str) -> int:
    # Yesterday's close wanders around the anchor level so different seeds differ.
    grid = PriceGrid(exchange)
    return max(grid.nearest(level * rng.lognormvariate(0.0, 0.08)), grid.round_up(1_000))


def _vn30_stock(seed: int, day: dt.date, symbol: str, level: int, shares_m: int) -> Instrument:
    rng = _rng(seed, day, symbol)
    shares = shares_m * 1_000_000
    return Instrument(
        symbol=symbol,
        exchange="HOSE",
        ref=_reference(rng, level, "HOSE"),
        shares=shares,
        foreign_room=int(shares * rng.choice((0.30, 0.49, 0.49, 0.49))) // LOT * LOT,
        activity=0.2 * rng.lognormvariate(0.0, 0.4),
        vn30=True,
    )


def _generated_tickers(seed: int, count: int) -> list[str]:
    rng = _rng(seed, "tickers")
    taken = {symbol for symbol, _, _ in VN30}
    tickers: list[str] = []
    while len(tickers) < count:
        ticker = "".join(rng.choice(string.ascii_uppercase) for _ in range(3))
        if ticker not in taken:
            taken.add(ticker)
            tickers.append(ticker)
    return tickers


def _exchange_for(position: int) -> str:
    # Deterministic interleaving that keeps the mix at every prefix of the list.
    point = (position * 0.618_033_988_75) % 1.0
    cumulative = 0.0
    for exchange, share in _EXCHANGE_MIX:
        cumulative += share
        if point < cumulative:
            return exchange
    return _EXCHANGE_MIX[-1][0]


_BASE_ACTIVITY = {"HOSE": 0.03, "HNX": 0.015, "UPCOM": 0.006}


def _generated_stock(seed: int, day: dt.date, position: int, symbol: str) -> Instrument:
    exchange = _exchange_for(position)
    rng = _rng(seed, day, symbol)
    shares = int(rng.lognormvariate(4.5, 1.0)) * 1_000_000 + 10_000_000
    return Instrument(
        symbol=symbol,
        exchange=exchange,
        ref=_reference(rng, rng.lognormvariate(9.9, 0.7), exchange),
        shares=shares,
        foreign_room=int(shares * rng.choice((0.30, 0.49, 0.49, 1.0))) // LOT * LOT,
        activity=_BASE_ACTIVITY[exchange] * rng.lognormvariate(0.0, 1.0),
    )


def _futures(
    seed: int, day: dt.date, vn30_prior: float, calendar: TradingCalendar
) -> tuple[Instrument, ...]:
    contracts = listed_futures(day, "VN30", calendar)
    activities = (1.0, 0.12, 0.02, 0.01)
    result = []
    for rank, contract in enumerate(contracts):
        rng = _rng(seed, day, contract.symbol)
        expiry = contract.last_trading_day(calendar)
        # Basis shrinks toward expiry: a few points for the front month, more further out.
        days_left = max((expiry - day).days, 0)
        basis = round(rng.uniform(-1.0, 1.0) * (2.0 + days_left * 0.12), 1)
        grid = PriceGrid("DERIVATIVES")
        result.append(
            Instrument(
                symbol=contract.symbol,
                exchange="DERIVATIVES",
                ref=grid.nearest((vn30_prior + basis) * grid.scale),
                shares=0,
                foreign_room=0,
                activity=activities[rank] * rng.lognormvariate(0.0, 0.2),
                last_trading_day=expiry,
                basis=basis,
            )
        )
    return tuple(result)


def build_universe(
    day: dt.date,
    *,
    seed: int,
    symbols: int = len(VN30),
    calendar: TradingCalendar = DEFAULT_CALENDAR,
) -> Universe:
    """The instruments of `day`: the first `symbols` stocks (VN30 first) and the futures."""
    if not 1 <= symbols <= MAX_SYMBOLS:
        raise ValueError(f"symbols must be between 1 and {MAX_SYMBOLS}, not {symbols}")
    stocks = [
        _vn30_stock(seed, day, symbol, level, shares)
        for symbol, level, shares in VN30[: min(symbols, len(VN30))]
    ]
    extra = _generated_tickers(seed, max(symbols - len(VN30), 0))
    stocks += [_generated_stock(seed, day, i, symbol) for i, symbol in enumerate(extra)]
    rng = _rng(seed, day, "indices")
    vn30_prior = round(1900.0 * rng.lognormvariate(0.0, 0.03), 2)
    vnindex_prior = round(1650.0 * rng.lognormvariate(0.0, 0.03), 2)
    indices = (
        IndexSpec("VN30", vn30_prior, tuple(s.symbol for s in stocks if s.vn30)),
        IndexSpec(
            "VNINDEX", vnindex_prior, tuple(s.symbol for s in stocks if s.exchange == "HOSE")
        ),
    )
    return Universe(day, tuple(stocks), _futures(seed, day, vn30_prior, calendar), indices)
