"""`vnrec replay` as a user runs it: JSON on stdout only, tables, --out files, errors."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import typer
from typer.testing import CliRunner, Result

from vnrec.cli import cmd_replay
from vnrec.errors import BadInputError, NoDataError
from vnrec.replay import replay


def run(*args: str) -> Result:
    app = typer.Typer()

    @app.callback()
    def _root() -> None:
        """Group the command under its name, as the vnrec app does."""

    cmd_replay.register(app)
    return CliRunner().invoke(app, list(args))


def test_json_is_the_replay_result_and_nothing_else(day_root: Path) -> None:
    """--format json prints exactly the result object; progress and timings go to stderr."""
    result = run("replay", "--date", "2026-02-06", "--data", str(day_root), "--format", "json")
    assert result.exit_code == 0, result.output
    document = orjson.loads(result.stdout)
    expected = replay("2026-02-06", data=day_root).to_dict()
    assert document == orjson.loads(orjson.dumps(expected))
    assert list(document) == ["date", "events", "stats", "foreign", "index", "basis", "alerts"]
    assert "messages in" in result.stderr


def test_table_format_shows_every_section(day_root: Path) -> None:
    """The terminal tables name the day, the message count and the four sections."""
    result = run("replay", "--date", "2026-02-06", "--data", str(day_root), "--format", "table")
    assert result.exit_code == 0, result.output
    text = result.stdout
    assert text.startswith("replay 2026-02-06: ")
    for title in ("session stats", "foreign", "index", "basis"):
        assert f"\n{title}\n" in text
    assert "41I1G2000" in text and "VN30F2603" in text


def test_filters_from_the_command_line(day_root: Path) -> None:
    """--symbols and --from/--to reach the replay."""
    result = run(
        "replay",
        "--date",
        "2026-02-06",
        "--data",
        str(day_root),
        "--format",
        "json",
        "--symbols",
        "FPT",
        "--from",
        "09:30",
        "--to",
        "11:30",
    )
    document = orjson.loads(result.stdout)
    assert [row["symbol"] for row in document["stats"]] == ["FPT"]


def test_symbols_that_match_nothing_are_named(day_root: Path) -> None:
    """A --symbols entry with no trade or foreign message that day is named on stderr."""
    result = run(
        "replay", "--date", "2026-02-06", "--data", str(day_root), "--format", "json",
        "--symbols", "FPT,NOPE",
    )  # fmt: skip
    assert result.exit_code == 0
    assert "--symbols: no trade or foreign message of NOPE on 2026-02-06" in result.stderr
    assert "of FPT" not in result.stderr


def test_out_files_are_identical_across_runs(day_root: Path, tmp_path: Path) -> None:
    """--out writes the four Parquet files; a second replay writes the very same bytes."""
    names = ("trades.parquet", "basis.parquet", "foreign_flow.parquet", "index.parquet")
    contents = []
    for run_dir in ("one", "two"):
        out = tmp_path / run_dir
        result = run(
            "replay",
            "--date",
            "2026-02-06",
            "--data",
            str(day_root),
            "--format",
            "json",
            "--out",
            str(out),
        )
        assert result.exit_code == 0, result.output
        contents.append([(out / "date=2026-02-06" / n).read_bytes() for n in names])
    assert contents[0] == contents[1]
    trades = pq.read_table(tmp_path / "one" / "date=2026-02-06" / "trades.parquet")
    assert trades.column_names == [
        "seq",
        "event_ts",
        "symbol",
        "price",
        "volume",
        "value",
        "side",
        "phase",
        "bid1",
        "ask1",
        "wire_side",
    ]
    stats = orjson.loads(result.stdout)["stats"]
    assert trades.num_rows == sum(row["trades"] for row in stats)
    assert set(trades.column("side").to_pylist()) <= {"buy", "sell", "neutral"}
    # The message's own Side, as stored (the replay reads it only for such files).
    stored = pa.concat_tables(
        pq.read_table(part, columns=["seq", "side"]).cast(
            pa.schema([("seq", pa.int64()), ("side", pa.string())])
        )
        for part in sorted((day_root / "trades" / "date=2026-02-06").glob("*.parquet"))
    )
    wire = dict(zip(stored["seq"].to_pylist(), stored["side"].to_pylist(), strict=True))
    sides = trades.column("wire_side").to_pylist()
    assert sides == [wire[seq] for seq in trades.column("seq").to_pylist()]
    assert {"BU", "SD"} <= set(sides) <= {"BU", "SD", None}
    basis = pq.read_table(tmp_path / "one" / "date=2026-02-06" / "basis.parquet")
    assert basis.column_names == ["seq", "event_ts", "symbol", "price", "index_value", "basis"]


def test_csv_is_refused(day_root: Path) -> None:
    """replay prints table or JSON only: another format is a usage error."""
    result = run("replay", "--date", "2026-02-06", "--data", str(day_root), "--format", "csv")
    assert result.exit_code == 2
    assert result.stdout == ""


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["--date", "2026-02-09"], NoDataError),
        (["--date", "06/02/2026"], BadInputError),
        (["--date", "2026-02-06", "--from", "11:00", "--to", "10:00"], BadInputError),
        (["--date", "2026-02-06", "--speed", "0"], BadInputError),
    ],
)
def test_bad_input(day_root: Path, tmp_path: Path, args: list[str], error: type[Exception]) -> None:
    """A missing day, a malformed date, an empty window or a zero speed are library errors,
    and leave nothing behind in --out."""
    out = tmp_path / "out"
    result = run("replay", "--data", str(day_root), "--format", "json", "--out", str(out), *args)
    assert isinstance(result.exception, error)
    assert result.stdout == ""
    assert not out.exists() or not any(out.rglob("*"))


def test_progress_lines_at_most_once_a_second() -> None:
    """Progress prints when a second has passed since the last line, then a final timing."""
    now = [0.0]
    stream = io.StringIO()
    progress = cmd_replay.ProgressLine("replay D", stream, lambda: now[0])
    for seconds, messages in [(0.5, 100), (1.0, 200), (1.5, 300), (2.5, 500)]:
        now[0] = seconds
        progress(messages)
    progress.finish(600)
    assert stream.getvalue().splitlines() == [
        "replay D: 200 messages (200/s)",
        "replay D: 500 messages (200/s)",
        "replay D: 600 messages in 2.50 s (240/s)",
    ]


def test_no_alerts_leaves_everything_else(day_root: Path) -> None:
    """--no-alerts empties `alerts` and changes nothing else."""
    args = ("replay", "--date", "2026-02-06", "--data", str(day_root), "--format", "json")
    with_alerts = orjson.loads(run(*args).stdout)
    without = orjson.loads(run(*args, "--no-alerts").stdout)
    assert with_alerts["alerts"] and without["alerts"] == []
    assert {**with_alerts, "alerts": []} == without


@pytest.mark.parametrize("window", [(), ("--from", "10:00", "--to", "14:00", "--symbols", "FPT")])
def test_a_replay_without_trackers_loads_neither_polars_nor_numpy_ma_nor_pydantic(
    day_root: Path, window: tuple[str, ...]
) -> None:
    """The default replay is numpy and Arrow: polars (~0.1 s to import) loads only for
    candles, --out and user trackers, and numpy.ma (~20 ms), which pa.array(), take() of a
    numpy array and a plain np.unique() import on their first call, never. Nor pydantic:
    typer 0.29 loads it to build an adapter per parameter (~0.08 s), hence typer < 0.29."""
    code = (
        "import atexit, sys\n"
        "atexit.register(lambda: print([m for m in ('polars', 'numpy.ma', 'pydantic')"
        " if m in sys.modules], file=sys.stderr))\n"
        "from vnrec.cli.main import main\n"
        "main()\n"
    )
    args = ("replay", "--date", "2026-02-06", "--data", str(day_root), "--format", "json", *window)
    done = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert orjson.loads(done.stdout)["events"] > 0
    assert done.stderr.splitlines()[-1] == "[]", done.stderr
