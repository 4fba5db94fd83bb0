"""The on-disk layout: `<root>/<table>/date=YYYY-MM-DD/part-<first_seq>-<last_seq>.parquet`.

Part files are immutable once visible. Their names carry the seq range they cover, so the
highest seq of a day, overlaps and gaps are known without opening a file.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path

from vnrec.errors import StorageError
from vnrec.ssi.channels import ALL_TABLES

PART_RE = re.compile(r"^part-(\d+)-(\d+)\.parquet$")
DAY_RE = re.compile(r"^date=(\d{4}-\d{2}-\d{2})$")
TMP_PREFIX = ".tmp-"


@dataclass(frozen=True, order=True)
class PartFile:
    first_seq: int
    last_seq: int
    path: Path


def visible_parts(parts: list[PartFile]) -> list[PartFile]:
    """Drop parts whose seq range lies inside another part's (wider) range; input in seq
    order. Two parts that overlap without one containing the other are a corrupt day."""
    visible: list[PartFile] = []
    for part in sorted(parts, key=lambda p: (p.first_seq, -p.last_seq)):
        if visible and part.last_seq <= visible[-1].last_seq:
            continue  # inside the previous (wider or equal) part
        if visible and part.first_seq <= visible[-1].last_seq:
            raise StorageError(
                f"overlapping part files {visible[-1].path.name} and {part.path.name}"
                f" in {part.path.parent}"
            )
        visible.append(part)
    return visible


def part_name(first_seq: int, last_seq: int) -> str:
    # Zero-padded so that a plain directory listing is already in seq order.
    return f"part-{first_seq:012d}-{last_seq:012d}.parquet"


@dataclass(frozen=True)
class Layout:
    root: Path

    def table_dir(self, table: str) -> Path:
        if table not in ALL_TABLES:
            raise StorageError(f"unknown table {table!r}; tables are {', '.join(ALL_TABLES)}")
        return self.root / table

    def day_dir(self, table: str, day: dt.date) -> Path:
        return self.table_dir(table) / f"date={day.isoformat()}"

    def part_path(self, table: str, day: dt.date, first_seq: int, last_seq: int) -> Path:
        return self.day_dir(table, day) / part_name(first_seq, last_seq)

    def rejects_dir(self, day: dt.date) -> Path:
        return self.root / "rejects" / f"date={day.isoformat()}"

    def days(self, table: str = "raw") -> list[dt.date]:
        """Days that have a partition directory for `table`, ascending."""
        directory = self.table_dir(table)
        if not directory.is_dir():
            return []
        found = []
        for entry in directory.iterdir():
            match = DAY_RE.match(entry.name)
            if match and entry.is_dir():
                found.append(dt.date.fromisoformat(match.group(1)))
        return sorted(found)

    def all_parts(self, table: str, day: dt.date) -> list[PartFile]:
        """Every part file of a table's day on disk, superseded ones included, in seq order."""
        directory = self.day_dir(table, day)
        if not directory.is_dir():
            return []
        parts = []
        for entry in directory.iterdir():
            match = PART_RE.match(entry.name)
            if match:
                parts.append(PartFile(int(match.group(1)), int(match.group(2)), entry))
        return sorted(parts)

    def parts(self, table: str, day: dt.date) -> list[PartFile]:
        """The part files a reader must read for a table's day, in seq order.

        A part whose seq range lies inside a wider part's range has been superseded by
        compaction (which writes the merged file before deleting the old ones), so it is
        left out: a reader never sees a row twice, whenever compaction is interrupted."""
        return visible_parts(self.all_parts(table, day))

    def last_seq(self, day: dt.date) -> int:
        """The highest seq recorded for a day (0 when the day is empty): raw holds every seq."""
        parts = self.parts("raw", day)
        return parts[-1].last_seq if parts else 0
