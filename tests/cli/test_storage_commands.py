"""`vnrec import`, `ls` and `compact` run as a user runs them: exit codes, stdout, stderr."""

from __future__ import annotations

import base64
import datetime as dt
import shutil
import subprocess
import sys
from pathlib import Path

import orjson

from tests.processes import vnrec
from vnrec import testing as f
from vnrec.storage.layout import Layout

DAY = dt.date(2026, 11, 5)

FIXTURE_LINES = [
    f.quote("MWG", [(71400.0, 12300.0)], [(71500.0, 800.0)], time="09:20:01"),
    f.trade("MWG", 71500.0, 800.0, 800.0, time="09:20:03"),
    f.foreign("MWG", 100.0, 0.0, 7150000.0, 0.0, time="09:21:00"),
]


def test_help_lists_every_command_with_one_line_of_help() -> None:
    """`vnrec --help` names each command with its help line."""
    result = vnrec("--help")
    assert result.returncode == 0
    for command in ("import", "ls", "compact"):
        assert f"  {command} " in result.stdout


def test_import_then_ls_as_json(tmp_path: Path) -> None:
    """Import reports what it wrote on stderr; ls prints exactly the inventory as JSON."""
    source = tmp_path / "cap.jsonl"
    source.write_bytes(f.to_jsonl(FIXTURE_LINES))
    data = tmp_path / "data"
    result = vnrec("import", str(source), "--data", str(data))
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert "2026-11-05: imported 3 envelopes as seq 1-3" in result.stderr
    listing = vnrec("ls", "--data", str(data), "--format", "json")
    assert listing.returncode == 0
    rows = orjson.loads(listing.stdout)
    assert [(r["table"], r["rows"], r["first_seq"], r["last_seq"]) for r in rows] == [
        ("raw", 3, 1, 3),
        ("trades", 1, 2, 2),
        ("quotes", 1, 1, 1),
        ("foreign", 1, 3, 3),
    ]
    assert rows[1] == {
        **rows[1],
        "date": "2026-11-05",
        "parts": 1,
        "symbols": 1,
        "first_event_ts": "2026-11-05T02:20:03+00:00",
        "last_event_ts": "2026-11-05T02:20:03+00:00",
    }
    assert all(r["bytes"] > 0 for r in rows)


def test_ls_csv_and_table_formats(tmp_path: Path) -> None:
    """CSV has a header and one line per table; the table format aligns columns."""
    source = tmp_path / "cap.jsonl"
    source.write_bytes(f.to_jsonl(FIXTURE_LINES))
    data = tmp_path / "data"
    vnrec("import", str(source), "--data", str(data))
    csv_out = vnrec("ls", "--data", str(data), "--format", "csv").stdout.splitlines()
    assert csv_out[0] == (
        "date,table,parts,rows,symbols,first_event_ts,last_event_ts,first_seq,last_seq,bytes"
    )
    assert csv_out[1].startswith("2026-11-05,raw,1,3,,,,1,3,")
    table = vnrec("ls", "--data", str(data), "--format", "table").stdout.splitlines()
    assert table[0] == str(data)
    assert table[1].split() == [
        "date", "table", "parts", "rows", "symbols", "first_event_ts", "last_event_ts",
        "first_seq", "last_seq", "bytes",
    ]  # fmt: skip
    assert len(table) == 3 + 4


def test_rejected_lines_fail_the_import_but_keep_good_lines(tmp_path: Path) -> None:
    """A bad line is named with file:line and reason; exit status 1; good lines imported."""
    source = tmp_path / "cap.jsonl"
    source.write_bytes(f.to_jsonl(FIXTURE_LINES[:1]) + b"{oops\n" + f.to_jsonl(FIXTURE_LINES[1:]))
    data = tmp_path / "data"
    result = vnrec("import", str(source), "--data", str(data))
    assert result.returncode == 1
    assert f"{source}:2: rejected: not valid JSON" in result.stderr
    assert "rejected 1 of 4 lines; kept in " in result.stderr
    assert "imported 3 envelopes as seq 1-3" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_volume_that_is_no_share_count_is_rejected_not_rounded(tmp_path: Path) -> None:
    """100.7 shares or 1e30 shares is bad input, named with its line; the line is kept in
    rejects and the whole-numbered trades around it are imported exactly."""
    source = tmp_path / "cap.jsonl"
    trades = [
        f.trade("AAA", 22_950.0, 100.0, 100.0),
        f.trade("AAA", 22_950.0, 100.7, 200.7),
        f.trade("AAA", 22_950.0, "1e30", 300.0),
        f.trade("AAA", 22_950.0, "200", 300.0),
    ]
    source.write_bytes(f.to_jsonl(trades))
    data = tmp_path / "data"
    result = vnrec("import", str(source), "--data", str(data))
    assert result.returncode == 1
    assert f"{source}:2: rejected: LastVol is not a whole number: 100.7" in result.stderr
    assert f"{source}:3: rejected: LastVol is outside int64's range: 1e+30" in result.stderr
    assert "imported 2 envelopes as seq 1-2" in result.stderr
    stats = orjson.loads(
        vnrec("stats", "--date", DAY.isoformat(), "--data", str(data), "-f", "json").stdout
    )
    assert [row["volume"] for row in stats if row["symbol"] == "AAA"] == [300]


