"""A generated trading day with every message kind and rule of SPEC.md section 4 in it,
imported through the real importer in small batches (many part files, like a recorder)."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest

from vnrec import testing as f
from vnrec.storage.importer import Importer
from vnrec.storage.layout import Layout

DAY = dt.date(2026, 2, 6)
WIRE_DATE = "06/02/2026"
STOCKS = ("FPT", "HPG", "VNM")
FUTURES = ("41I1G2000", "VN30F2603")
BATCH_LINES = 37


def _clock(second: int) -> str:
    start = 9 * 3600 + second
    return f"{start // 3600:02d}:{start % 3600 // 60:02d}:{start % 60:02d}"


def generated_day(seed: int = 7, messages: int = 600) -> list[dict[str, Any]]:
    """Quotes, trades (with repeats), X snapshots, futures of both symbol forms, VN30 and
    VNINDEX, foreign (with a cumulative going back), bars, status and an unknown type."""
    rng = random.Random(seed)
    totals = dict.fromkeys(STOCKS + FUTURES, 0)
    foreign = {s: [0, 0] for s in STOCKS}
    sent: list[dict[str, Any]] = []
    for i in range(messages):
        time = _clock(i * 20)
        session = "ATO" if i < 40 else ("ATC" if i > messages - 40 else "LO")
        kind = rng.random()
        if kind < 0.35:
            symbol = rng.choice(STOCKS)
            mid = 20_000 + 50 * rng.randint(0, 20)
            bids = [(float(mid - 50), 1_000.0), (float(mid - 100), 500.0)]
            asks = [(float(mid + 50), 800.0)] if rng.random() > 0.1 else []
            sent.append(f.quote(symbol, bids, asks, time=time, date=WIRE_DATE, session=session))
        elif kind < 0.62:
            symbol = rng.choice(STOCKS)
            volume = 100 * rng.randint(1, 20)
            totals[symbol] += volume
            price = float(20_000 + 50 * rng.randint(0, 22))
            side = rng.choice(["BU", "SD", None])
            sent.append(
                f.trade(
                    symbol,
                    price,
                    float(volume),
                    float(totals[symbol]),
                    time=time,
                    date=WIRE_DATE,
                    session=session,
                    side=side,
                )
            )
            if rng.random() < 0.15:  # a reconnect resends it
                sent.append(sent[-1])
        elif kind < 0.70:
            symbol = rng.choice(STOCKS)
            totals[symbol] += 100 * rng.randint(0, 5)
            mid = 20_000 + 50 * rng.randint(0, 20)
            sent.append(
                f.snapshot(
                    symbol,
                    float(mid),
                    100.0,
                    float(totals[symbol]),
                    [(float(mid - 50), 300.0)],
                    [(float(mid + 50), 400.0)],
                    time=time,
                    date=WIRE_DATE,
                    session=session,
                )
            )
        elif kind < 0.80:
            symbol = rng.choice(FUTURES)
            volume = rng.randint(1, 9)
            totals[symbol] += volume
            sent.append(
                f.trade(
                    symbol,
                    1_900.0 + rng.randint(-50, 50) / 10,
                    float(volume),
                    float(totals[symbol]),
                    time=time,
                    date=WIRE_DATE,
                    session=session,
                    exchange="DERIVATIVES",
                )
            )
        elif kind < 0.88:
            index_id = rng.choice(["VN30", "VN30", "VNINDEX"])
            value = 0.0 if i < 15 else 1_900.0 + rng.randint(-100, 100) / 10
            sent.append(f.index(index_id, value, prior=1_890.0, time=time, date=WIRE_DATE))
        elif kind < 0.95:
            symbol = rng.choice(STOCKS)
            buy, sell = foreign[symbol]
            if rng.random() < 0.1:
                buy = max(buy - 1_000, 0)  # a cumulative figure going backwards
            else:
                buy, sell = buy + 100 * rng.randint(0, 9), sell + 100 * rng.randint(0, 9)
            foreign[symbol] = [buy, sell]
            sent.append(
                f.foreign(
                    symbol,
                    float(buy),
                    float(sell),
                    buy * 20_000.0,
                    sell * 20_000.0,
                    time=time,
                    date=WIRE_DATE,
                    prefixed=rng.random() < 0.5,
                )
            )
        elif kind < 0.97:
            sent.append(
                f.bar(rng.choice(STOCKS), 1.0, 2.0, 0.5, 1.5, 100.0, time=time, date=WIRE_DATE)
            )
        elif kind < 0.99:
            sent.append(f.status(rng.choice(STOCKS), session, time=time, date=WIRE_DATE))
        else:
            content = {"RType": "ZZ", "TradingDate": WIRE_DATE, "Time": time, "Symbol": "VNM"}
            sent.append({"DataType": "ZZ", "Content": orjson.dumps(content).decode()})
    return sent


def import_day(root: Path, envelopes: list[dict[str, Any]], batch_lines: int) -> Layout:
    layout = Layout(root)
    with Importer(layout, batch_lines=batch_lines) as importer:
        importer.import_lines((orjson.dumps(e) for e in envelopes), "<test>")
        importer.commit()
    return layout


ImportDay = Callable[[Path, int], Layout]


@pytest.fixture
def import_generated_day(envelopes: list[dict[str, Any]]) -> ImportDay:
    """Import the generated day under a root with a chosen batch size (parts per batch)."""
    return lambda root, batch_lines: import_day(root, envelopes, batch_lines)


@pytest.fixture(scope="module")
def envelopes() -> list[dict[str, Any]]:
    return generated_day()


@pytest.fixture(scope="module")
def day_root(tmp_path_factory: pytest.TempPathFactory, envelopes: list[dict[str, Any]]) -> Path:
    root = tmp_path_factory.mktemp("replay") / "data"
    import_day(root, envelopes, BATCH_LINES)
    return root
