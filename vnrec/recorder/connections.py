"""The `connections` table: every start, connect, subscribe, disconnect, stall, reconnect
and stop of a recording, so that a gap in the data can be told apart from a quiet market.

Events are appended to `<root>/connections/pending/run-<id>.jsonl` (fsynced per event; they
are rare) while the recorder runs. When it stops, or on the next start if it was killed, the
run becomes `<root>/connections/date=D/run-<id>.parquet` for each trading day D it recorded
(named by its `day` events), or for the day it started when it recorded nothing."""

from __future__ import annotations

import datetime as dt
import logging
import os
from pathlib import Path

import orjson
import pyarrow as pa

from vnrec.calendar import HCM_TZ
from vnrec.storage.files import fsync_dir, make_dirs_durable
from vnrec.storage.gaps import connections_dir, pending_dir
from vnrec.storage.writer import write_parquet_atomic

log = logging.getLogger(__name__)

CONNECTIONS_SCHEMA = pa.schema(
    [
        pa.field("run_id", pa.string()),
        pa.field("ts", pa.timestamp("us", tz="UTC")),
        pa.field("event", pa.string()),
        pa.field("reason", pa.string()),
        pa.field("messages", pa.int64()),
    ]
)


DAY_EVENT = "day"  # reason: the ISO date of a trading day the run began to record


class ConnectionLog:
    def __init__(self, root: Path, run_id: str) -> None:
        self._root = root
        self._dir = pending_dir(root)
        make_dirs_durable(self._dir)
        self._run_id = run_id
        self._path = self._dir / f"run-{run_id}.jsonl"
        self._fd = os.open(self._path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        fsync_dir(self._dir)
        self.events: list[tuple[str, str]] = []

    def record(self, ts: dt.datetime, event: str, reason: str, messages: int) -> None:
        line = orjson.dumps(
            {
                "run_id": self._run_id,
                "ts": ts.astimezone(dt.UTC).isoformat(),
                "event": event,
                "reason": reason,
                "messages": messages,
            }
        )
        os.write(self._fd, line + b"\n")
        os.fsync(self._fd)
        self.events.append((event, reason))

    def close(self) -> list[Path]:
        os.close(self._fd)
        return finalize(self._root, self._path)


def finalize(root: Path, jsonl: Path) -> list[Path]:
    """Turn a run's event log into a Parquet file per day it recorded; remove the log."""
    rows = []
    for line in jsonl.read_bytes().splitlines():
        try:
            rows.append(orjson.loads(line))
        except orjson.JSONDecodeError:
            log.warning("%s: dropped a torn event line (the run was killed mid-write)", jsonl)
    for row in rows:
        row["ts"] = dt.datetime.fromisoformat(row["ts"])
    days = sorted({dt.date.fromisoformat(r["reason"]) for r in rows if r["event"] == DAY_EVENT})
    if not days:
        started = rows[0]["ts"] if rows else dt.datetime.now(dt.UTC)
        days = [started.astimezone(HCM_TZ).date()]
    table = pa.Table.from_pylist(rows, schema=CONNECTIONS_SCHEMA)
    targets = [connections_dir(root, day) / jsonl.with_suffix(".parquet").name for day in days]
    for target in targets:
        write_parquet_atomic(table, target)
    jsonl.unlink()
    fsync_dir(jsonl.parent)
    return targets


def finalize_leftovers(root: Path) -> list[Path]:
    """Event logs of recorder runs that were killed become Parquet too."""
    directory = pending_dir(root)
    if not directory.is_dir():
        return []
    return [t for path in sorted(directory.glob("run-*.jsonl")) for t in finalize(root, path)]
