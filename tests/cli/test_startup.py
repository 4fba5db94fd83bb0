"""Building the command line loads no data library, so `vnrec --help` (and a typo) answers
at once: polars, pyarrow, DuckDB, numpy and the SSI/HTTP stack load only in the command
that runs."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("polars", "pyarrow", "duckdb", "numpy", "aiohttp", "ssi_fc_data", "pydantic")


def test_building_the_cli_imports_no_heavy_library() -> None:
    code = (
        "import sys\n"
        "from vnrec.cli.main import build_app\n"
        "build_app()\n"
        f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == ""


def test_help_lists_every_command() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "vnrec.cli.main", "--help"],
        check=False,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0
    for command in ("import", "record", "replay", "stats", "basis", "query", "verify", "demo"):
        assert command in done.stdout