def test_reimport_is_refused_with_a_one_line_error(tmp_path: Path) -> None:
    """Importing into a day that holds data needs --append; the same content a second time
    needs --again as well; each refusal is one clear line and changes nothing."""
    source = tmp_path / "cap.jsonl"
    source.write_bytes(f.to_jsonl(FIXTURE_LINES))
    other = tmp_path / "other.jsonl"
    other.write_bytes(f.to_jsonl(FIXTURE_LINES[:1]))
    data = tmp_path / "data"
    assert vnrec("import", str(source), "--data", str(data)).returncode == 0
    into_day = vnrec("import", str(other), "--data", str(data))
    assert into_day.returncode == 1
    assert into_day.stderr == (
        "vnrec: error: 2026-11-05 already holds seq 1-3; importing again would duplicate it."
        " Pass --append to add these lines after them.\n"
    )
    same = vnrec("import", str(source), "--data", str(data), "--append")
    assert same.returncode == 1
    assert same.stderr.startswith(f"vnrec: error: {source} was already imported (same content")
    assert same.stderr.endswith("into 2026-11-05); pass --again to import it again\n")
    assert same.stderr.count("\n") == 1
    assert Layout(data).last_seq(DAY) == 3
    assert vnrec("import", str(source), "--data", str(data), "--append", "--again").returncode == 0
    assert Layout(data).last_seq(DAY) == 6


def test_the_same_content_twice_in_one_command_is_refused(tmp_path: Path) -> None:
    """Two files with the same content in one import: refused before anything is written."""
    source = tmp_path / "cap.jsonl"
    source.write_bytes(f.to_jsonl(FIXTURE_LINES))
    copy = tmp_path / "copy.jsonl"
    copy.write_bytes(source.read_bytes())
    data = tmp_path / "data"
    result = vnrec("import", str(source), str(copy), "--data", str(data))
    assert result.returncode == 1
    assert result.stderr == (
        f"vnrec: error: {copy} has the same content as {source} in this command;"
        " pass --again to import it twice\n"
    )
    assert not Layout(data).days()


def test_missing_file_and_bad_date_are_one_line_errors(tmp_path: Path) -> None:
    """User mistakes produce `vnrec: error: ...` and exit 1."""
    missing = vnrec("import", str(tmp_path / "nope.jsonl"), "--data", str(tmp_path))
    assert missing.returncode == 1 and missing.stderr.startswith("vnrec: error: cannot read")
    bad_day = vnrec("compact", "--date", "05/11/2026", "--data", str(tmp_path))
    assert bad_day.returncode == 1
    assert bad_day.stderr == "vnrec: error: not a date (expected YYYY-MM-DD): '05/11/2026'\n"


def test_compact_merges_and_reports(tmp_path: Path) -> None:
    """compact prints what it merged per table on stderr."""
    source = tmp_path / "cap.jsonl"
    source.write_bytes(f.to_jsonl(FIXTURE_LINES))
    data = tmp_path / "data"
    vnrec("import", str(source), "--data", str(data))
    vnrec("import", str(source), "--data", str(data), "--append", "--again")
    result = vnrec("compact", "--date", "2026-11-05", "--data", str(data))
    assert result.returncode == 0
    assert "2026-11-05 raw: 6 rows, 2 parts merged" in result.stderr


