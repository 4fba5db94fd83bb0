"""Shared fixtures: a fresh data root per test and the example envelopes of shared/."""

from __future__ import annotations

from pathlib import Path

import pytest

from vnrec.storage.layout import Layout

SHARED_FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures"


@pytest.fixture
def layout(tmp_path: Path) -> Layout:
    return Layout(tmp_path / "data")
