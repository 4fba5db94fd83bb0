"""Recording gaps of a day, from its `connections` table (written by vnrec.recorder).

A gap opens at a `disconnect` or a `stall`, or at the last logged event of a recorder run
that never logged `stop` (it was killed), and closes at the next `connect` of any run; the
spans that one connect closes are one gap, from the earliest of them. Its `seq` is the
first message received at or after that connect (the first seq whose `recv_ns` is not
before it), and it starts at the later of the span's opening and the receive time of the
message before it (a killed run logs nothing when it dies, but its last message does).
A span closed by no connect, or followed by no message, holds no seq and is no gap of the
data. `vnrec replay`, `record --track`, the SQL views and `vnrec verify` all take gaps from
here, so that they agree on where the quote state is reset.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from vnrec.errors import StorageError
from vnrec.events import Gap

if TYPE_CHECKING:  # the data libraries load where used: `vnrec stats` lists files only
    import numpy as np

    from vnrec.storage.commits import DayState

CONNECTIONS_DIR = "connections"
OPENING_EVENTS = ("disconnect", "stall")
KILLED = "recorder stopped without a clean stop"
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


@dataclass(frozen=True)
class ConnectionEvent:
    """One row of the `connections` table."""

    run_id: str
    ts_ns: int  # UTC nanoseconds
    event: str
    reason: str


@dataclass(frozen=True)
class Span:
    """Where the recorder was not receiving: from `start_ns` until the connect at `end_ns`."""

    start_ns: int
    end_ns: int
    reason: str


def connections_dir(root: Path, day: dt.date) -> Path:
    return root / CONNECTIONS_DIR / f"date={day.isoformat()}"


def pending_dir(root: Path) -> Path:
    """Where running recorders log their events until they stop."""
    return root / CONNECTIONS_DIR / "pending"


def connection_files(root: Path, day: dt.date) -> list[Path]:
    """The day's finished runs' `connections` files, by name."""
    directory = connections_dir(root, day)
    return sorted(directory.glob("*.parquet")) if directory.is_dir() else []


def read_connection_events(files: Iterable[Path]) -> list[ConnectionEvent]:
    """The rows of `connections` files, by time (then file and row order)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    events: list[ConnectionEvent] = []
    for path in files:
        try:
            table = pq.read_table(path)
        except (OSError, pa.ArrowException) as exc:
            raise StorageError(f"cannot read the connections file {path}: {exc}") from exc
        missing = {"run_id", "ts", "event"} - set(table.schema.names)
        if missing:
            raise StorageError(
                f"{path} is no connections file: no {', '.join(sorted(missing))} column"
            )
        if "reason" not in table.schema.names:
            table = table.append_column("reason", pa.nulls(table.num_rows, pa.string()))
        stamps = table.column("ts").cast(pa.timestamp("ns", tz="UTC")).cast(pa.int64())
        for run_id, ts, event, reason in zip(
            table.column("run_id").to_pylist(),
            stamps.to_pylist(),
            table.column("event").to_pylist(),
            table.column("reason").to_pylist(),
            strict=True,
        ):
            if ts is not None and event is not None:
                events.append(ConnectionEvent(run_id or "", ts, event, reason or ""))
    return sorted(events, key=lambda e: e.ts_ns)


def read_running_events(root: Path) -> tuple[list[ConnectionEvent], list[str]]:
    """The events logged so far by recorder runs that have not stopped (their pending logs,
    read-only: a torn last line of a run being written is skipped), by time; and those runs'
    ids, sorted. A reader in another process (`vnrec serve`) follows a recording with them."""
    import orjson

    events: list[ConnectionEvent] = []
    runs: list[str] = []
    directory = pending_dir(root)
    files = sorted(directory.glob("run-*.jsonl")) if directory.is_dir() else []
    for path in files:
        try:
            lines = path.read_bytes().splitlines()
        except FileNotFoundError:  # the run stopped meanwhile: its events are in the day's files
            continue
        except OSError as exc:
            raise StorageError(f"cannot read the recorder's event log {path}: {exc}") from exc
        runs.append(path.stem.removeprefix("run-"))
        for line in lines:
            try:
                row = orjson.loads(line)
                # Exact microseconds, as the run's Parquet file will hold them.
                since = dt.datetime.fromisoformat(row["ts"]) - _EPOCH
                ts_ns = since // dt.timedelta(microseconds=1) * 1000
                events.append(
                    ConnectionEvent(
                        str(row["run_id"]), ts_ns, str(row["event"]), str(row.get("reason") or "")
                    )
                )
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
                continue  # the line being written, or damage: it names no gap yet
    return sorted(events, key=lambda e: e.ts_ns), runs


