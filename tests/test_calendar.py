"""The trading calendar and futures-symbol rules of shared/MARKET.md."""

from __future__ import annotations

import datetime as dt

import pytest

from vnrec.calendar import (
    DEFAULT_CALENDAR,
    TradingCalendar,
    front_contract,
    hcm_date_of_ns,
    krx_futures_symbol,
    legacy_futures_symbol,
    listed_futures,
    market_holidays,
    parse_futures_symbol,
    public_holidays,
    session_at,
    warn_if_unlisted,
)

D = dt.date


def test_weekends_and_holidays_are_not_trading_days() -> None:
    """Saturdays, Sundays and announced holidays (Tet 2026) are closed; other weekdays open."""
    cal = DEFAULT_CALENDAR
    assert not cal.is_trading_day(D(2026, 11, 21))  # Saturday
    assert not cal.is_trading_day(D(2026, 11, 22))  # Sunday
    assert all(not cal.is_trading_day(D(2026, 2, d)) for d in range(16, 21))
    assert not cal.is_trading_day(D(2026, 9, 2))
    assert cal.is_trading_day(D(2026, 2, 13))
    assert cal.next_trading_day(D(2026, 2, 13)) == D(2026, 2, 23)
    assert cal.previous_trading_day(D(2026, 2, 23)) == D(2026, 2, 13)


def test_extra_holidays_extend_the_calendar() -> None:
    """A configured extra closure is not a trading day."""
    cal = TradingCalendar.with_extra([D(2026, 11, 20)])
    assert not cal.is_trading_day(D(2026, 11, 20))
    assert DEFAULT_CALENDAR.is_trading_day(D(2026, 11, 20))


def test_futures_expiry_is_third_thursday_or_the_trading_day_before() -> None:
    """Expiry is the third Thursday, moved back when it is a holiday (Feb 2026: 13th)."""
    cal = DEFAULT_CALENDAR
    assert cal.futures_last_trading_day(2026, 3) == D(2026, 3, 19)
    assert cal.futures_last_trading_day(2026, 11) == D(2026, 11, 19)
    assert cal.futures_last_trading_day(2026, 2) == D(2026, 2, 13)


@pytest.mark.parametrize(
    ("symbol", "underlying", "year", "month"),
    [
        ("VN30F2603", "VN30", 2026, 3),
        ("VN30F2512", "VN30", 2025, 12),
        ("41I1G3000", "VN30", 2026, 3),
        ("41I1GB000", "VN30", 2026, 11),
        ("41I1FC000", "VN30", 2025, 12),
        ("41I1A1000", "VN30", 2020, 1),
        ("41I1H1000", "VN30", 2027, 1),
        ("41I1J1000", "VN30", 2028, 1),  # I is skipped: H=2027, J=2028
        ("41I2G3000", "VN100", 2026, 3),
        ("VN100F2606", "VN100", 2026, 6),
    ],
)
def test_both_futures_symbol_forms_parse(
    symbol: str, underlying: str, year: int, month: int
) -> None:
    """VN30FYYMM and 41I1 + year code + month code + 000 give the same contract month."""
    contract = parse_futures_symbol(symbol)
    assert contract is not None
    assert (contract.underlying, contract.year, contract.month) == (underlying, year, month)


@pytest.mark.parametrize(
    "symbol",
    [
        "VNM",
        "FPT",
        "VN30F26",
        "VN30F2613",
        "41I1GD000",
        "41I1I1000",
        "41I1G3001",
        "41I1X1000",  # year codes end at W (2039)
        "41I1Z3000",
        "",
    ],
)
def test_non_futures_symbols_are_rejected(symbol: str) -> None:
    """Stocks and malformed codes are not futures."""
    assert parse_futures_symbol(symbol) is None


def test_symbol_builders_round_trip() -> None:
    """Building a symbol and parsing it back gives the same contract month."""
    for year in (2020, 2025, 2026, 2030):
        for month in range(1, 13):
            for make in (krx_futures_symbol, legacy_futures_symbol):
                contract = parse_futures_symbol(make(year, month))
                assert contract is not None and (contract.year, contract.month) == (year, month)


def test_listed_contracts_are_this_next_and_two_quarter_months() -> None:
    """Four contracts: nearest unexpired month, the next, then the next two quarter months."""
    assert [c.symbol for c in listed_futures(D(2026, 11, 5))] == [
        "41I1GB000",
        "41I1GC000",
        "41I1H3000",
        "41I1H6000",
    ]
    # After the November expiry (19th) the front month rolls to December.
    assert [c.symbol for c in listed_futures(D(2026, 11, 20))][:2] == ["41I1GC000", "41I1H1000"]
    assert listed_futures(D(2025, 3, 3))[0].symbol == "VN30F2503"


