"""Query results written batch by batch (`vnrec query -f json|csv`) are the bytes the
whole result gives at once, for every kind of value DuckDB returns."""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

import duckdb
import orjson
import pytest

from vnrec.analytics.query import parquet_batch, plain_columns, query_batches, query_rows
from vnrec.cli.output import OutputFormat, emit, emit_batches
from vnrec.errors import QueryError, StorageError, VnrecError

ROWS = 25_000  # three batches of QUERY_BATCH_ROWS
SQL = f"""
SELECT
    range AS n,
    CASE WHEN range % 7 = 0 THEN NULL ELSE range / 3 END AS third,
    CASE WHEN range % 5 = 0 THEN 'NaN'::DOUBLE ELSE range * 0.25 END AS "odd, ""name""
on two lines",
    (range * 0.5)::DECIMAL(18, 1) AS half,
    (range::HUGEINT * 10000000000000) AS big,
    [range * 1.0, 'NaN'::DOUBLE] AS pair,
    INTERVAL (range) SECOND AS waited,
    'ab\\x01'::BLOB AS bytes,
    TIMESTAMPTZ '2026-02-06 02:15:00+00' + INTERVAL (range) SECOND AS at,
    DATE '2026-02-06' AS day,
    range % 2 = 0 AS even,
    CASE WHEN range % 3 = 0 THEN NULL ELSE 'x' || range END AS text
FROM range({ROWS})
"""


@pytest.mark.parametrize("fmt", [OutputFormat.json, OutputFormat.csv])
def test_batches_write_the_bytes_of_the_whole_result(tmp_path: Path, fmt: OutputFormat) -> None:
    con = duckdb.connect()
    whole, parts = tmp_path / "whole", tmp_path / "parts"
    emit(query_rows(con, SQL), fmt, output=whole)
    emit_batches(
        query_batches(con, SQL), fmt, columns_of=plain_columns, parquet_of=parquet_batch,
        output=parts,
    )  # fmt: skip
    assert parts.read_bytes() == whole.read_bytes()
    rows = query_rows(con, SQL)
    if fmt is OutputFormat.json:
        parsed = orjson.loads(parts.read_bytes())
        assert len(parsed) == ROWS
        assert parsed[5]['odd, "name"\non two lines'] is None  # NaN is null
        assert parsed[5]["pair"] == [5.0, None]
        assert parsed[3]["half"] == 1.5 and parsed[4]["half"] == 2
        assert parsed[-1]["big"] == (ROWS - 1) * 10**13
        return
    header, *lines = list(csv.reader(io.StringIO(parts.read_text())))
    assert header == list(rows[0]) and len(lines) == ROWS  # the header's line break quoted
    third = header.index("third")
    assert lines[7][third] == "" and lines[5][2] == ""  # null and NaN: empty cells
    assert float(lines[8][third]) == rows[8]["third"] and not math.isnan(rows[8]["third"])
    assert lines[5][header.index("pair")] == "[5.0, None]"


def test_json_writes_nan_as_null_and_numpy_floats_as_numbers() -> None:
    """A tracker's result may hold numpy's float64 (a float subclass orjson does not
    serialize by itself): it is written as its number, and any NaN as null."""
    import numpy as np

    from vnrec.cli.output import to_json

    document = {"a": np.float64(1.5), "b": np.float64("nan"), "c": [math.nan, math.inf, 2.0]}
    assert to_json(document, indent=False) == b'{"a":1.5,"b":null,"c":[null,null,2.0]}'


@pytest.mark.parametrize(
    "sql",
    ["SELECT 1 AS a, 2 AS a, 'x' AS b", "SELECT 1, 1", "SELECT * FROM (SELECT 1 a), (SELECT 2 a)"],
)
def test_a_result_with_two_columns_of_one_name_is_refused(sql: str) -> None:
    """A row keeps one value per name: rather than drop a column, the query is refused."""
    with pytest.raises(QueryError, match="more than one column named"):
        list(query_batches(duckdb.connect(), sql))


def test_a_query_failing_midway_says_part_of_its_result_was_written() -> None:
    """DuckDB's error while computing a later batch reaches the reader as Arrow's OSError:
    it is named as a failure after part of the result, not as one of writing; the same
    error in the first batch is the query's."""
    late = (
        "SELECT CASE WHEN range = 2900000 THEN error('late boom') ELSE range END AS x"
        " FROM range(3000000)"
    )
    batches = query_batches(duckdb.connect(config={"threads": 1}), late)
    assert next(batches).num_rows > 0
    with pytest.raises(StorageError, match=r"after part of its result was written: .*late boom"):
        list(batches)
    # DuckDB's message, whether its error comes as its own or as Arrow's.
    with pytest.raises(VnrecError, match=r"^Invalid Input Error: boom$"):
        list(query_batches(duckdb.connect(), "SELECT error('boom') AS x"))
    with pytest.raises(VnrecError, match=r"^Invalid Input Error: boom$"):
        early = "SELECT CASE WHEN range = 5 THEN error('boom') ELSE range END AS x FROM range(9)"
        list(query_batches(duckdb.connect(), early))
