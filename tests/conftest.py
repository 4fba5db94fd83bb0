"""Shared fixtures: a fresh data root per test and the example envelopes of shared/."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest

from vnrec.storage.layout import Layout

SHARED_FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures"


@pytest.fixture
def layout(tmp_path: Path) -> Layout:
    return Layout(tmp_path / "data")


def pytest_unconfigure(config: pytest.Config) -> None:
    # Failed-test reports keep exception cycles (traceback -> frame -> recorder -> error)
    # that hold DuckDB connections; collected here, before DuckDB's nanobind bindings
    # would list them as "leaked" at interpreter exit.
    gc.collect()
