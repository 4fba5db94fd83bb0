"""The commit log: a day's committed state, recorded atomically at every write.

Each trading day has one append-only log, `<root>/_commits/date=YYYY-MM-DD.log`. A line is
one commit record, `<crc32 of the JSON, 8 hex digits> <JSON>\\n`, listing the part files it
adds (table, file name, seq range, rows, bytes, sha256 of the whole file) and removes. A
record is durable once its line is fsynced; an incomplete last line (no newline, and not a
whole record) is a commit that never happened (a writer crashed mid-append) and is
invisible; any other line that fails its checksum is damage, and an error.

Readers never list directories: a day's parts are exactly what its log says. A file the log
does not name (a crashed writer's leftover, a superseded part) is invisible; a file the log
names that is missing or altered is an error.

Import transactions span days: each day's record carries the transaction id and stays
invisible until a `tx_commit` record for it follows in the same log, or the transaction's
decision file `<root>/_commits/tx/<id>.json` exists (the commit point, written before the
`tx_commit` records). A transaction with neither was abandoned: its records are invisible,
and the next writer of the day drops them with their files.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from vnrec.errors import StorageError
from vnrec.storage.files import atomic_file, fsync_dir, make_dirs_durable

log = logging.getLogger(__name__)

COMMITS_DIR = "_commits"
TX_DIR = "tx"
TORN_DIR = "torn"
ASIDE_DIR = "aside"  # parts no commit names that may hold data (vnrec.storage.day)
LOG_SUFFIX = ".log"
FORMAT_VERSION = 1

# Record kinds: what wrote them. Only `tx_commit` has a meaning of its own to readers.
OP_RECORD = "record"  # the recorder's journal conversion
OP_IMPORT = "import"
OP_COMPACT = "compact"
OP_ADOPT = "adopt"  # parts written before commit logs existed, taken over as they were
OP_CHECKPOINT = "checkpoint"  # the whole state, written when the log is rewritten
OP_TX_COMMIT = "tx_commit"


@dataclass(frozen=True, order=True)
class PartFile:
    """A committed part file: where it is and what the commit record says it holds."""

    first_seq: int
    last_seq: int
    path: Path
    table: str = ""
    rows: int = 0
    bytes: int = 0
    sha256: str = ""

    @property
    def name(self) -> str:
        return self.path.name

    def to_json(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "file": self.path.name,
            "seq": [self.first_seq, self.last_seq],
            "rows": self.rows,
            "bytes": self.bytes,
            "sha256": self.sha256,
        }


def commits_dir(root: Path) -> Path:
    return root / COMMITS_DIR


def log_path(root: Path, day: dt.date) -> Path:
    return commits_dir(root) / f"date={day.isoformat()}{LOG_SUFFIX}"


def tx_path(root: Path, tx: str) -> Path:
    return commits_dir(root) / TX_DIR / f"{tx}.json"


def logged_days(root: Path) -> list[dt.date]:
    """Days that have a commit log, ascending."""
    directory = commits_dir(root)
    if not directory.is_dir():
        return []
    days = []
    for entry in directory.iterdir():
        name = entry.name
        if name.startswith("date=") and name.endswith(LOG_SUFFIX):
            try:
                days.append(dt.date.fromisoformat(name[5 : -len(LOG_SUFFIX)]))
            except ValueError:
                continue  # not one of ours; `vnrec verify` lists what it cannot place
    return sorted(days)


def encode_record(record: Mapping[str, Any]) -> bytes:
    body = orjson.dumps(record)
    return b"%08x " % zlib.crc32(body) + body + b"\n"


def _decode_line(line: bytes) -> dict[str, Any] | None:
    """The record of a complete line, or None when its checksum or JSON is bad."""
    if len(line) < 10 or line[8:9] != b" ":
        return None
    body = line[9:]
    try:
        if int(line[:8], 16) != zlib.crc32(body):
            return None
        record = orjson.loads(body)
    except (ValueError, orjson.JSONDecodeError):
        return None
    return record if isinstance(record, dict) else None


@dataclass
class DayState:
    """A day's committed state as of one reading of its log (a snapshot)."""

    root: Path
    day: dt.date
    version: int = 0  # records applied; grows with every commit
    parts: dict[str, list[PartFile]] = field(default_factory=dict)
    sources: dict[str, tuple[int, int]] = field(default_factory=dict)  # source -> seq range
    pending: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # tx -> records
    valid_bytes: int = 0  # length of the log made of whole, checksummed records
    torn_bytes: int = 0  # an interrupted append at the end (invisible)
    exists: bool = False  # the day has a log

    @property
    def last_seq(self) -> int:
        """The highest committed seq of the day (0 when nothing is committed): raw holds
        every seq."""
        raw = self.parts.get("raw")
        return max(p.last_seq for p in raw) if raw else 0

    @property
    def first_seq(self) -> int:
        raw = self.parts.get("raw")
        return min(p.first_seq for p in raw) if raw else 0

    def table_parts(self, table: str) -> list[PartFile]:
        """The table's committed parts in seq order."""
        return sorted(self.parts.get(table, ()))

    def all_parts(self) -> list[PartFile]:
        return [part for table in sorted(self.parts) for part in self.table_parts(table)]

    def committed_names(self, table: str) -> set[str]:
        return {part.name for part in self.parts.get(table, ())}

    @property
    def empty(self) -> bool:
        return not any(self.parts.values())

    # -- applying records -----------------------------------------------------------------

    def _part(self, entry: Mapping[str, Any]) -> PartFile:
        table = str(entry["table"])
        first, last = entry["seq"]
        return PartFile(
            int(first),
            int(last),
            self.root / table / f"date={self.day.isoformat()}" / str(entry["file"]),
            table,
            int(entry["rows"]),
            int(entry["bytes"]),
            str(entry["sha256"]),
        )

    def apply(self, record: Mapping[str, Any], where: str) -> None:
        """Apply one committed record; `where` names it in errors."""
        try:
            for entry in record.get("remove", ()):
                table, name = str(entry["table"]), str(entry["file"])
                kept = [p for p in self.parts.get(table, ()) if p.name != name]
                if len(kept) == len(self.parts.get(table, ())):
                    raise StorageError(f"{where}: removes {table}/{name}, which is not committed")
                self.parts[table] = kept
            for entry in record.get("add", ()):
                part = self._part(entry)
                if part.name in self.committed_names(part.table):
                    raise StorageError(f"{where}: adds {part.table}/{part.name} twice")
                self.parts.setdefault(part.table, []).append(part)
            source, seq = record.get("source"), record.get("seq")
            if isinstance(source, str) and seq:
                self.sources[source] = (int(seq[0]), int(seq[1]))
        except (KeyError, TypeError, ValueError) as exc:
            raise StorageError(f"{where}: malformed commit record ({exc!r})") from exc
        self.version += 1