def test_front_contract_rolls_after_expiry_including_the_tet_shift() -> None:
    """The front contract is the nearest expiry on or after the day, in either symbol form."""
    feb, mar = "41I1G2000", "41I1G3000"
    assert front_contract([mar, feb], D(2026, 2, 12)) == feb
    assert front_contract([mar, feb], D(2026, 2, 13)) == feb  # expiry day itself
    assert front_contract([mar, feb], D(2026, 2, 23)) == mar  # 19 Feb was Tet: expired on 13th
    assert front_contract(["VN30F2602", "VN30F2603"], D(2026, 2, 23)) == "VN30F2603"
    assert front_contract(["VNM", "41I2G2000"], D(2026, 2, 2)) is None


def test_sessions_by_market() -> None:
    """HOSE opens with ATO at 09:00, derivatives at 08:45; lunch is a break; after 15:00 closed."""
    assert session_at("HOSE", dt.time(9, 5)) == "ATO"
    assert session_at("HOSE", dt.time(9, 15)) == "LO"
    assert session_at("HOSE", dt.time(12, 0)) == "BREAK"
    assert session_at("HOSE", dt.time(14, 40)) == "ATC"
    assert session_at("HNX", dt.time(9, 5)) == "LO"
    assert session_at("DERIVATIVES", dt.time(8, 50)) == "ATO"
    assert session_at("UPCOM", dt.time(14, 50)) == "LO"
    assert session_at("HOSE", dt.time(15, 30)) == "C"


def test_hcm_date_of_ns_uses_utc_plus_seven() -> None:
    """17:00 UTC is already the next day in Ho Chi Minh City."""
    ns = int(dt.datetime(2026, 11, 5, 17, 0, tzinfo=dt.UTC).timestamp()) * 1_000_000_000
    assert hcm_date_of_ns(ns) == D(2026, 11, 6)
    assert hcm_date_of_ns(ns - 1) == D(2026, 11, 5)


def test_years_without_an_exchange_list_use_vietnams_public_holidays(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """2024's Hung Kings day (18 April, a Thursday) closes the market, so VN30F2404 expired
    on the 17th; substitute days count; a warning says the exchange list is not known."""
    cal = DEFAULT_CALENDAR
    warn_if_unlisted.cache_clear()  # the warning is said once per year and process
    with caplog.at_level("WARNING", logger="vnrec.calendar"):
        assert not cal.is_trading_day(D(2024, 4, 18))
        warn_if_unlisted(2024)
        warn_if_unlisted(2024)
        warn_if_unlisted(2026)
    assert caplog.messages == [
        "2024: vnrec has no exchange holiday list for this year; using Vietnam's public"
        " holidays (add a closure the exchanges announced with `vnrec calendar --close`)"
    ]
    assert cal.futures_last_trading_day(2024, 4) == D(2024, 4, 17)
    assert parse_futures_symbol("VN30F2404") is not None
    assert front_contract(["VN30F2404", "VN30F2405"], D(2024, 4, 18)) == "VN30F2405"
    assert not cal.is_trading_day(D(2024, 4, 29))  # substitute day off
    assert not cal.is_trading_day(D(2027, 2, 8))  # Tet 2027
    assert cal.is_trading_day(D(2027, 3, 3))
    assert (
        "2024: vnrec has no exchange holiday list" in caplog.text
        or market_holidays.cache_info().hits
    )


def test_exchange_lists_win_over_public_holidays() -> None:
    """Where vnrec has the exchanges' list (2025, 2026) it is the calendar, substitute days
    included; Vietnam's public holidays agree with it on every listed day."""
    for year in (2025, 2026):
        exchange, source = market_holidays(year)
        assert source == "exchange"
        weekdays = {d for d in public_holidays(year) if d.weekday() < 5}
        assert exchange <= weekdays
    assert DEFAULT_CALENDAR.non_trading_weekdays(2026)[:2] == [
        (D(2026, 1, 1), "exchange"),
        (D(2026, 2, 16), "exchange"),
    ]


def test_closures_are_listed_with_their_source() -> None:
    """A closure added by the user is a non-trading day listed as the data root's."""
    cal = TradingCalendar(frozenset({D(2026, 11, 20)}))
    assert (D(2026, 11, 20), "data root") in cal.non_trading_weekdays(2026)
