"""Naive baseline: what vnrec's columnar import is measured against.

The obvious way to store SSI messages in Python: one pydantic v2 model per message (a model
per channel with every SSI field of `vnrec.ssi.channels`, numbers validated from JSON
numbers, numeric strings and "NaN"), appended to a per-table Python list, turned into Arrow
and written as zstd Parquet at the end. It runs on the very file `bench_import` generates
(same generator, same count) and, like vnrec, keeps every envelope in a `raw` table.

What it does not do, and vnrec does: seq gap checks, rejects, trading-day routing, event
timestamps, bounded batches and durable part files. The baseline is therefore an upper
bound on the naive design's speed, and the vnrec/naive ratio a lower bound.

Both sides run in their own subprocess on one core (`POLARS_MAX_THREADS=1` for vnrec), so
peak RSS (VmHWM) is that of one import and not of the generator.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Annotated, Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import AliasChoices, BaseModel, BeforeValidator, ConfigDict, Field, create_model

from vnrec.ssi.channels import CHANNELS, Channel

ROOT = Path(__file__).resolve().parent.parent


def _nan_to_none(value: Any) -> Any:
    """SSI sends "NaN" (or a NaN number) for missing volumes; an int field cannot hold it."""
    if value == "NaN" or (isinstance(value, float) and math.isnan(value)):
        return None
    return value


Price = float | None  # pydantic's lax mode already reads "NaN" and "123.5" as floats
Volume = Annotated[int | None, BeforeValidator(_nan_to_none)]
_KIND_TYPES: dict[str, Any] = {
    "text": str | None,
    "price": Price,
    "value": Price,
    "volume": Volume,
    "count": Volume,
}


class _Message(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)
    trading_date: str | None = Field(default=None, validation_alias="TradingDate")
    time: str | None = Field(default=None, validation_alias=AliasChoices("Time", "TradingTime"))


def _model(channel: Channel) -> type[BaseModel]:
    """The channel's model, written out field by field as a user would, derived here from
    the same wire description vnrec normalizes so that both sides keep the same columns."""
    fields: dict[str, Any] = {
        f.column: (
            _KIND_TYPES[f.kind],
            Field(default=None, validation_alias=AliasChoices(*f.keys)),
        )
        for f in channel.fields
    }
    return create_model(f"{channel.table.title()}Message", __base__=_Message, **fields)


def naive_import(source: Path, out: Path) -> int:
    """The naive pipeline; returns the number of envelopes read."""
    models = {channel.table: _model(channel) for channel in CHANNELS}
    routes: dict[str, list[str]] = {}
    for channel in CHANNELS:
        for data_type in channel.data_types:
            routes.setdefault(data_type, []).append(channel.table)
    rows: dict[str, list[BaseModel]] = {table: [] for table in models}
    raw: list[dict[str, Any]] = []
    count = 0
    with open(source, "rb") as lines:
        for count, line in enumerate(lines, start=1):
            envelope = orjson.loads(line)
            content = envelope["Content"]
            fields = orjson.loads(content) if isinstance(content, str) else content
            data_type = envelope["DataType"]
            raw.append({"seq": count, "data_type": data_type, "content": content})
            for table in routes.get(data_type, ()):
                rows[table].append(models[table].model_validate(fields))
    out.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(raw), out / "raw.parquet", compression="zstd")
    for table, messages in rows.items():
        if messages:
            data = pa.Table.from_pylist([m.model_dump() for m in messages])
            pq.write_table(data, out / f"{table}.parquet", compression="zstd")
    return count


def vnrec_import(source: Path, out: Path) -> int:
    from vnrec.storage.importer import import_files
    from vnrec.storage.layout import Layout

    return import_files(Layout(out), [source]).lines


def _child(which: str, source: Path, out: Path) -> None:
    """Runs in the subprocess: one import, then its times and peak RSS as JSON."""
    started = time.perf_counter()
    cpu_started = time.process_time()
    count = naive_import(source, out) if which == "naive" else vnrec_import(source, out)
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    # VmHWM, not ru_maxrss: Linux carries the parent's peak into ru_maxrss across exec.
    status = Path("/proc/self/status").read_text().splitlines()
    peak_kb = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
    print(json.dumps({"count": count, "seconds": elapsed, "cpu": cpu, "peak_mb": peak_kb / 1024}))


def _measure(which: str, source: Path, out: Path) -> dict[str, float]:
    shutil.rmtree(out, ignore_errors=True)
    env = {**os.environ, "POLARS_MAX_THREADS": "1"}
    completed = subprocess.run(
        [sys.executable, "-m", "bench.bench_naive", "--child", which, str(source), str(out)],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
    )
    result: dict[str, float] = json.loads(completed.stdout.splitlines()[-1])
    result["bytes"] = float(sum(p.stat().st_size for p in out.rglob("*.parquet")))
    shutil.rmtree(out, ignore_errors=True)
    return result


def _row(metric: str, value: float, unit: str, note: str) -> dict[str, Any]:
    return {"benchmark": "naive", "metric": metric, "value": value, "unit": unit, "note": note}


def run(quick: bool) -> list[dict[str, Any]]:
    # Imported here, not at the top: the naive child process must not load polars and
    # vnrec's storage (bench_import's imports) into the peak RSS it reports.
    from bench.bench_import import generate

    count = 20_000 if quick else 1_000_000
    work = Path(tempfile.mkdtemp(prefix="vnrec-bench-naive-"))
    try:
        source = work / "envelopes.jsonl"
        generate(source, count)
        naive = _measure("naive", source, work / "naive")
        vnrec = _measure("vnrec", source, work / "vnrec")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    assert naive["count"] == vnrec["count"] == count, (naive, vnrec)
    same = f"{count:,} envelopes of bench_import's generator, 1 core, own subprocess"
    naive_rate = count / naive["seconds"]
    vnrec_rate = count / vnrec["seconds"]
    return [
        _row("naive envelopes/s", naive_rate, "envelopes/s", f"pydantic model per message; {same}"),
        _row("vnrec envelopes/s", vnrec_rate, "envelopes/s", f"import_files in-process; {same}"),
        _row(
            "vnrec/naive speed",
            vnrec_rate / naive_rate,
            "x",
            f"CPU time ratio {naive['cpu'] / vnrec['cpu']:.1f}x",
        ),
        _row("naive peak RSS", naive["peak_mb"], "MB", "VmHWM; every message held until the end"),
        _row("vnrec peak RSS", vnrec["peak_mb"], "MB", "VmHWM; batches of 100,000 lines"),
        _row(
            "naive/vnrec peak RSS",
            naive["peak_mb"] / vnrec["peak_mb"],
            "x",
            f"Parquet written: naive {naive['bytes'] / count:,.0f} B/msg,"
            f" vnrec {vnrec['bytes'] / count:,.0f} B/msg",
        ),
    ]


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--child":
        _child(sys.argv[2], Path(sys.argv[3]), Path(sys.argv[4]))
    else:
        for result in run(quick="--quick" in sys.argv):
            print(result)
