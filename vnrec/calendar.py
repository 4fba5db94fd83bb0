"""Vietnamese trading calendar, session times and VN30/VN100 index-futures symbols.

Pure functions over dates; nothing here reads the wall clock. Facts come from
shared/MARKET.md: HOSE/HNX holiday announcements, third-Thursday expiry moved to the
previous trading day when it is a holiday, and both futures symbol forms (`VN30FYYMM`
and the KRX form `41I1` + year code + month code + `000`).

Holidays of a year: the exchanges' own announcement where vnrec has it (it is what the
market keeps), else Vietnam's public holidays from the maintained `holidays` package
(lunar dates and substitute days included), with a warning once per year that the
exchange list is not known; plus closures the user adds (kept in the data root, see
vnrec.storage.closures, so that recording, replay and SQL agree).
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
from collections.abc import Iterable
from dataclasses import dataclass

log = logging.getLogger(__name__)

HCM_UTC_OFFSET = dt.timedelta(hours=7)
HCM_TZ = dt.timezone(HCM_UTC_OFFSET, "Asia/Ho_Chi_Minh")

# Exchange-announced market holidays (weekends are never trading days and are not listed).
EXCHANGE_HOLIDAYS: dict[int, frozenset[dt.date]] = {
    # 2025 (list unverified beyond the exchange's Tet notice)
    2025: frozenset(
        [
            dt.date(2025, 1, 1),
            *(dt.date(2025, 1, d) for d in range(27, 32)),
            dt.date(2025, 4, 7),
            dt.date(2025, 4, 30),
            dt.date(2025, 5, 1),
            dt.date(2025, 5, 2),
            dt.date(2025, 9, 1),
            dt.date(2025, 9, 2),
        ]
    ),
    # 2026 (HOSE/HNX announcement)
    2026: frozenset(
        [
            dt.date(2026, 1, 1),
            *(dt.date(2026, 2, d) for d in range(16, 21)),
            dt.date(2026, 4, 27),
            dt.date(2026, 4, 30),
            dt.date(2026, 5, 1),
            dt.date(2026, 8, 31),
            dt.date(2026, 9, 1),
            dt.date(2026, 9, 2),
        ]
    ),
}
EXCHANGE = "exchange"
PUBLIC = "public holidays"
CLOSURE = "data root"


# The years a futures symbol can name (KRX codes: 2010-2039; VN30FYYMM: 2000-2099): public
# holidays are computed for all of them in one call, which costs what a single year does.
PUBLIC_HOLIDAY_YEARS = range(2000, 2100)


@functools.cache
def _public_holidays_by_year() -> dict[int, frozenset[dt.date]]:
    import holidays  # imported on first use: most commands never need a year outside the list

    by_year: dict[int, set[dt.date]] = {year: set() for year in PUBLIC_HOLIDAY_YEARS}
    for day in holidays.country_holidays("VN", years=PUBLIC_HOLIDAY_YEARS):
        by_year[day.year].add(day)
    return {year: frozenset(days) for year, days in by_year.items()}


@functools.cache
def public_holidays(year: int) -> frozenset[dt.date]:
    """Vietnam's public holidays of `year` (the `holidays` package, substitutes included).

    Cached: the futures table asks for every month of a century of contracts, and the
    `holidays` package computes the lunar dates on each call."""
    known = _public_holidays_by_year().get(year)
    if known is None:
        import holidays

        return frozenset(holidays.country_holidays("VN", years=year))
    return known


def market_holidays(year: int) -> tuple[frozenset[dt.date], str]:
    """The holidays of `year` and where they come from (EXCHANGE or PUBLIC)."""
    if year in EXCHANGE_HOLIDAYS:
        return EXCHANGE_HOLIDAYS[year], EXCHANGE
    return public_holidays(year), PUBLIC


@functools.cache
def warn_if_unlisted(year: int) -> None:
    """Say once per year and process that a day of `year` is judged by public holidays
    (called where a day of data is recorded or replayed, not for every date computed)."""
    if year not in EXCHANGE_HOLIDAYS:
        log.warning(
            "%d: vnrec has no exchange holiday list for this year; using Vietnam's public"
            " holidays (add a closure the exchanges announced with `vnrec calendar --close`)",
            year,
        )


@dataclass(frozen=True)
class TradingCalendar:
    """Weekdays minus the year's market holidays minus `closures` (days the exchange closes
    at short notice, added by the user)."""

    closures: frozenset[dt.date] = frozenset()

    @classmethod
    def with_extra(cls, closures: Iterable[dt.date]) -> TradingCalendar:
        return cls(frozenset(closures))

    def is_trading_day(self, day: dt.date) -> bool:
        return (
            day.weekday() < 5
            and day not in self.closures
            and day not in market_holidays(day.year)[0]
        )

    def non_trading_weekdays(self, year: int) -> list[tuple[dt.date, str]]:
        """Every weekday of `year` without trading, with the source that says so."""
        holidays, source = market_holidays(year)
        found = {day: source for day in holidays if day.weekday() < 5 and day.year == year}
        for day in self.closures:
            if day.year == year and day.weekday() < 5:
                found.setdefault(day, CLOSURE)
        return sorted(found.items())

    def next_trading_day(self, day: dt.date) -> dt.date:
        """The first trading day strictly after `day`."""
        candidate = day + dt.timedelta(days=1)
        while not self.is_trading_day(candidate):
            candidate += dt.timedelta(days=1)
        return candidate

    def previous_trading_day(self, day: dt.date) -> dt.date:
        """The last trading day strictly before `day`."""
        candidate = day - dt.timedelta(days=1)
        while not self.is_trading_day(candidate):
            candidate -= dt.timedelta(days=1)
        return candidate

    def futures_last_trading_day(self, year: int, month: int) -> dt.date:
        """Third Thursday of the month, or the trading day before it when it is not one."""
        first = dt.date(year, month, 1)
        first_thursday = first + dt.timedelta(days=(3 - first.weekday()) % 7)
        third_thursday = first_thursday + dt.timedelta(days=14)
        if self.is_trading_day(third_thursday):
            return third_thursday
        return self.previous_trading_day(third_thursday)


DEFAULT_CALENDAR = TradingCalendar()


# --- sessions ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Session:
    """One named phase of a market's day, [start, end) in Asia/Ho_Chi_Minh local time."""

    name: str  # SSI TradingSession value during the phase: ATO, LO, ATC, BREAK, PT
    start: dt.time
    end: dt.time


