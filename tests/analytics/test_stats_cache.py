"""`vnrec compact` stores the day's session stats; `vnrec stats` answers from them only while
the day's committed parts are the ones they were computed from, bit for bit the same as
the SQL, without loading DuckDB; anything else is computed on the fly."""

from __future__ import annotations

import datetime as dt
import hashlib
import subprocess
import sys
from pathlib import Path

import orjson

from tests.analytics.market import edge_case_day
from tests.processes import vnrec
from vnrec.storage.importer import import_envelopes
from vnrec.storage.layout import Layout
from vnrec.storage.stats_cache import stats_cache_path

DAY = dt.date(2026, 3, 5)


def _stats(root: Path, *extra: str) -> bytes:
    done = vnrec("stats", "--date", DAY.isoformat(), "--data", str(root), "-f", "json", *extra)
    assert done.returncode == 0, done.stderr
    return done.stdout.encode()


def _day(root: Path, seeds: tuple[int, ...] = (1, 2)) -> Layout:
    layout = Layout(root)
    for seed in seeds:  # two imports: two parts per table, a day to compact
        import_envelopes(layout, edge_case_day(DAY, seed), append=True)
    return layout


def test_compacted_day_answers_from_the_stored_stats(tmp_path: Path) -> None:
    layout = _day(tmp_path)
    on_the_fly = _stats(tmp_path)
    compacted = vnrec("compact", "--date", DAY.isoformat(), "--data", str(tmp_path))
    assert compacted.returncode == 0, compacted.stderr
    cache = stats_cache_path(layout.root, DAY)
    assert f"session stats: stored in {cache}" in compacted.stderr
    assert _stats(tmp_path) == on_the_fly  # the same bytes
    stored = orjson.loads(cache.read_bytes())["rows"]
    assert stored == orjson.loads(on_the_fly)
    symbol = stored[0]["symbol"]
    assert orjson.loads(_stats(tmp_path, "--symbol", symbol)) == [stored[0]]
    assert vnrec("verify", "--date", DAY.isoformat(), "--data", str(tmp_path)).returncode == 0


def test_answering_from_the_cache_loads_no_duckdb(tmp_path: Path) -> None:
    _day(tmp_path)
    assert vnrec("compact", "--date", DAY.isoformat(), "--data", str(tmp_path)).returncode == 0
    code = (
        "import sys\n"
        "from vnrec.cli.main import build_app\n"
        f"args = ['stats', '--date', '{DAY}', '--data', {str(tmp_path)!r}, '-f', 'json']\n"
        "build_app()(args, standalone_mode=False)\n"
        "print('duckdb' in sys.modules, 'polars' in sys.modules, file=sys.stderr)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip().splitlines()[-1] == "False False"


def test_a_day_changed_after_compaction_is_computed_again(tmp_path: Path) -> None:
    layout = _day(tmp_path)
    assert vnrec("compact", "--date", DAY.isoformat(), "--data", str(tmp_path)).returncode == 0
    before = _stats(tmp_path)
    import_envelopes(layout, edge_case_day(DAY, 3), append=True)
    after = _stats(tmp_path)
    assert after != before
    fresh = Layout(tmp_path / "fresh")
    for seed in (1, 2, 3):
        import_envelopes(fresh, edge_case_day(DAY, seed), append=True)
    assert after == _stats(fresh.root)


def test_a_damaged_cache_is_never_an_answer(tmp_path: Path) -> None:
    layout = _day(tmp_path)
    expected = _stats(tmp_path)
    assert vnrec("compact", "--date", DAY.isoformat(), "--data", str(tmp_path)).returncode == 0
    cache = stats_cache_path(layout.root, DAY)
    cache.write_bytes(cache.read_bytes()[:-20])  # cut short
    done = vnrec("stats", "--date", DAY.isoformat(), "--data", str(tmp_path), "-f", "json")
    assert done.returncode == 0
    assert done.stdout.encode() == expected
    assert "ignoring the stats cache" in done.stderr


def test_a_number_changed_in_the_cache_is_never_an_answer(tmp_path: Path) -> None:
    """Still JSON, still of the current parts: only its checksum tells the change."""
    layout = _day(tmp_path)
    expected = _stats(tmp_path)
    assert vnrec("compact", "--date", DAY.isoformat(), "--data", str(tmp_path)).returncode == 0
    cache = stats_cache_path(layout.root, DAY)
    payload = orjson.loads(cache.read_bytes())
    payload["rows"][0]["volume"] += 1
    cache.write_bytes(orjson.dumps(payload))
    done = vnrec("stats", "--date", DAY.isoformat(), "--data", str(tmp_path), "-f", "json")
    assert done.returncode == 0
    assert done.stdout.encode() == expected
    assert "ignoring the stats cache" in done.stderr and "damaged" in done.stderr


def test_verify_catches_a_cache_that_disagrees_with_the_sql(tmp_path: Path) -> None:
    layout = _day(tmp_path)
    assert vnrec("compact", "--date", DAY.isoformat(), "--data", str(tmp_path)).returncode == 0
    cache = stats_cache_path(layout.root, DAY)
    payload = orjson.loads(cache.read_bytes())
    payload["rows"][0]["volume"] += 1
    # as a vnrec whose SQL went wrong would store it: checksummed
    payload["rows_sha256"] = hashlib.sha256(orjson.dumps(payload["rows"])).hexdigest()
    cache.write_bytes(orjson.dumps(payload))
    done = vnrec("verify", "--date", DAY.isoformat(), "--data", str(tmp_path))
    assert done.returncode == 1
    assert "differs from the SQL for 1 symbol" in done.stdout + done.stderr
