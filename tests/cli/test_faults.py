"""Every command under a read-only data root, a full disk and a corrupt part: one line
naming what and where, exit 1 for what cannot be done, readers still read what they can,
and nothing committed is lost.

The faults are real: each command runs in its own mount namespace over a tmpfs holding a
copy of the data root, remounted read-only or filled to the last byte, and the root is
copied back out afterwards so that what the command left can be checked."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from vnrec import testing as f
from vnrec.analytics.verify import verify_day
from vnrec.storage.importer import Importer
from vnrec.storage.layout import Layout

pytestmark = pytest.mark.slow

DAY = dt.date(2026, 2, 6)
WIRE = "06/02/2026"
TMPFS_BYTES = 16 * 1024 * 1024


def _mounts_work() -> bool:
    probe = subprocess.run(
        ["unshare", "-m", "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt"],
        capture_output=True,
        check=False,
    )
    return probe.returncode == 0


if shutil.which("unshare") is None or not _mounts_work():
    pytest.skip(
        "needs mount namespaces (unshare -m, tmpfs) to make a real read-only or full disk",
        allow_module_level=True,
    )


def _day() -> list[f.Envelope]:
    out: list[f.Envelope] = [f.index("VN30", 1_900.0, time="09:00:00", date=WIRE)]
    for i in range(60):
        clock = f"09:{10 + i // 60:02d}:{i % 60:02d}"
        out.append(f.quote("VNM", [(59_900.0, 10.0)], [(60_000.0, 10.0)], time=clock, date=WIRE))
        out.append(f.trade("VNM", 60_000.0, 100.0, 100.0 * (i + 1), time=clock, date=WIRE))
        out.append(f.trade("41I1G3000", 1_901.0, 1.0, float(i + 1), time=clock, date=WIRE))
        out.append(f.foreign("VNM", 100.0 * i, 0.0, 6e6 * i, 0.0, time=clock, date=WIRE))
    return out


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A recorded day in three batches (so that compaction has work), and a file to import."""
    base = tmp_path_factory.mktemp("faults")
    layout = Layout(base / "data")
    envelopes = _day()
    with Importer(layout, batch_lines=100) as importer:
        importer.import_lines((orjson.dumps(e) for e in envelopes), "day")
        importer.commit()
    (base / "more.jsonl").write_bytes(
        f.to_jsonl([f.trade("FPT", 100_000.0, 100.0, 100.0, time="10:00:00", date=WIRE)])
    )
    return base


def _digests(root: Path) -> dict[str, str]:
    """Every committed part's content: what must never be lost."""
    layout = Layout(root)
    return {
        str(part.path.relative_to(root)): hashlib.sha256(part.path.read_bytes()).hexdigest()
        for part in layout.state(DAY).all_parts()
    }


def _run(
    template: Path, tmp_path: Path, fault: str, *args: str
) -> tuple[subprocess.CompletedProcess[str], Path]:
    """`vnrec ARGS --data ROOT` with ROOT on a tmpfs copy of the template root, `ro` or
    `full`; returns the result and a copy of what the root held afterwards."""
    mount = tmp_path / "mnt"
    after = tmp_path / "after"
    mount.mkdir()
    fault_step = {
        "ro": f"mount -o remount,ro {mount}",
        "full": f"dd if=/dev/zero of={mount}/.filler bs=4096 2>/dev/null || true",
    }[fault]
    argv = " ".join(f"'{a}'" for a in (*args, "--data", str(mount)))
    script = f"""
set -e
mount -t tmpfs -o size={TMPFS_BYTES} tmpfs {mount}
cp -a {template / "data"}/. {mount}/
{fault_step}
set +e
{sys.executable} -m vnrec.cli.main {argv}
status=$?
rm -f {mount}/.filler 2>/dev/null
mkdir -p {after} && cp -a {mount}/. {after}/
exit $status
"""
    return _in_mount_namespace(script, cwd=template), after


