"""`vnrec demo`: the main job end to end, offline, in a scratch data root."""

from __future__ import annotations

import dataclasses
import random
import sys
import tempfile
from pathlib import Path
from typing import Annotated

import typer

from vnrec import testing as f
from vnrec.cli.output import OutputFormat, emit
from vnrec.storage.compact import compact_day
from vnrec.storage.importer import import_envelopes
from vnrec.storage.inventory import inventory
from vnrec.storage.layout import Layout

DEMO_DATE = "06/02/2026"


def sample_day(seed: int = 7, messages: int = 5_000) -> list[f.Envelope]:
    """A small deterministic day of quotes and trades for three stocks."""
    rng = random.Random(seed)
    prices = {"FPT": 120_000.0, "MWG": 71_500.0, "VNM": 61_000.0}
    totals = dict.fromkeys(prices, 0.0)
    out: list[f.Envelope] = []
    for i in range(messages // 2):
        symbol = rng.choice(sorted(prices))
        price = prices[symbol] + rng.choice((-100.0, 0.0, 100.0))
        prices[symbol] = price
        clock = f"{9 + i * 5 // 3600:02d}:{i * 5 // 60 % 60:02d}:{i * 5 % 60:02d}"
        out.append(
            f.quote(symbol, [(price - 100, 1000.0)], [(price, 1000.0)], time=clock, date=DEMO_DATE)
        )
        volume = float(rng.randint(1, 20) * 100)
        totals[symbol] += volume
        out.append(f.trade(symbol, price, volume, totals[symbol], time=clock, date=DEMO_DATE))
    return out


def demo_command(
    data: Annotated[
        Path | None, typer.Option("--data", help="Where to write (default: a temp dir).")
    ] = None,
) -> None:
    """Run the main job offline: generate a sample day, import it, compact it, list it."""
    root = data if data is not None else Path(tempfile.mkdtemp(prefix="vnrec-demo-"))
    layout = Layout(root)
    report = import_envelopes(layout, sample_day(), source="demo", append=True)
    for day, done in sorted(report.days.items()):
        print(f"imported {done.rows:,} messages for {day} into {root}", file=sys.stderr)
        compact_day(layout, day)
    emit([dataclasses.asdict(e) for e in inventory(layout)], OutputFormat.table, title=str(root))


def register(app: typer.Typer) -> None:
    app.command("demo")(demo_command)
