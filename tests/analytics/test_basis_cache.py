"""`vnrec compact` stores the day's basis rows; `vnrec basis` over a range reads them for the
days whose committed parts are still the ones they were computed from, computes the other
days, and answers byte for byte what computing every day gives."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq

from tests.analytics.market import edge_case_day
from tests.processes import vnrec
from vnrec.calendar import listed_futures
from vnrec.storage.basis_cache import DIGEST_KEY, basis_cache_path, fresh_basis_cache
from vnrec.storage.importer import import_envelopes
from vnrec.storage.layout import Layout

DAYS = (dt.date(2026, 3, 4), dt.date(2026, 3, 5), dt.date(2026, 3, 6))


def _history(root: Path) -> Layout:
    layout = Layout(root)
    for number, day in enumerate(DAYS):
        for seed in (number, number + 10):  # two imports: two parts per table
            import_envelopes(layout, edge_case_day(day, seed), append=True)
    return layout


def _basis(root: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    """`vnrec basis` over DAYS, unless `extra` gives --from and --to."""
    days = (
        () if "--from" in extra else ("--from", DAYS[0].isoformat(), "--to", DAYS[-1].isoformat())
    )
    return vnrec("basis", *days, "--data", str(root), "-f", "json", *extra)


def _answer(root: Path, *extra: str) -> str:
    done = _basis(root, *extra)
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("interval_start") > 10
    return done.stdout


def _compact(root: Path, day: dt.date) -> subprocess.CompletedProcess[str]:
    done = vnrec("compact", "--date", day.isoformat(), "--data", str(root))
    assert done.returncode == 0, done.stderr
    return done


def test_stored_and_computed_days_answer_as_computing_every_day(tmp_path: Path) -> None:
    """Computed, mixed, and every day stored (read then without any view over the parts):
    the same answer for each question, a failure included."""
    layout = _history(tmp_path)
    contract = listed_futures(DAYS[1])[1].symbol  # the second contract, not the front one
    one_day = ("--from", DAYS[1].isoformat(), "--to", DAYS[1].isoformat())
    asks = [(), ("--contract", contract), ("--interval", "5m"), one_day, ("--contract", "FPT")]

    def answers() -> list[tuple[int, str, str]]:
        done = [_basis(tmp_path, *ask) for ask in asks]
        return [(d.returncode, d.stdout, d.stderr) for d in done]

    computed = answers()
    assert [code for code, _, _ in computed] == [0, 0, 0, 0, 1]
    assert "no trade of FPT" in computed[-1][2]
    assert all(out.count("interval_start") > 10 for _, out, _ in computed[:-1])
    for day in DAYS[:2]:  # the last day stays uncompacted: a range mixes both kinds
        compacted = _compact(tmp_path, day)
        assert f"basis rows: stored in {basis_cache_path(layout.root, day)}" in compacted.stderr
    assert fresh_basis_cache(layout, DAYS[0]) is not None
    assert fresh_basis_cache(layout, DAYS[2]) is None
    assert answers() == computed
    _compact(tmp_path, DAYS[2])
    assert answers() == computed
    assert vnrec("verify", "--date", DAYS[0].isoformat(), "--data", str(tmp_path)).returncode == 0


def test_a_day_changed_after_compaction_is_computed_again(tmp_path: Path) -> None:
    layout = _history(tmp_path)
    for day in DAYS:
        _compact(tmp_path, day)
    before = _answer(tmp_path)
    import_envelopes(layout, edge_case_day(DAYS[1], 99), append=True)
    assert fresh_basis_cache(layout, DAYS[1]) is None
    after = _answer(tmp_path)
    assert after != before
    fresh = _history(tmp_path / "fresh")
    import_envelopes(fresh, edge_case_day(DAYS[1], 99), append=True)
    assert after == _answer(fresh.root)


def _compacted_history(root: Path) -> tuple[Layout, str]:
    """The history with every day compacted, and the answer computed before (the one a
    damaged cache must never change)."""
    layout = _history(root)
    expected = _answer(root)
    for day in DAYS:
        _compact(root, day)
    return layout, expected


def test_a_damaged_or_foreign_cache_is_never_an_answer(tmp_path: Path) -> None:
    layout, expected = _compacted_history(tmp_path)
    cut = basis_cache_path(layout.root, DAYS[0])
    cut.write_bytes(cut.read_bytes()[:-20])
    unstamped = basis_cache_path(layout.root, DAYS[1])
    table = pq.read_table(unstamped)
    assert table.schema.metadata and DIGEST_KEY in table.schema.metadata
    pq.write_table(table.replace_schema_metadata(None), unstamped)
    # Stamped with the current digest, but a column dropped: filled with nulls, it would
    # have answered something else.
    reshaped = basis_cache_path(layout.root, DAYS[2])
    pq.write_table(pq.read_table(reshaped).drop_columns(["basis"]), reshaped)
    done = _basis(tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout == expected
    assert "ignoring the basis cache" in done.stderr
    assert "not a vnrec basis cache" in done.stderr
    assert f"{reshaped}: its columns are not a basis cache's" in done.stderr
    # Every cache stamped with a digest that is not text: stale, computed.
    for day in DAYS:
        path = basis_cache_path(layout.root, day)
        pq.write_table(table.replace_schema_metadata({DIGEST_KEY: b"\xff\xfe"}), path)
    again = _basis(tmp_path)
    assert (again.returncode, again.stdout) == (0, expected), again.stderr


def test_verify_catches_a_cache_that_disagrees_with_the_sql(tmp_path: Path) -> None:
    """A stamped cache is trusted by `basis` (so it is what answers), and checked by verify."""
    layout = _history(tmp_path)
    computed = _answer(tmp_path)
    _compact(tmp_path, DAYS[0])
    path = basis_cache_path(layout.root, DAYS[0])
    table = pq.read_table(path)
    pq.write_table(table.slice(0, table.num_rows // 2), path)  # trades dropped, digest kept
    assert fresh_basis_cache(layout, DAYS[0]) == path
    assert _answer(tmp_path) != computed
    done = vnrec("verify", "--date", DAYS[0].isoformat(), "--data", str(tmp_path))
    assert done.returncode == 1
    assert f"{path} differs from the SQL" in done.stdout + done.stderr


def test_a_number_changed_in_the_cache_is_never_an_answer(tmp_path: Path) -> None:
    """A bit flipped inside a page: the file still reads, its page checksum tells."""
    layout, expected = _compacted_history(tmp_path)
    path = basis_cache_path(layout.root, DAYS[0])
    data = bytearray(path.read_bytes())
    data[100] ^= 0x01  # in the first data page, past the magic and the page header
    path.write_bytes(bytes(data))
    done = _basis(tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout == expected
    assert "ignoring the basis cache" in done.stderr


def test_basis_from_stored_rows_loads_no_compute_module(tmp_path: Path) -> None:
    """Answering from the stored rows needs neither pyarrow.compute nor pyarrow.dataset
    (~40 ms of imports for a command that takes a few hundred): the symbols' distinct
    values come from DuckDB, times and dates from views of their integers, and the stored
    file is read as one Parquet file. The answer is the computed one."""
    _, expected = _compacted_history(tmp_path)
    code = (
        "import sys\n"
        "from vnrec.cli.main import run\n"
        f"sys.argv = ['vnrec', 'basis', '--from', {DAYS[0].isoformat()!r},"
        f" '--to', {DAYS[-1].isoformat()!r}, '--data', {str(tmp_path)!r}, '-f', 'json']\n"
        "run()\n"
        "loaded = [m for m in ('pyarrow.compute', 'pyarrow.dataset') if m in sys.modules]\n"
        "print('LOADED', loaded, file=sys.stderr)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout == expected
    assert "LOADED []" in done.stderr
