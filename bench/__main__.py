"""`make bench`: every benchmark in one run on this machine; results in
bench/results/latest.md and the README's benchmark section.

    python -m bench            # full sizes (minutes)
    python -m bench --quick    # small sizes, a smoke run in seconds
    python -m bench --only import,replay
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import importlib.metadata
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
BENCHMARKS = ("import", "naive", "emulator", "recorder", "replay", "scaling", "analytics", "peers")
README_START = "<!-- bench:start -->"
README_END = "<!-- bench:end -->"


def machine() -> dict[str, str]:
    cpu = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = ""
    meminfo = Path("/proc/meminfo")
    if meminfo.is_file():
        kib = int(meminfo.read_text().split()[1])
        memory = f"{kib / 1024 / 1024:.0f} GiB"
    versions = ", ".join(
        f"{name} {importlib.metadata.version(name)}"
        for name in ("duckdb", "pyarrow", "polars", "orjson", "ssi-fc-data")
    )
    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": f"{cpu}, {os.cpu_count()} cores",
        "memory": memory,
        "python": platform.python_version(),
        "os": platform.platform(),
        "versions": versions,
    }


def format_value(value: float, unit: str) -> str:
    if unit == "s":
        return f"{value:.3f}"
    if value >= 100:
        return f"{value:,.0f}"
    return f"{value:,.2f}"


def markdown(results: list[dict[str, Any]], info: dict[str, str], quick: bool) -> str:
    lines = [
        f"Measured {info['date']} on {info['cpu']}, {info['memory']} RAM, Python"
        f" {info['python']} ({info['versions']}){' — QUICK smoke sizes' if quick else ''}.",
        "",
        "| benchmark | metric | value | unit | note |",
        "|---|---|---:|---|---|",
    ]
    for row in results:
        lines.append(
            f"| {row['benchmark']} | {row['metric']} | {format_value(row['value'], row['unit'])}"
            f" | {row['unit']} | {row['note']} |"
        )
    return "\n".join(lines) + "\n"


def update_readme(table: str) -> None:
    readme = ROOT / "README.md"
    text = readme.read_text()
    if README_START not in text or README_END not in text:
        return
    head, rest = text.split(README_START, 1)
    _, tail = rest.split(README_END, 1)
    readme.write_text(f"{head}{README_START}\n{table}{README_END}{tail}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--quick", action="store_true", help="small sizes (smoke run)")
    parser.add_argument("--only", default="", help="comma-separated benchmark names")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args(argv)
    wanted = [b for b in args.only.split(",") if b] or list(BENCHMARKS)
    results: list[dict[str, Any]] = []
    for name in wanted:
        start = time.perf_counter()
        print(f"== {name} ...", file=sys.stderr, flush=True)
        module_name = f"bench.bench_{name}"
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            print(f"   skipped: no {module_name}", file=sys.stderr)
            continue
        rows = module.run(quick=args.quick)
        for row in rows:
            print(f"   {row['metric']}: {format_value(row['value'], row['unit'])} {row['unit']}")
        results.extend(rows)
        print(f"   ({time.perf_counter() - start:.0f} s)", file=sys.stderr)
    info = machine()
    table = markdown(results, info, args.quick)
    print()
    print(table)
    if not args.no_write and not args.quick:
        out = HERE / "results" / "latest.md"
        out.parent.mkdir(exist_ok=True)
        out.write_text("# vnrec benchmarks (latest run)\n\n" + table)
        update_readme(table)
        print(f"written to {out} and README.md", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
