"""Fixtures for the analytics tests: days written through the real importer, and DuckDB
connections that are always closed."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import duckdb
import pytest

from vnrec.analytics import connect
from vnrec.storage.importer import import_envelopes
from vnrec.storage.layout import Layout

Write = Callable[[Iterable[Mapping[str, Any]]], Layout]
Connect = Callable[..., duckdb.DuckDBPyConnection]


@pytest.fixture
def write(layout: Layout) -> Write:
    """Import envelopes into the test's data root (appending to days already there)."""

    def _write(envelopes: Iterable[Mapping[str, Any]]) -> Layout:
        import_envelopes(layout, list(envelopes), append=True)
        return layout

    return _write


@pytest.fixture
def open_con(layout: Layout) -> Iterator[Connect]:
    """`connect` on the test's data root; every connection is closed after the test."""
    opened: list[duckdb.DuckDBPyConnection] = []

    def _open(**kwargs: Any) -> duckdb.DuckDBPyConnection:
        con = connect(kwargs.pop("root", layout.root), **kwargs)
        opened.append(con)
        return con

    yield _open
    for con in opened:
        con.close()


def one(con: duckdb.DuckDBPyConnection, sql: str) -> tuple[Any, ...]:
    """The single row of a query."""
    rows = con.execute(sql).fetchall()
    assert len(rows) == 1, rows
    return rows[0]
