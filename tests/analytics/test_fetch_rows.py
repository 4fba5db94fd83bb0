"""`fetch_rows` builds UTC times and dates itself (Arrow's conversion of zoned times is slow):
the rows must be what Arrow's `to_pylist` gives, value, type and zone object alike."""

from __future__ import annotations

import math

import duckdb

from vnrec.analytics.reports import fetch_rows

SQL = """
SELECT * FROM (VALUES
    (TIMESTAMPTZ '2026-02-06 02:15:00.123456+00', DATE '2026-02-06', 1, 'FPT', 1.5,
     TIMESTAMP '2026-02-06 09:15:00', TIMESTAMPTZ '1969-12-31 23:59:59.999999+00',
     DATE '1900-01-01'),
    (NULL, NULL, NULL, NULL, NULL, NULL, TIMESTAMPTZ '2262-04-11 23:47:16+00',
     DATE '9999-12-31'),
    (TIMESTAMPTZ '0001-01-01 00:00:00+00', DATE '0001-01-01', -1, '', 'NaN'::DOUBLE,
     TIMESTAMP '0001-01-01 00:00:00', NULL, NULL)
) AS t(stamp, day, n, symbol, value, naive, edge, far)
"""


def test_rows_are_arrows_own() -> None:
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    expected = con.sql(SQL).to_arrow_table().to_pylist()
    got = fetch_rows(con, SQL)
    assert len(got) == 3
    for row, want in zip(got, expected, strict=True):
        assert list(row) == list(want)
        for key, value in row.items():
            other = want[key]
            assert type(value) is type(other), key
            if not (isinstance(value, float) and math.isnan(value)):
                assert value == other, key
            if hasattr(value, "tzinfo"):
                assert value.tzinfo is other.tzinfo or value.tzinfo == other.tzinfo, key
                assert value.isoformat() == other.isoformat(), key


def test_no_rows() -> None:
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    assert fetch_rows(con, "SELECT TIMESTAMPTZ '2026-01-01 00:00:00+00' AS t WHERE false") == []