def read_state(root: Path, day: dt.date, *, decided: Iterable[str] | None = None) -> DayState:
    """The day's committed state from its log (an empty state when it has none).

    Records of a transaction are applied at its `tx_commit`; those still pending at the end
    are applied when the transaction's decision file exists (`decided`, if given, names the
    transactions known to be decided instead of looking)."""
    state = DayState(root, day)
    path = log_path(root, day)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return state
    except OSError as exc:
        raise StorageError(f"cannot read the commit log {path}: {exc.strerror}") from exc
    state.exists = True
    offset = 0
    number = 0
    while offset < len(data):
        end = data.find(b"\n", offset)
        number += 1
        record = None if end < 0 else _decode_line(data[offset:end])
        if record is None:
            # An append is one write of a whole line, so a crash can only leave a line
            # without its newline, which no checksum matches. A whole line that fails its
            # checksum, or a whole record that lost its newline, is damage even at the end:
            # taking it for an interrupted append would hide committed data, and the next
            # writer would delete its files.
            if end < 0 and _decode_line(data[offset:]) is None:
                state.torn_bytes = len(data) - offset  # an interrupted last append
                break
            raise StorageError(
                f"{path}:{number}: commit record damaged (checksum, JSON or newline);"
                " the day's committed state cannot be trusted"
            )
        _apply_record(state, record, f"{path}:{number}")
        offset = end + 1
    state.valid_bytes = offset
    known = None if decided is None else set(decided)
    for tx in sorted(state.pending):
        committed = tx in known if known is not None else tx_path(root, tx).exists()
        if committed:
            for record in state.pending.pop(tx):
                state.apply(record, f"{path} (transaction {tx})")
    return state


def _apply_record(state: DayState, record: Mapping[str, Any], where: str) -> None:
    tx = record.get("tx")
    if record.get("op") == OP_TX_COMMIT:
        for held in state.pending.pop(str(tx), []):
            state.apply(held, where)
        state.version += 1
    elif isinstance(tx, str):
        state.pending.setdefault(tx, []).append(dict(record))
    else:
        state.apply(record, where)
        if record.get("op") == OP_CHECKPOINT:
            # Versions keep growing across rewrites, so a reader can tell that the log
            # changed under it by comparing two versions; sources still tell which journal
            # segments are committed.
            state.version = int(record.get("version", state.version))
            for source, (first, last) in dict(record.get("sources", {})).items():
                state.sources[str(source)] = (int(first), int(last))