def _t(hhmm: str) -> dt.time:
    hours, minutes = hhmm.split(":")
    return dt.time(int(hours), int(minutes))


SESSIONS: dict[str, tuple[Session, ...]] = {
    "HOSE": (
        Session("ATO", _t("09:00"), _t("09:15")),
        Session("LO", _t("09:15"), _t("11:30")),
        Session("BREAK", _t("11:30"), _t("13:00")),
        Session("LO", _t("13:00"), _t("14:30")),
        Session("ATC", _t("14:30"), _t("14:45")),
        Session("PT", _t("14:45"), _t("15:00")),
    ),
    "HNX": (
        Session("LO", _t("09:00"), _t("11:30")),
        Session("BREAK", _t("11:30"), _t("13:00")),
        Session("LO", _t("13:00"), _t("14:30")),
        Session("ATC", _t("14:30"), _t("14:45")),
        Session("PLO", _t("14:45"), _t("15:00")),
    ),
    "UPCOM": (
        Session("LO", _t("09:00"), _t("11:30")),
        Session("BREAK", _t("11:30"), _t("13:00")),
        Session("LO", _t("13:00"), _t("15:00")),
    ),
    "DERIVATIVES": (
        Session("ATO", _t("08:45"), _t("09:00")),
        Session("LO", _t("09:00"), _t("11:30")),
        Session("BREAK", _t("11:30"), _t("13:00")),
        Session("LO", _t("13:00"), _t("14:30")),
        Session("ATC", _t("14:30"), _t("14:45")),
    ),
}


def session_at(market: str, local_time: dt.time) -> str:
    """The SSI session name of `market` at a local time; `C` (closed) outside all phases."""
    for session in SESSIONS[market]:
        if session.start <= local_time < session.end:
            return session.name
    return "C"


def to_hcm(instant: dt.datetime) -> dt.datetime:
    """An aware instant as Asia/Ho_Chi_Minh local time (UTC+7, no daylight saving)."""
    return instant.astimezone(HCM_TZ)