def _in_mount_namespace(script: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """`sh -c script` in a mount namespace of its own (its mounts vanish with it)."""
    return subprocess.run(
        ["unshare", "-m", "sh", "-c", script],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        timeout=300,
        check=False,
    )


def _one_line_error(result: subprocess.CompletedProcess[str], *expected: str) -> str:
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("vnrec: error: "), result.stderr
    for text in expected:
        assert text in last, last
    return last


WRITERS = [
    ("import", "more.jsonl", "--append"),
    ("compact", "--date", DAY.isoformat()),
    ("recover",),
    ("calendar", "--close", "2026-11-24", "--year", "2026"),
]
READERS = [
    ("ls", "-f", "json"),
    ("stats", "--date", DAY.isoformat(), "-f", "json"),
    ("foreign", "--date", DAY.isoformat(), "-f", "json"),
    ("basis", "--from", DAY.isoformat(), "--to", DAY.isoformat(), "-f", "json"),
    ("query", "SELECT symbol, sum(last_vol) AS v FROM trades GROUP BY 1 ORDER BY 1"),
    ("replay", "--date", DAY.isoformat(), "-f", "json"),
    ("verify", "--date", DAY.isoformat(), "-f", "json"),
    ("calendar", "--year", "2026", "-f", "json"),
]


@pytest.mark.parametrize("fault", ["ro", "full"])
@pytest.mark.parametrize("args", WRITERS, ids=lambda a: a[0])
def test_writers_fail_in_one_line_and_lose_nothing(
    template: Path, tmp_path: Path, fault: str, args: tuple[str, ...]
) -> None:
    """A writer on a read-only root or a full disk: exit 1, one line naming the file or
    the condition, and the committed day intact (verify passes on what is left)."""
    before = _digests(template / "data")
    result, after = _run(template, tmp_path, fault, *args)
    condition = "Read-only file system" if fault == "ro" else "No space left on device"
    if fault == "full" and args[0] == "recover":
        assert result.returncode == 0, result.stderr  # nothing to recover: nothing written
    else:
        _one_line_error(result, condition, str(tmp_path / "mnt"))
    assert _digests(after) == before
    report = verify_day(after, DAY)
    assert not report.damaged, report.render()


@pytest.fixture(scope="module")
def sound_outputs(template: Path) -> dict[tuple[str, ...], str]:
    """What each reader prints on a sound disk."""
    outputs = {}
    for args in READERS:
        sound = subprocess.run(
            [sys.executable, "-m", "vnrec.cli.main", *args, "--data", str(template / "data")],
            capture_output=True,
            text=True,
            cwd=template,
            check=False,
        )
        assert sound.returncode == 0, sound.stderr
        outputs[args] = sound.stdout
    return outputs


@pytest.mark.parametrize("fault", ["ro", "full"])
@pytest.mark.parametrize("args", READERS, ids=lambda a: a[0])
def test_readers_read_a_read_only_or_full_root(
    template: Path,
    tmp_path: Path,
    sound_outputs: dict[tuple[str, ...], str],
    fault: str,
    args: tuple[str, ...],
) -> None:
    """Reading needs no writing: every reader gives the same output as on a sound disk."""
    result, _ = _run(template, tmp_path, fault, *args)
    assert (result.returncode, result.stdout) == (0, sound_outputs[args]), result.stderr


# Each command, and a table it reads.
CORRUPTIBLE = [
    (("ls", "-f", "json"), "trades"),
    (("stats", "--date", DAY.isoformat()), "trades"),
    (("foreign", "--date", DAY.isoformat()), "foreign"),
    (("basis", "--from", DAY.isoformat(), "--to", DAY.isoformat()), "trades"),
    (("query", "SELECT count(*) FROM trades"), "trades"),
    (("replay", "--date", DAY.isoformat()), "trades"),
    (("replay", "--date", DAY.isoformat()), "quotes"),
    (("compact", "--date", DAY.isoformat()), "trades"),
]


@pytest.mark.parametrize("damage", ["truncated", "garbage", "one bit"])
@pytest.mark.parametrize(
    ("args", "table"), CORRUPTIBLE, ids=lambda a: a[0] if isinstance(a, tuple) else a
)
def test_a_corrupt_part_is_named_in_one_line(
    template: Path, tmp_path: Path, damage: str, args: tuple[str, ...], table: str
) -> None:
    """A committed part cut short, overwritten with garbage of the same size, or with one
    bit flipped (which DuckDB would decode into other numbers): every command that reads it
    says which file, in one line; verify fails naming it."""
    root = tmp_path / "data"
    shutil.copytree(template / "data", root)
    part = Layout(root).parts(table, DAY)[-1].path
    data = part.read_bytes()
    if damage == "one bit":
        flipped = bytearray(data)
        flipped[len(data) // 2] ^= 0x01
        part.write_bytes(bytes(flipped))
    else:
        part.write_bytes(data[: len(data) // 2] if damage == "truncated" else b"\x17" * len(data))
    result = subprocess.run(
        [sys.executable, "-m", "vnrec.cli.main", *args, "--data", str(root)],
        capture_output=True,
        text=True,
        check=False,
    )
    _one_line_error(result, str(part))
    report = verify_day(root, DAY)
    assert report.damaged
    (parts,) = [c for c in report.checks if c.name == "parts"]
    assert [d["part"] for d in parts.details] == [part.name]


OUTPUTS = [
    ("stats", "--date", DAY.isoformat(), "-f", "json", "-o", "{out}/stats.json"),
    ("query", "SELECT * FROM quotes", "-f", "parquet", "-o", "{out}/quotes.parquet"),
    ("replay", "--date", DAY.isoformat(), "-f", "json", "--out", "{out}/replayed"),
]


@pytest.mark.parametrize("args", OUTPUTS, ids=lambda a: a[0])
def test_an_output_on_a_full_disk_leaves_the_old_file_whole(
    template: Path, tmp_path: Path, args: tuple[str, ...]
) -> None:
    """`-o FILE` (`--out DIR`) on a full disk: one line naming the file, and the file that
    was there is still there, whole (the new one is written beside it, then renamed)."""
    mount = tmp_path / "mnt"
    mount.mkdir()
    old = b"the previous output\n" * 100
    argv = " ".join(f"'{a.format(out=mount)}'" for a in (*args, "--data", str(template / "data")))
    script = f"""
set -e
mount -t tmpfs -o size=256k tmpfs {mount}
mkdir -p {mount}/replayed/date={DAY.isoformat()}
for name in stats.json quotes.parquet replayed/date={DAY.isoformat()}/trades.parquet; do
    printf '%s' '{old.decode()}' > {mount}/$name
done
dd if=/dev/zero of={mount}/.filler bs=4096 2>/dev/null || true
set +e
{sys.executable} -m vnrec.cli.main {argv}
status=$?
mkdir -p {tmp_path / "after"} && cp -a {mount}/. {tmp_path / "after"}/
exit $status
"""
    result = _in_mount_namespace(script)
    _one_line_error(result, "No space left on device", str(mount))
    after = tmp_path / "after"
    for name in ("stats.json", "quotes.parquet", f"replayed/date={DAY.isoformat()}/trades.parquet"):
        assert (after / name).read_bytes() == old, name
    leftovers = [p for p in after.rglob("*") if p.is_file() and p.name != ".filler"]
    assert len(leftovers) == 3, leftovers


REPLAY_FILES = (
    "trades.parquet", "basis.parquet", "foreign_flow.parquet", "index.parquet",
    "candles_1m.parquet", "index_candles_1m.parquet", "alerts.parquet",
)  # fmt: skip


def test_replay_out_on_a_disk_that_fills_midway_keeps_every_old_file(
    template: Path, tmp_path: Path
) -> None:
    """Room for the first files of `--out` but not for all (as many free pages as the
    trades file takes, written first): one line, and the directory holds the previous
    run's files, every one of them, not the first new ones beside older ones (the day's
    files are renamed into place together; renamed one by one, the trades and basis files
    would be new and the rest old)."""
    data = template / "data"
    clean = tmp_path / "clean"
    replayed = subprocess.run(
        [sys.executable, "-m", "vnrec.cli.main", "replay", "--date", str(DAY), "--data",
         str(data), "-f", "json", "--out", str(clean)],
        capture_output=True, check=True,
    )  # fmt: skip
    assert replayed.returncode == 0
    trades_pages = -(-(clean / f"date={DAY}" / "trades.parquet").stat().st_size // 4096)
    mount = tmp_path / "mnt"
    mount.mkdir()
    day_dir = f"{mount}/replayed/date={DAY.isoformat()}"
    script = f"""
set -e
mount -t tmpfs -o size=1m tmpfs {mount}
mkdir -p {day_dir}
for name in {" ".join(REPLAY_FILES)}; do printf 'old %s' "$name" > {day_dir}/$name; done
free=$(df --output=avail -B4096 {mount} | tail -1)
dd if=/dev/zero of={mount}/.filler bs=4096 count=$((free - {trades_pages})) 2>/dev/null
set +e
{sys.executable} -m vnrec.cli.main replay --date {DAY} --data {data} -f json --out {mount}/replayed
status=$?
mkdir -p {tmp_path / "after"} && cp -a {mount}/. {tmp_path / "after"}/
exit $status
"""
    result = _in_mount_namespace(script)
    _one_line_error(result, "No space left on device", str(mount))
    after = tmp_path / "after" / "replayed" / f"date={DAY.isoformat()}"
    assert {p.name: p.read_bytes() for p in after.iterdir()} == {
        name: f"old {name}".encode() for name in REPLAY_FILES
    }
