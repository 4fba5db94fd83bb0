"""`vnrec demo`: the main job end to end, offline. The built-in emulator serves a synthetic
VN30 day over loopback; the real recorder records it through the unmodified ssi-fc-data
client; the day is replayed through the trackers, its session stats are recomputed in
DuckDB and compared, and a chart of the basis and of active buying and selling is drawn."""

from __future__ import annotations

import datetime as dt
import logging
import math
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:  # imported where used: `vnrec --help` stays fast
    from vnrec.emulator.market import MarketConfig
    from vnrec.recorder.service import RecordingSummary
    from vnrec.replay.pipeline import ReplayResult

from vnrec.cli.output import OutputFormat
from vnrec.errors import VnrecError

DEMO_DAY = dt.date(2026, 2, 6)  # a Friday with two VN30 futures close to the Tet expiry
MARKER = ".vnrec-demo"
LINE_BREAK = dt.timedelta(minutes=15)
QUIET_LOGGERS = ("vnrec.emulator", "vnrec.recorder", "websocket", "matplotlib")


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _prepare(root: Path) -> None:
    """The demo writes only into a directory that is empty or that it created itself."""
    if root.exists() and any(root.iterdir()) and not (root / MARKER).exists():
        raise VnrecError(f"{root} is not empty and not a demo directory; pass another --data")
    if root.exists():
        for path in sorted(root.rglob("*"), reverse=True):
            path.unlink() if path.is_file() or path.is_symlink() else path.rmdir()
    root.mkdir(parents=True, exist_ok=True)
    (root / MARKER).write_text("created by vnrec demo; deleted and rewritten by the next one\n")


def record_day(root: Path, market: MarketConfig) -> RecordingSummary:
    """Serve the day from the emulator and record it with the real recorder until every
    message the emulator sent is in the journal."""
    from pydantic import SecretStr

    from vnrec.emulator.config import DEFAULT_CONSUMER_ID, DEFAULT_CONSUMER_SECRET, EmulatorConfig
    from vnrec.emulator.server import EmulatorServer
    from vnrec.recorder.service import Recorder, RecorderConfig
    from vnrec.ssi.client import SsiClient, SsiSettings
    from vnrec.ssi.secrets import Redactor
    from vnrec.storage.layout import Layout

    with EmulatorServer.synthetic(EmulatorConfig(), market) as server:
        settings = SsiSettings(
            consumer_id=DEFAULT_CONSUMER_ID,
            consumer_secret=SecretStr(DEFAULT_CONSUMER_SECRET),
            url=server.url,
            stream_url=server.stream_url,
        )
        config = RecorderConfig(
            stop_at=dt.datetime.now(dt.UTC) + dt.timedelta(hours=1),
            compact_at_stop=True,  # as `vnrec record` does when the session is over
        )
        recorder = Recorder(Layout(root), config, SsiClient(settings, Redactor()))
        outcome: dict[str, Any] = {}
        thread = threading.Thread(target=lambda: outcome.update(summary=recorder.run()))
        thread.start()
        started = time.monotonic()
        try:
            while not server.wait_finished(1.0):
                if not thread.is_alive():
                    break
                elapsed = time.monotonic() - started
                count = recorder.journals.appended
                _say(f"  recording: {count:,} messages ({count / elapsed:,.0f}/s)")
            sent = server.stats().broadcast
            deadline = time.monotonic() + 30
            while recorder.journals.appended < sent and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            recorder.request_stop("demo day complete")
            thread.join()
    if "summary" not in outcome:
        raise VnrecError("the recorder stopped before the day was recorded (see the log above)")
    summary: RecordingSummary = outcome["summary"]
    return summary


def _same(left: Any, right: Any) -> bool:
    """Equal bit for bit (values are exact sums in both implementations); NaN equals NaN."""
    if isinstance(left, float) and isinstance(right, float) and math.isnan(left):
        return math.isnan(right)
    return type(left) is type(right) and bool(left == right)


def compare_stats(replayed: list[dict[str, Any]], sql: list[dict[str, Any]]) -> list[str]:
    """Differences between the replay's stats and DuckDB's, field by field."""
    problems = []
    if [r["symbol"] for r in replayed] != [r["symbol"] for r in sql]:
        problems.append("the two lists have different symbols")
    for left, right in zip(replayed, sql, strict=False):
        for key in left:
            if not _same(left[key], right.get(key)):
                problems.append(f"{left['symbol']}.{key}: {left[key]!r} != {right.get(key)!r}")
    return problems