def make_record(
    op: str,
    *,
    add: Sequence[PartFile] = (),
    remove: Sequence[PartFile] = (),
    source: str | None = None,
    seq: tuple[int, int] | None = None,
    tx: str | None = None,
    note: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    record: dict[str, Any] = {"format": FORMAT_VERSION, "op": op}
    if tx is not None:
        record["tx"] = tx
    if source is not None:
        record["source"] = source
    if seq is not None:
        record["seq"] = list(seq)
    if add:
        record["add"] = [part.to_json() for part in add]
    if remove:
        record["remove"] = [{"table": p.table, "file": p.name} for p in remove]
    if note:
        record["note"] = dict(note)
    record["at"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    return record


class DayLog:
    """The writer's side of one day's log. Only a holder of the day's lock may use it."""

    def __init__(self, root: Path, day: dt.date) -> None:
        self.root = root
        self.day = day
        self.path = log_path(root, day)
        # The writer settles pending transactions itself (vnrec.storage.day), so it reads
        # the log as it is, without looking for decision files.
        self.state = read_state(root, day, decided=())

    def append(self, record: Mapping[str, Any]) -> DayState:
        """Make one record durable (written and fsynced), then apply it."""
        if self.state.torn_bytes:
            raise StorageError(f"{self.path} has an interrupted commit at its end; recover first")
        line = encode_record(record)
        try:
            self._append_line(line)
        except OSError as exc:
            raise StorageError(
                f"cannot write the commit log {self.path}: {exc.strerror or exc};"
                " nothing was committed"
            ) from exc
        _apply_record(self.state, record, f"{self.path}:{self.state.version + 1}")
        self.state.valid_bytes += len(line)
        self.state.exists = True
        return self.state

    def _append_line(self, line: bytes) -> None:
        created = not self.path.exists()
        if created:
            make_dirs_durable(self.path.parent)
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            written = os.write(fd, line)
            if written != len(line):
                # A short write (full disk) must not stay in front of the next record.
                os.ftruncate(fd, self.state.valid_bytes)
                raise OSError(f"commit log write of {len(line)} bytes wrote only {written}")
            os.fsync(fd)
        except OSError:
            os.ftruncate(fd, self.state.valid_bytes)
            raise
        finally:
            os.close(fd)
        if created:
            fsync_dir(self.path.parent)

    def cut_torn_tail(self) -> Path | None:
        """Keep an interrupted last append aside and cut it off; returns where it went."""
        if not self.state.torn_bytes:
            return None
        aside_dir = commits_dir(self.root) / TORN_DIR
        make_dirs_durable(aside_dir)
        aside = aside_dir / f"{self.path.name}.{self.state.valid_bytes}.torn"
        with open(self.path, "rb") as source:
            source.seek(self.state.valid_bytes)
            aside.write_bytes(source.read())
        fsync_dir(aside_dir)
        with open(self.path, "r+b") as target:
            target.truncate(self.state.valid_bytes)
            os.fsync(target.fileno())
        self.state.torn_bytes = 0
        return aside

    def rewrite(self, keep_pending: Iterable[str] = ()) -> None:
        """Replace the log, atomically, by one checkpoint record of the current state (plus
        the records of the pending transactions named in `keep_pending`). Readers holding
        the old log keep a consistent view of it."""
        state = self.state
        records: list[dict[str, Any]] = []
        if not state.empty:
            records.append(make_record(OP_CHECKPOINT, add=state.all_parts()))
            records[0]["sources"] = {k: list(v) for k, v in sorted(state.sources.items())}
            records[0]["version"] = state.version
        kept = set(keep_pending)
        for tx in sorted(kept & set(state.pending)):
            records.extend(state.pending[tx])
        with atomic_file(self.path) as sink:
            for record in records:
                sink.write(encode_record(record))
        self.state = read_state(self.root, self.day, decided=())


def read_tx(root: Path, tx: str) -> dict[str, Any] | None:
    path = tx_path(root, tx)
    try:
        data = orjson.loads(path.read_bytes())
    except FileNotFoundError:
        return None
    except (OSError, orjson.JSONDecodeError) as exc:
        raise StorageError(f"cannot read the transaction record {path}: {exc}") from exc
    return data if isinstance(data, dict) else None


def write_tx(root: Path, tx: str, decision: Mapping[str, Any]) -> Path:
    """The commit point of a transaction: its decision file, written atomically."""
    path = tx_path(root, tx)
    with atomic_file(path) as sink:
        sink.write(orjson.dumps(decision, option=orjson.OPT_INDENT_2) + b"\n")
    return path


def decided_transactions(root: Path) -> list[dict[str, Any]]:
    """Every transaction decision file of the root (import history), oldest first."""
    directory = commits_dir(root) / TX_DIR
    if not directory.is_dir():
        return []
    found = []
    for path in sorted(directory.glob("*.json")):
        try:
            data = orjson.loads(path.read_bytes())
        except (OSError, orjson.JSONDecodeError) as exc:
            raise StorageError(f"cannot read the transaction record {path}: {exc}") from exc
        if isinstance(data, dict):
            found.append(data)
    return found