def gap_spans(events: Sequence[ConnectionEvent], running: Collection[str] = ()) -> list[Span]:
    """The spans without reception that a connect closed, in time order (`events` sorted
    by time, as `read_connection_events` returns them). The runs in `running` are still
    recording: not having logged `stop` yet does not make them killed."""
    last_of_run: dict[str, ConnectionEvent] = {}
    stopped: set[str] = set()
    for event in events:
        last_of_run[event.run_id] = event
        if event.event == "stop":
            stopped.add(event.run_id)
    openings = [(e.ts_ns, f"{e.event}: {e.reason}" if e.reason else e.event) for e in events]
    openings = [
        (ts, reason)
        for (ts, reason), e in zip(openings, events, strict=True)
        if e.event in OPENING_EVENTS
    ]
    openings += [
        (e.ts_ns, KILLED)
        for run, e in last_of_run.items()
        if run not in stopped and run not in running
    ]
    openings.sort()
    spans = []
    pending: tuple[int, str] | None = None
    opening = iter(openings)
    upcoming = next(opening, None)
    for event in events:
        if event.event != "connect":
            continue
        while upcoming is not None and upcoming[0] < event.ts_ns:
            pending = pending or upcoming
            upcoming = next(opening, None)
        if pending is not None:
            spans.append(Span(pending[0], event.ts_ns, pending[1]))
            pending = None
    return spans


def place_spans(spans: Sequence[Span], seq: np.ndarray, recv_ns: np.ndarray) -> list[Gap]:
    """Each span as the gap before the first message received at or after its end (rows
    given by `seq` and `recv_ns`, in seq order; a null receive time as -1)."""
    import numpy as np

    gaps = []
    for span in spans:
        after = np.flatnonzero(recv_ns >= span.end_ns)
        if not len(after):
            continue
        row = int(after[0])
        start = span.start_ns
        if row > 0 and recv_ns[row - 1] > start:
            start = int(recv_ns[row - 1])
        gaps.append(Gap(int(seq[row]), start, span.end_ns, span.reason))
    return distinct_gaps(gaps)


def place_span(span: Span, seq: np.ndarray, recv_ns: np.ndarray, before_ns: int) -> Gap | None:
    """The span as the gap before the first of these rows (a batch of the day's messages,
    in seq order) received at or after its end; `before_ns` is the receive time of the
    message before the batch (-1: none). Batch by batch this places what `place_spans`
    places over the whole day; None when no row of the batch closes the span."""
    import numpy as np

    after = np.flatnonzero(recv_ns >= span.end_ns)
    if not len(after):
        return None
    row = int(after[0])
    previous = int(recv_ns[row - 1]) if row > 0 else before_ns
    return Gap(int(seq[row]), max(span.start_ns, previous), span.end_ns, span.reason)


def distinct_gaps(gaps: list[Gap]) -> list[Gap]:
    """One gap per seq (two spans closed before the same message are one gap), by seq."""
    by_seq: dict[int, Gap] = {}
    for gap in gaps:
        known = by_seq.get(gap.seq)
        if known is None or gap.start_ns < known.start_ns:
            by_seq[gap.seq] = gap
    return [by_seq[seq] for seq in sorted(by_seq)]


def recording_gaps(state: DayState) -> list[Gap]:
    """The gaps of a day's committed data, by seq (none for a day that was imported, or
    recorded without a disconnection)."""
    spans = gap_spans(read_connection_events(connection_files(state.root, state.day)))
    if not spans:
        return []
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    seqs, stamps = [], []
    for part in state.table_parts("raw"):
        try:
            table = pq.read_table(part.path, columns=["seq", "recv_ns"])
        except FileNotFoundError as exc:
            # A compaction replaced the parts after `state` was read: the caller retries.
            raise StorageError(f"{part.path} is gone (the day was compacted meanwhile)") from exc
        except (OSError, pa.ArrowException) as exc:
            raise StorageError(f"cannot read {part.path}: {exc}") from exc
        seqs.append(np.asarray(table.column("seq").to_numpy(), np.int64))
        stamps.append(np.asarray(table.column("recv_ns").fill_null(-1).to_numpy(), np.int64))
    if not seqs:
        return []
    return place_spans(spans, np.concatenate(seqs), np.concatenate(stamps))
