"""The VN30 index futures symbols, as a small table the SQL joins against.

The symbol rules belong to `vnrec.calendar`; SQL cannot call it per row cheaply, so the
whole (finite) symbol space of both forms is run through `parse_futures_symbol` once and
the VN30 contracts it accepts become a table. `VN30F` + four digits and `41I1` + two codes
+ `000`, with codes drawn from digits and capital letters, is every string the parser can
accept, so the table and the parser agree on every symbol.
"""

from __future__ import annotations

import string
from functools import cache

import pyarrow as pa

from vnrec.calendar import DEFAULT_CALENDAR, TradingCalendar, parse_futures_symbol

_CODE_ALPHABET = string.digits + string.ascii_uppercase


def _candidate_symbols() -> list[str]:
    legacy = [f"VN30F{number:04d}" for number in range(10_000)]
    krx = [f"41I1{year}{month}000" for year in _CODE_ALPHABET for month in _CODE_ALPHABET]
    return legacy + krx


@cache
def vn30_futures(
    calendar: TradingCalendar = DEFAULT_CALENDAR, among: frozenset[str] | None = None
) -> pa.Table:
    """Every VN30 futures symbol with its contract month and last trading day; with
    `among`, only those of these symbols (the whole table takes ~0.1 s to build: the last
    trading days of a century of contracts need the `holidays` package's century)."""
    symbols: list[str] = []
    years: list[int] = []
    months: list[int] = []
    expiries = []
    for symbol in _candidate_symbols() if among is None else sorted(among):
        contract = parse_futures_symbol(symbol)
        if contract is None or contract.underlying != "VN30":
            continue
        symbols.append(symbol)
        years.append(contract.year)
        months.append(contract.month)
        expiries.append(contract.last_trading_day(calendar))
    return pa.table(
        {
            "symbol": pa.array(symbols, pa.string()),
            "year": pa.array(years, pa.int32()),
            "month": pa.array(months, pa.int32()),
            "last_trading_day": pa.array(expiries, pa.date32()),
        }
    )


def symbol_prefixes(contracts: pa.Table, length: int = 4) -> list[str]:
    """The distinct first `length` characters of the contract symbols, sorted."""
    return sorted({symbol[:length] for symbol in contracts.column("symbol").to_pylist()})
