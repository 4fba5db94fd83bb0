"""Files that appear whole, alone (`atomic_file`) or together (`FileGroup`): a failure at
any step, an interrupt included, leaves what was there before and no temporary file."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from vnrec.errors import StorageError
from vnrec.replay.outputs import remove_unfinished
from vnrec.storage.files import FileGroup, atomic_file, temporary_name


def _write(group: FileGroup, path: Path, text: str) -> None:
    with group.file(path) as sink:
        sink.write(text.encode())


def _old_files(directory: Path) -> dict[str, bytes]:
    names = ("a", "b", "c")
    for name in names:
        (directory / name).write_text(f"old {name}")
    return {name: f"old {name}".encode() for name in names}


def _new_group(directory: Path, names: tuple[str, ...] = ("a", "b", "c")) -> FileGroup:
    """A group of files `names` under `directory`, written ("new NAME") and not published."""
    group = FileGroup()
    for name in names:
        _write(group, directory / name, f"new {name}")
    return group


def _interrupt_rename(monkeypatch: pytest.MonkeyPatch, nth: int, *, after: bool) -> None:
    """The `nth` rename raises KeyboardInterrupt, before it happens or right after."""
    real_replace = os.replace
    renames = 0

    def interrupted(source: object, target: object) -> None:
        nonlocal renames
        renames += 1
        if renames == nth and not after:
            raise KeyboardInterrupt
        real_replace(source, target)  # type: ignore[arg-type]
        if renames == nth:
            raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", interrupted)


def _contents(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in directory.iterdir() if p.is_file()}


def test_a_group_appears_whole(tmp_path: Path) -> None:
    _old_files(tmp_path)
    group = _new_group(tmp_path)
    assert _contents(tmp_path)["a"] == b"old a"  # nothing visible before publish
    group.publish()
    assert _contents(tmp_path) == {n: f"new {n}".encode() for n in ("a", "b", "c")}


def test_a_rename_refused_midway_puts_back_those_done(tmp_path: Path) -> None:
    """A directory where the second file goes: the first is its old self again, the third
    was never renamed, and no temporary file or kept link is left."""
    old = _old_files(tmp_path)
    (tmp_path / "b").unlink()
    (tmp_path / "b").mkdir()
    del old["b"]
    group = _new_group(tmp_path)
    with pytest.raises(StorageError, match=f"cannot write {tmp_path / 'b'}"):
        group.publish()
    assert _contents(tmp_path) == old


@pytest.mark.parametrize(
    ("rename", "after"),
    [
        (3, False),  # a and b are done
        # a signal arriving while `rename` runs is raised once it returned: that rename is
        # done, and undone with the others
        (2, True),
    ],
)
def test_an_interrupt_during_publish_puts_back_those_done(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rename: int, after: bool
) -> None:
    old = _old_files(tmp_path)
    group = _new_group(tmp_path)
    _interrupt_rename(monkeypatch, rename, after=after)
    with pytest.raises(KeyboardInterrupt):
        group.publish()
    monkeypatch.undo()
    assert _contents(tmp_path) == old


def test_an_interrupted_atomic_file_leaves_no_temporary_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "x").write_text("old")

    def interrupted(source: object, target: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt), atomic_file(tmp_path / "x") as sink:
        sink.write(b"new")
    monkeypatch.undo()
    assert _contents(tmp_path) == {"x": b"old"}


def test_leftovers_of_stopped_writers_go_and_a_running_writers_stay(tmp_path: Path) -> None:
    """`--out` cleaning after stopped workers: a temporary file of a process that is gone
    is removed (at any depth), one of a running replay is not."""
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                              capture_output=True, text=True, check=True)  # fmt: skip
    gone = int(finished.stdout)
    (tmp_path / "trackers").mkdir()
    stale = [
        tmp_path / f".tmp-trades.parquet.{gone}",
        tmp_path / "trackers" / f".tmp-Rows.parquet.{gone}",
        tmp_path / f".tmp-basis.parquet.{gone}.previous",
    ]
    for path in stale:
        path.write_text("half")
    running = temporary_name(tmp_path / "trades.parquet")  # this process's
    running.write_text("being written")
    remove_unfinished(tmp_path)
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == [running.name]


def test_without_hard_links_a_failed_publish_still_puts_back_the_old_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where links cannot be made, the previous versions are moved aside instead."""
    old = _old_files(tmp_path)
    (tmp_path / "d").mkdir()  # the fourth file's place is taken: its rename fails
    group = _new_group(tmp_path, ("a", "b", "c", "d"))

    def no_links(*args: object, **kwargs: object) -> None:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "link", no_links)
    with pytest.raises(StorageError, match="cannot write"):
        group.publish()
    monkeypatch.undo()
    assert _contents(tmp_path) == old
    group = _new_group(tmp_path, ("a", "b"))
    monkeypatch.setattr(os, "link", no_links)
    group.publish()
    monkeypatch.undo()
    assert _contents(tmp_path) == {"a": b"new a", "b": b"new b", "c": b"old c"}