def hcm_date_of_ns(epoch_ns: int) -> dt.date:
    """The Asia/Ho_Chi_Minh calendar date of a UTC epoch-nanosecond instant."""
    seconds = epoch_ns // 1_000_000_000 + int(HCM_UTC_OFFSET.total_seconds())
    return dt.date(1970, 1, 1) + dt.timedelta(days=seconds // 86_400)


# --- index futures symbols ---------------------------------------------------------------

# KRX year code: 0-9 for 2010-2019, then A..W skipping I, O and U (A=2020 ... F=2025, G=2026,
# W=2039); SPEC.md defines no letter after W.
_YEAR_CODES = "0123456789" + "".join(c for c in "ABCDEFGHIJKLMNOPQRSTUVW" if c not in "IOU")
_MONTH_CODES = "123456789ABC"
_KRX_UNDERLYING = {"41I1": "VN30", "41I2": "VN100"}
_LEGACY_PREFIX = {"VN30F": "VN30", "VN100F": "VN100"}


@dataclass(frozen=True, order=True)
class FuturesContract:
    """An index future: its underlying index and contract month, whatever the symbol form."""

    underlying: str  # "VN30" or "VN100"
    year: int
    month: int
    symbol: str

    def last_trading_day(self, calendar: TradingCalendar = DEFAULT_CALENDAR) -> dt.date:
        return calendar.futures_last_trading_day(self.year, self.month)


def parse_futures_symbol(symbol: str) -> FuturesContract | None:
    """Recognise `VN30FYYMM`, `VN100FYYMM` and KRX `41I1`/`41I2` + year + month + `000`.

    Returns None for anything else (stocks, warrants, malformed codes)."""
    for prefix, underlying in _LEGACY_PREFIX.items():
        rest = symbol[len(prefix) :]
        if symbol.startswith(prefix) and len(rest) == 4 and rest.isdigit():
            month = int(rest[2:])
            if 1 <= month <= 12:
                return FuturesContract(underlying, 2000 + int(rest[:2]), month, symbol)
            return None
    if len(symbol) == 9 and symbol[:4] in _KRX_UNDERLYING and symbol.endswith("000"):
        year_index = _YEAR_CODES.find(symbol[4])
        month_index = _MONTH_CODES.find(symbol[5])
        if year_index >= 0 and month_index >= 0:
            return FuturesContract(
                _KRX_UNDERLYING[symbol[:4]], 2010 + year_index, month_index + 1, symbol
            )
    return None


def krx_futures_symbol(year: int, month: int, underlying: str = "VN30") -> str:
    prefix = next(p for p, u in _KRX_UNDERLYING.items() if u == underlying)
    return f"{prefix}{_YEAR_CODES[year - 2010]}{_MONTH_CODES[month - 1]}000"


def legacy_futures_symbol(year: int, month: int, underlying: str = "VN30") -> str:
    return f"{underlying}F{year % 100:02d}{month:02d}"


# KRX symbols replaced VN30FYYMM for contracts listed from May 2025 on.
KRX_SYMBOLS_SINCE = dt.date(2025, 5, 5)


def _add_months(year: int, month: int, months: int) -> tuple[int, int]:
    index = year * 12 + (month - 1) + months
    return index // 12, index % 12 + 1


def listed_contract_months(
    day: dt.date, calendar: TradingCalendar = DEFAULT_CALENDAR
) -> list[tuple[int, int]]:
    """(year, month) of the four listed contracts on `day`: the nearest unexpired month, the
    month after it, and the last months of the next two quarters after that."""
    year, month = day.year, day.month
    if calendar.futures_last_trading_day(year, month) < day:
        year, month = _add_months(year, month, 1)
    months = [(year, month), _add_months(year, month, 1)]
    y, m = months[-1]
    while len(months) < 4:
        y, m = _add_months(y, m, 1)
        if m % 3 == 0:
            months.append((y, m))
    return months


def listed_futures(
    day: dt.date, underlying: str = "VN30", calendar: TradingCalendar = DEFAULT_CALENDAR
) -> list[FuturesContract]:
    """The contracts listed on `day`, nearest first, with the symbol form in use that day."""
    make = krx_futures_symbol if day >= KRX_SYMBOLS_SINCE else legacy_futures_symbol
    return [
        FuturesContract(underlying, y, m, make(y, m, underlying))
        for y, m in listed_contract_months(day, calendar)
    ]


def front_contract(
    symbols: Iterable[str], day: dt.date, calendar: TradingCalendar = DEFAULT_CALENDAR
) -> str | None:
    """Among `symbols`, the VN30 future with the nearest last trading day on or after `day`.

    Ties (the same contract month in both symbol forms) go to the lexicographically smaller
    symbol so that the choice never depends on input order."""
    best: tuple[dt.date, str] | None = None
    for symbol in symbols:
        contract = parse_futures_symbol(symbol)
        if contract is None or contract.underlying != "VN30":
            continue
        expiry = contract.last_trading_day(calendar)
        if expiry < day:
            continue
        key = (expiry, symbol)
        if best is None or key < best:
            best = key
    return None if best is None else best[1]
