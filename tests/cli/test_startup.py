"""Building the command line loads no data library, so `vnrec --help` (and a typo) answers
at once: polars, pyarrow, DuckDB, numpy and the SSI/HTTP stack load only in the command
that runs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import typer

from tests.processes import vnrec
from vnrec.cli import main, memory

HEAVY = (
    "polars", "pyarrow", "duckdb", "numpy", "aiohttp", "ssi_fc_data", "pydantic", "fastapi",
    "uvicorn", "starlette",
)  # fmt: skip


def _loaded_after(code: str, modules: tuple[str, ...]) -> list[str]:
    """Which of `modules` a fresh interpreter has loaded after running `code`."""
    probe = f"{code}\nimport sys\nprint(','.join(m for m in {modules!r} if m in sys.modules))\n"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return [m for m in done.stdout.strip().split(",") if m]


def test_building_the_cli_imports_no_heavy_library() -> None:
    code = "from vnrec.cli.main import build_app\nbuild_app()"
    assert _loaded_after(code, HEAVY) == []


def test_the_analytics_commands_do_not_load_polars() -> None:
    """stats, basis, query and the other reading commands go through the DuckDB connection
    and the stored results; polars (~0.1 s to import) is for writing and candles."""
    code = (
        "import vnrec.cli.cmd_analytics, vnrec.analytics.cached, vnrec.analytics.connection\n"
        "import vnrec.analytics.query, vnrec.analytics.reports, vnrec.storage.stats_cache"
    )
    assert _loaded_after(code, ("polars",)) == []


def test_a_replay_can_start_reading_before_it_loads_the_trackers() -> None:
    """The replay command's modules up to the reader load neither pyarrow.compute nor the
    trackers' modules (~0.05-0.1 s): vnrec.replay.engine starts the Parquet reader first
    and imports them while it reads."""
    code = (
        "import vnrec.cli.cmd_replay, vnrec.replay.days, vnrec.replay.engine\n"
        "import vnrec.replay.sources, vnrec.replay.windows, vnrec.replay.plugins"
    )
    late = (
        "pyarrow.compute", "vnrec.replay.columnar", "vnrec.replay.alerts",
        "vnrec.replay._ordered", "polars",
    )  # fmt: skip
    assert _loaded_after(code, late) == []


def test_each_command_is_registered_by_the_module_the_map_names() -> None:
    """A command run alone registers only its module (main.COMMANDS): the map names every
    command of every module, and each command alone builds to the same command."""
    registered: dict[str, str] = {}
    for module in main.COMMAND_MODULES:
        app = typer.Typer()

        @app.callback()
        def _root() -> None:
            pass

        __import__(module, fromlist=["register"]).register(app)
        for name in typer.main.get_group(app).commands:
            registered[name] = module
    assert registered == main.COMMANDS
    everything = typer.main.get_group(main.build_app()).commands
    for name, module in registered.items():
        alone = typer.main.get_group(main.build_app(name)).commands
        assert sorted(alone) == sorted(n for n, m in registered.items() if m == module)
        assert [p.name for p in alone[name].params] == [p.name for p in everything[name].params]


@pytest.mark.parametrize(
    ("args", "command"),
    [
        (["replay", "--date", "2026-02-06"], "replay"),
        (["-v", "stats"], "stats"),
        (["--verbose", "replay", "--help"], "replay"),
        (["--help"], None),
        ([], None),
        (["replya"], "replya"),
    ],
)
def test_the_invoked_command_is_the_first_argument_not_an_option(
    args: list[str], command: str | None
) -> None:
    assert main.invoked_command(args) == command


def test_an_unknown_command_is_refused_with_every_command_built() -> None:
    done = vnrec("replya")
    assert done.returncode == 1
    assert "replya" in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_help_lists_every_command() -> None:
    done = vnrec("--help")
    assert done.returncode == 0
    for command in ("import", "record", "replay", "stats", "basis", "query", "verify", "serve"):
        assert command in done.stdout


def test_an_unexpected_error_is_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A bug still ends in one line on stderr and exit 1, not a traceback."""
    app = typer.Typer()

    @app.command()
    def boom() -> None:
        raise RuntimeError("no such thing\nsecond line")

    @app.command()
    def other() -> None:
        """A second command, so that `boom` is a subcommand as in vnrec."""

    monkeypatch.setattr(main, "build_app", lambda command=None: app)
    monkeypatch.setattr(sys, "argv", ["vnrec", "boom"])
    with pytest.raises(SystemExit) as exit_info:
        main.run()
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("vnrec: internal error: RuntimeError: no such thing (a bug;")


def test_replay_sets_arrows_allocator_before_pyarrow_loads(tmp_path: Path) -> None:
    """jemalloc reads its settings once, when pyarrow first allocates: the replay command
    must set them before anything imports pyarrow (vnrec.cli.memory)."""
    code = (
        "import atexit, os, sys\n"
        "from vnrec.cli import memory\n"
        "seen = []\n"
        "setting = memory.return_freed_arrow_pages\n"
        "def spy():\n"
        "    seen.append('pyarrow' in sys.modules)\n"
        "    setting()\n"
        "memory.return_freed_arrow_pages = spy\n"
        "atexit.register(lambda: print(seen, os.environ.get(memory.ARROW_FREED_PAGES[0])))\n"
        f"sys.argv = ['vnrec', 'replay', '--date', '2026-11-05', '--data', {str(tmp_path)!r}]\n"
        "from vnrec.cli.main import run\n"
        "run()\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "JE_ARROW_MALLOC_CONF"}
    # The day is not there (exit 1): the setting comes first, whatever follows.
    done = subprocess.run(
        [sys.executable, "-c", code], check=False, capture_output=True, text=True, env=env
    )
    assert done.stdout.strip() == f"[False] {memory.ARROW_FREED_PAGES[1]}"


def test_a_users_allocator_setting_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JE_ARROW_MALLOC_CONF", "narenas:1")
    memory.return_freed_arrow_pages()
    assert os.environ["JE_ARROW_MALLOC_CONF"] == "narenas:1"
