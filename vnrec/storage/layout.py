"""The on-disk layout: `<root>/<table>/date=YYYY-MM-DD/part-<first_seq>-<last_seq>.parquet`,
and the day's commit log that says which of those files exist for readers.

Part names carry the seq range they cover and are zero-padded so that a plain listing is in
seq order; engines that glob the hive layout (Spark, polars) read the same files. vnrec's
own readers never list the directories: they follow the commit log (`Layout.state`).
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from dataclasses import dataclass
from pathlib import Path

from vnrec.errors import NoDataError, StorageError
from vnrec.ssi.channels import ALL_TABLES
from vnrec.storage.commits import DayState, PartFile, logged_days, read_state
from vnrec.storage.files import TMP_PREFIX

log = logging.getLogger(__name__)

PART_RE = re.compile(r"^part-(\d+)-(\d+)\.parquet$")
DAY_RE = re.compile(r"^date=(\d{4}-\d{2}-\d{2})$")


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

    def rejects_dir(self, day: dt.date | None) -> Path:
        """Where rejected lines of a day go (`undated` when their day is unknown)."""
        return self.root / "rejects" / (f"date={day.isoformat()}" if day else "undated")

    # -- what readers see: the commit log -------------------------------------------------

    def state(self, day: dt.date) -> DayState:
        """The day's committed state (a snapshot of its commit log)."""
        return read_state(self.root, day)

    def days(self, table: str = "raw") -> list[dt.date]:
        """Days with committed rows in `table`, ascending."""
        return [day for day in logged_days(self.root) if self.state(day).table_parts(table)]

    def parts(self, table: str, day: dt.date) -> list[PartFile]:
        """The table's committed part files of the day, in seq order."""
        return self.state(day).table_parts(table)

    def last_seq(self, day: dt.date) -> int:
        """The highest committed seq of the day (0 when the day is empty)."""
        return self.state(day).last_seq

    def recorded_state(self, day: dt.date) -> DayState:
        """The day's state, or NoDataError naming the root when nothing is committed (with
        a hint when the day's parts predate commit logs)."""
        state = self.state(day)
        if state.table_parts("raw"):
            return state
        if not state.exists and self.disk_parts(day):
            raise StorageError(
                f"{day.isoformat()} in {self.root} has part files but no commit log (written"
                " by vnrec 0.1); run `vnrec recover` to check and adopt them"
            )
        raise NoDataError(f"no recorded data for {day.isoformat()} in {self.root}")

    # -- what is on disk (recovery and verify) --------------------------------------------

    def disk_days(self) -> list[dt.date]:
        """Days with a partition directory in any table, ascending."""
        found: set[dt.date] = set()
        for table in ALL_TABLES:
            directory = self.root / table
            if not directory.is_dir():
                continue
            for entry in directory.iterdir():
                match = DAY_RE.match(entry.name)
                if match and entry.is_dir():
                    try:
                        found.add(dt.date.fromisoformat(match.group(1)))
                    except ValueError:
                        log.warning("ignoring %s: not a day (no such date)", entry)
        return sorted(found)

    def disk_parts(self, day: dt.date) -> dict[str, list[Path]]:
        """Per table, the part files (by name) present in the day's directories."""
        found: dict[str, list[Path]] = {}
        for table in ALL_TABLES:
            directory = self.day_dir(table, day)
            if not directory.is_dir():
                continue
            names = sorted(e for e in directory.iterdir() if PART_RE.match(e.name))
            if names:
                found[table] = names
        return found

    def disk_leftovers(self, day: dt.date) -> list[Path]:
        """Temporary files of interrupted writes in the day's directories."""
        return [
            entry
            for table in ALL_TABLES
            if self.day_dir(table, day).is_dir()
            for entry in sorted(self.day_dir(table, day).iterdir())
            if entry.name.startswith(TMP_PREFIX)
        ]
