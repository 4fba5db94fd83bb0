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
import math
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
BENCHMARKS = ("import", "naive", "emulator", "recorder", "replay", "scaling", "analytics", "peers")
# The rows copied into the README; bench/results/latest.md has every row.
HEADLINE = (
    ("import", "envelopes/s (all cores)"),
    ("import", "envelopes/s (1 core)"),
    ("import", "normalized bytes/message (compacted)"),
    ("import", "raw bytes/message (compacted)"),
    ("naive", "vnrec/naive speed"),
    ("emulator", "send rate to one ssi-fc-data client"),
    ("recorder", "journal append + group commit"),
    ("recorder", "end-to-end record rate (as fast as the client reads)"),
    ("recorder", "highest paced rate recorded with zero loss"),
    ("replay", "events/s (wall clock)"),
    ("replay", "peak RSS"),
    ("replay", "`vnrec replay --format json` events/s"),
    ("replay", "`vnrec replay --format json` peak RSS"),
    ("replay", "events/s with a user tracker of every event"),
    ("replay", "one-day `vnrec stats`, compacted day"),
    ("scaling", "replay 10M events/s"),
    ("scaling", "replay 10M peak RSS"),
    ("analytics", "one-day stats (median)"),
    ("analytics", "all-days basis at 1m (median)"),
    ("analytics", "all-days `vnrec basis` at 1m, whole command (median)"),
    ("analytics", "full-history GROUP BY symbol (median)"),
    ("peers", "vnrec/nautilus write"),
    ("peers", "vnrec/nautilus replay"),
)
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


def markdown(
    results: list[dict[str, Any]], info: dict[str, str], quick: bool, header: str = ""
) -> str:
    lines = [
        header
        or f"Measured {info['date']} on {info['cpu']}, {info['memory']} RAM, Python"
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


def headline(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    wanted = {key: i for i, key in enumerate(HEADLINE)}
    chosen = [r for r in results if (r["benchmark"], r["metric"]) in wanted]
    return sorted(chosen, key=lambda r: wanted[(r["benchmark"], r["metric"])])


def read_latest(path: Path) -> tuple[str, list[dict[str, Any]]]:
    """The header line and the rows of a results file written by this driver."""
    lines = path.read_text().splitlines()
    header = next(line for line in lines if line.startswith("Measured "))
    rows = []
    for line in lines:
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 5 or cells[0] in ("benchmark", "---"):
            continue
        value = float(cells[2].replace(",", "")) if cells[2] not in ("", "nan") else math.nan
        rows.append(
            dict(
                zip(
                    ("benchmark", "metric", "value", "unit", "note"),
                    [cells[0], cells[1], value, cells[3], cells[4]],
                    strict=True,
                )
            )
        )
    return header, rows


def update_readme(table: str) -> None:
    readme = ROOT / "README.md"
    text = readme.read_text()
    if README_START not in text or README_END not in text:
        return
    head, rest = text.split(README_START, 1)
    _, tail = rest.split(README_END, 1)
    readme.write_text(f"{head}{README_START}\n{table}{README_END}{tail}")


def _order(benchmark: str) -> int:
    return BENCHMARKS.index(benchmark) if benchmark in BENCHMARKS else len(BENCHMARKS)


def _readme_table(header: str, results: list[dict[str, Any]]) -> str:
    rows = markdown(headline(results), {}, quick=False, header=header)
    return (
        rows + "\nEvery figure, with notes: [bench/results/latest.md](bench/results/latest.md).\n"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--quick", action="store_true", help="small sizes (smoke run)")
    parser.add_argument("--only", default="", help="comma-separated benchmark names")
    parser.add_argument("--no-write", action="store_true", help="print only")
    parser.add_argument(
        "--readme", action="store_true", help="refresh the README from the latest results"
    )
    args = parser.parse_args(argv)
    latest = HERE / "results" / "latest.md"
    if args.readme:
        header, rows = read_latest(latest)
        update_readme(_readme_table(header, rows))
        return 0
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
        header = table.splitlines()[0]
        if args.only and latest.is_file():
            # A partial run replaces its benchmarks' rows and keeps the others.
            old_header, old_rows = read_latest(latest)
            rerun = {row["benchmark"] for row in results}
            results = [r for r in old_rows if r["benchmark"] not in rerun] + results
            results.sort(key=lambda r: _order(r["benchmark"]))
            base = old_header.split(" Re-run of ", 1)[0]
            header = f"{base} Re-run of {', '.join(sorted(rerun))}: {info['date']}."
            table = markdown(results, info, quick=False, header=header)
        latest.parent.mkdir(exist_ok=True)
        latest.write_text("# vnrec benchmarks (latest run)\n\n" + table)
        update_readme(_readme_table(header, results))
        print(f"written to {latest} and README.md", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