def test_data_root_comes_from_the_environment(tmp_path: Path) -> None:
    """Without --data, $VNREC_DATA is the data root."""
    source = tmp_path / "cap.jsonl"
    source.write_bytes(f.to_jsonl(FIXTURE_LINES))
    env_root = tmp_path / "from-env"
    result = subprocess.run(
        [sys.executable, "-m", "vnrec.cli.main", "import", str(source)],
        capture_output=True,
        text=True,
        env={"VNREC_DATA": str(env_root), "PATH": "/usr/bin:/bin"},
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert (env_root / "raw" / "date=2026-11-05").is_dir()


def test_a_vnrec_0_1_root_is_adopted_by_recover(tmp_path: Path) -> None:
    """A root written before commit logs: ls says so, readers refuse with the way out,
    `vnrec recover` adopts the parts and everything reads them again."""
    source = tmp_path / "cap.jsonl"
    source.write_bytes(f.to_jsonl(FIXTURE_LINES))
    data = tmp_path / "data"
    vnrec("import", str(source), "--data", str(data))
    shutil.rmtree(data / "_commits")  # what vnrec 0.1 left: parts only
    listing = vnrec("ls", "--data", str(data), "--format", "json")
    assert listing.returncode == 0 and orjson.loads(listing.stdout) == []
    assert "2026-11-05: part files without a commit log (vnrec 0.1)" in listing.stderr
    refused = vnrec("stats", "--date", "2026-11-05", "--data", str(data))
    assert refused.returncode == 1
    assert refused.stderr.endswith("run `vnrec recover` to check and adopt them\n")
    recovered = vnrec("recover", "--data", str(data))
    assert recovered.returncode == 0
    assert "2026-11-05: adopted 4 part files written by vnrec 0.1" in recovered.stderr
    assert vnrec("stats", "--date", "2026-11-05", "--data", str(data)).returncode == 0
    again = vnrec("recover", "--data", str(data))
    assert again.stderr == f"{data}: nothing to recover (1 day checked)\n"


def test_inputs_as_users_have_them(tmp_path: Path) -> None:
    """gzip, a byte order mark, stdin: imported; an empty file, binary data, a cut last line
    alone in its batch, a directory: one line each, exit 1, nothing half-stored."""
    import gzip
    import random

    lines = f.to_jsonl(FIXTURE_LINES)
    (tmp_path / "cap.jsonl.gz").write_bytes(gzip.compress(lines))
    (tmp_path / "bom.jsonl").write_bytes(b"\xef\xbb\xbf" + f.to_jsonl(FIXTURE_LINES[:1]))
    (tmp_path / "empty.jsonl").write_bytes(b"")
    # Fixed bytes (random ones made line 1 blank now and then): not UTF-8 from the start.
    (tmp_path / "binary.jsonl").write_bytes(b"\xff\xfe" + random.Random(7).randbytes(3_000))
    (tmp_path / "cut.jsonl").write_bytes(lines + lines[:40])
    data = str(tmp_path / "data")
    gz = vnrec("import", str(tmp_path / "cap.jsonl.gz"), "--data", data)
    assert gz.returncode == 0 and "imported 3 envelopes as seq 1-3" in gz.stderr
    bom = vnrec("import", str(tmp_path / "bom.jsonl"), "--data", data, "--append")
    assert bom.returncode == 0 and "imported 1 envelopes as seq 4-4" in bom.stderr
    piped = subprocess.run(
        [sys.executable, "-m", "vnrec.cli.main", "import", "-", "--data", data, "--append"],
        input=f.to_jsonl(FIXTURE_LINES[1:2]),
        capture_output=True,
        check=False,
    )
    assert piped.returncode == 0 and b"imported 1 envelopes as seq 5-5" in piped.stderr
    empty = vnrec("import", str(tmp_path / "empty.jsonl"), "--data", data, "--append")
    assert (empty.returncode, empty.stderr.splitlines()) == (
        1,
        [f"vnrec: error: nothing to import: {tmp_path / 'empty.jsonl'} has no line"],
    )
    binary = vnrec("import", str(tmp_path / "binary.jsonl"), "--data", data, "--append")
    assert binary.returncode == 1 and "Traceback" not in binary.stderr
    assert f"{tmp_path / 'binary.jsonl'}:1: rejected: not UTF-8 (byte 0xFF at offset 0)" in (
        binary.stderr
    )
    # the rejects keep such a line byte for byte
    kept = [
        orjson.loads(line)
        for path in (tmp_path / "data" / "rejects").rglob("*.jsonl")
        for line in path.read_bytes().splitlines()
    ]
    (first,) = [r for r in kept if r["source"].endswith("binary.jsonl") and r["line"] == 1]
    exact = (tmp_path / "binary.jsonl").read_bytes().split(b"\n")[0].rstrip(b"\r")
    assert base64.b64decode(first["bytes_base64"]) == exact
    cut = vnrec(
        "import", str(tmp_path / "cut.jsonl"), "--data", data, "--append", "--again",
        "--batch-lines", "3",
    )  # fmt: skip
    assert cut.returncode == 1 and "Traceback" not in cut.stderr
    assert f"{tmp_path / 'cut.jsonl'}:4: rejected: not valid JSON" in cut.stderr
    assert "imported 3 envelopes as seq 6-8" in cut.stderr
    folder = vnrec("import", str(tmp_path), "--data", data, "--append")
    assert folder.returncode == 1
    assert folder.stderr == f"vnrec: error: {tmp_path} is a directory, not a JSON Lines file\n"
    assert Layout(Path(data)).last_seq(DAY) == 8


def test_a_mistyped_data_root_is_one_line_and_creates_nothing(tmp_path: Path) -> None:
    """Reading a path that is not there would print nothing and succeed; compacting or
    recovering it would create it."""
    missing = tmp_path / "no-such-root"
    a_file = tmp_path / "a-file"
    a_file.write_text("not a root\n")
    for args in (
        ("ls",),
        ("query", "SELECT 1"),
        ("stats", "--date", "2026-11-05"),
        ("recover",),
        ("compact", "--date", "2026-11-05"),
    ):
        done = vnrec(*args, "--data", str(missing))
        assert done.returncode == 1, args
        assert done.stderr.startswith(f"vnrec: error: no data root at {missing} "), done.stderr
        assert len(done.stderr.splitlines()) == 1
        done = vnrec(*args, "--data", str(a_file))
        assert done.stderr == f"vnrec: error: the data root {a_file} is not a directory\n"
    assert not missing.exists()