def draw_chart(root: Path, result: ReplayResult, path: Path) -> None:
    """Basis per contract through the day, and active buy/sell volume per symbol."""
    import matplotlib

    from vnrec.analytics import connect
    from vnrec.analytics.reports import fetch_rows

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    con = connect(root)
    basis = fetch_rows(
        con,
        "SELECT symbol, event_ts, basis FROM basis WHERE date = ? AND basis IS NOT NULL"
        " ORDER BY symbol, seq",
        [result.date],
    )
    figure, (top, bottom) = plt.subplots(2, 1, figsize=(12, 9))
    for symbol in sorted({row["symbol"] for row in basis}):
        times: list[dt.datetime] = []
        values: list[float] = []
        for row in (row for row in basis if row["symbol"] == symbol):
            local = row["event_ts"] + dt.timedelta(hours=7)
            if times and local - times[-1] > LINE_BREAK:
                times.append(times[-1])
                values.append(math.nan)  # no line across the lunch break or a quiet spell
            times.append(local)
            values.append(row["basis"])
        top.plot(times, values, label=symbol, linewidth=0.8)
    top.axhline(0, color="grey", linewidth=0.5)
    top.set_title(f"VN30 futures basis (futures - VN30), {result.date}")
    top.set_ylabel("index points")
    top.legend()
    stats = sorted(result.stats, key=lambda row: -row["value"])[:20]
    names = [row["symbol"] for row in stats]
    positions = range(len(names))
    bottom.bar(positions, [row["buy_volume"] for row in stats], label="active buy", color="green")
    bottom.bar(
        positions, [-row["sell_volume"] for row in stats], label="active sell", color="firebrick"
    )
    bottom.set_xticks(list(positions), names, rotation=60, fontsize=8)
    bottom.set_title("Active buy (up) and sell (down) volume, top 20 symbols by value")
    bottom.set_ylabel("shares / contracts")
    bottom.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def demo_command(
    data: Annotated[
        Path, typer.Option("--data", help="Directory for the demo's data (recreated each run).")
    ] = Path("demo-data"),
    symbols: Annotated[int, typer.Option("--symbols", help="Stocks in the market.")] = 30,
    activity: Annotated[float, typer.Option("--activity", help="Market activity factor.")] = 0.5,
) -> None:
    """Run the main job offline: emulator -> recorder -> replay -> DuckDB stats -> chart."""
    from vnrec.analytics import connect
    from vnrec.analytics.reports import session_stats
    from vnrec.cli.cmd_replay import render_results
    from vnrec.emulator.market import MarketConfig
    from vnrec.replay import replay

    root = data.resolve()
    _prepare(root)
    if not logging.getLogger().isEnabledFor(logging.DEBUG):
        for name in QUIET_LOGGERS:  # the demo reports its own progress
            logging.getLogger(name).setLevel(logging.WARNING)
    market = MarketConfig(DEMO_DAY, symbols=symbols, activity=activity, seed=2026)
    _say(f"1/4 recording {DEMO_DAY} from the built-in SSI emulator into {root}")
    summary = record_day(root, market)
    _say(f"  {summary.line()}")
    _say("2/4 replaying the recorded day through the trackers")
    started = time.perf_counter()
    result = replay(DEMO_DAY, data=root)
    _say(f"  {result.events:,} messages in {time.perf_counter() - started:.2f} s")
    render_results([result.to_dict()], OutputFormat.table)
    _say("3/4 recomputing session stats in DuckDB from the Parquet files")
    started = time.perf_counter()
    sql_stats = session_stats(connect(root), DEMO_DAY)
    problems = compare_stats(result.stats, sql_stats)
    elapsed = time.perf_counter() - started
    if problems:
        raise VnrecError("replay and DuckDB disagree: " + "; ".join(problems[:5]))
    _say(f"  replay == DuckDB for all {len(sql_stats)} symbols, field by field ({elapsed:.2f} s)")
    chart = root / "demo-chart.png"
    _say("4/4 drawing the chart")
    draw_chart(root, result, chart)
    print(f"\nchart: {chart}")
    print(f'explore: vnrec query --data {root} "SELECT * FROM session_stats"')
    print(f"watch it: vnrec serve --data {root} --replay {DEMO_DAY} --speed 60")


def register(app: typer.Typer) -> None:
    app.command("demo")(demo_command)
