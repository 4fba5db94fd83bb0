"""`--out DIR`: the day's derived series as Parquet files under `DIR/date=YYYY-MM-DD/`.

`trades.parquet` (classified trades) is streamed while the replay runs, so memory does not
grow with the day; `basis.parquet`, `foreign_flow.parquet` and `index.parquet` come from
the trackers' series at the end. The files of a day are one `FileGroup`: each is written
under a temporary name (with the writer's pid: replays may share a directory) and all are
renamed into place once every one is written, so a reader never sees half a file, and a
failure (a full disk, a rename refused) leaves the files of an earlier run as they were,
never some of this run's beside older versions of the others.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol

import pyarrow as pa
import pyarrow.parquet as pq

from vnrec.errors import StorageError, VnrecError
from vnrec.storage.alerts_cache import ALERTS_SCHEMA
from vnrec.storage.files import (
    TMP_PREFIX,
    FileGroup,
    fsync_dir,
    owner_gone,
    temporary_name,
)
from vnrec.storage.locks import DirectoryLock
from vnrec.storage.schema import EVENT_TS_TYPE

TRADES_SCHEMA = pa.schema(
    [
        ("seq", pa.int64()),
        ("event_ts", EVENT_TS_TYPE),
        ("symbol", pa.string()),
        ("price", pa.float64()),
        ("volume", pa.int64()),
        ("value", pa.float64()),
        ("side", pa.string()),
        ("phase", pa.string()),
        ("bid1", pa.float64()),
        ("ask1", pa.float64()),
        ("wire_side", pa.string()),
    ]
)
BASIS_SCHEMA = pa.schema(
    [
        ("seq", pa.int64()),
        ("event_ts", EVENT_TS_TYPE),
        ("symbol", pa.string()),
        ("price", pa.float64()),
        ("index_value", pa.float64()),
        ("basis", pa.float64()),
    ]
)
FOREIGN_FLOW_SCHEMA = pa.schema(
    [
        ("seq", pa.int64()),
        ("event_ts", EVENT_TS_TYPE),
        ("symbol", pa.string()),
        ("buy_volume", pa.int64()),
        ("sell_volume", pa.int64()),
        ("buy_value", pa.float64()),
        ("sell_value", pa.float64()),
        ("net_volume", pa.int64()),
        ("net_value", pa.float64()),
        ("rebaselined", pa.bool_()),
        ("net_volume_speed", pa.float64()),
        ("net_value_speed", pa.float64()),
        ("buy_value_speed", pa.float64()),
        ("sell_value_speed", pa.float64()),
        ("net_value_acceleration", pa.float64()),
    ]
)
INDEX_SCHEMA = pa.schema(
    [
        ("seq", pa.int64()),
        ("event_ts", EVENT_TS_TYPE),
        ("index_id", pa.string()),
        ("value", pa.float64()),
    ]
)
PARQUET_OPTIONS: dict[str, Any] = {"compression": "zstd"}
FLUSH_ROWS = 65_536


def out_dir(root: Path, day: dt.date) -> Path:
    return root / f"date={day.isoformat()}"


def remove_unfinished(directory: Path) -> None:
    """Remove the files stopped writers left half-written in a day's directory (and its
    `trackers/`), not those of a replay still writing there."""
    if directory.is_dir():
        for leftover in directory.rglob(TMP_PREFIX + "*"):
            if owner_gone(leftover):
                leftover.unlink(missing_ok=True)


def _record_batch(rows: Sequence[tuple[Any, ...]], schema: pa.Schema) -> pa.RecordBatch:
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in schema]
    arrays = [
        pa.array(values, type=pa.int64()).cast(f.type)
        if f.type == EVENT_TS_TYPE
        else pa.array(values, type=f.type)
        for values, f in zip(columns, schema, strict=True)
    ]
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def write_rows(
    path: Path, rows: Sequence[tuple[Any, ...]], schema: pa.Schema, group: FileGroup
) -> None:
    """Write tuples (in the schema's field order) as one Parquet file of `group`."""
    write_table(path, pa.Table.from_batches([_record_batch(rows, schema)], schema=schema), group)


def write_table(path: Path, table: pa.Table, group: FileGroup) -> None:
    """Write a table as one Parquet file of `group` (a failing disk is an error naming the
    file)."""
    with group.file(path) as sink:
        pq.write_table(table, sink, **PARQUET_OPTIONS)


class TradeWriter:
    """A trade sink writing the classified trades of each replay window (an Arrow table
    with the columns of TRADES_SCHEMA) to one Parquet file."""

    def __init__(self, path: Path, group: FileGroup) -> None:
        self.path = path
        self._group = group
        self._temporary = temporary_name(path)  # this process's: replays may share `--out`
        try:
            with self._failing("create"):
                path.parent.mkdir(parents=True, exist_ok=True)
                self._writer = pq.ParquetWriter(self._temporary, TRADES_SCHEMA, **PARQUET_OPTIONS)
        except StorageError:
            with contextlib.suppress(OSError):  # the cause is the error to report
                self._temporary.unlink(missing_ok=True)
            raise

    def __call__(self, trades: pa.Table) -> None:
        with self._failing("write"):
            self._writer.write_table(trades.select(TRADES_SCHEMA.names).cast(TRADES_SCHEMA))

    def close(self) -> None:
        """Close and hand the file to its group (the rows buffered last are written here:
        a full disk fails here too, and leaves no half-written file)."""
        try:
            with self._failing("write"):
                self._writer.close()
            self._group.add(self._temporary, self.path)
        except StorageError:
            self._temporary.unlink(missing_ok=True)
            raise

    def abort(self) -> None:
        """Close and remove the unfinished file (and its directory, when it is empty)."""
        # The failure that brought us here is the one to report, not the close's.
        with contextlib.suppress(OSError, pa.ArrowException):
            self._writer.close()
        self._temporary.unlink(missing_ok=True)
        # Not empty means other outputs live there: leaving it is the point.
        with contextlib.suppress(OSError):
            self.path.parent.rmdir()

    @contextlib.contextmanager
    def _failing(self, what: str) -> Iterator[None]:
        try:
            yield
        except (OSError, pa.ArrowException) as exc:
            detail = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
            raise StorageError(f"cannot {what} {self.path}: {detail}") from exc

    def __enter__(self) -> TradeWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


CANDLES_SCHEMA = pa.schema(
    [
        ("symbol", pa.string()),
        ("start", EVENT_TS_TYPE),
        ("open", pa.float64()),
        ("high", pa.float64()),
        ("low", pa.float64()),
        ("close", pa.float64()),
        ("volume", pa.int64()),
        ("value", pa.float64()),
        ("buy_volume", pa.int64()),
        ("sell_volume", pa.int64()),
        ("neutral_volume", pa.int64()),
        ("trades", pa.int64()),
    ]
)
INDEX_CANDLES_SCHEMA = pa.schema(
    [
        ("index_id", pa.string()),
        ("start", EVENT_TS_TYPE),
        ("open", pa.float64()),
        ("high", pa.float64()),
        ("low", pa.float64()),
        ("close", pa.float64()),
    ]
)


def write_candles(directory: Path, trackers: CandleSource, group: FileGroup) -> list[Path]:
    """The day's one-minute candles of symbols and indices (longer intervals are sums of
    them: `vnrec candles` and the `candles_*` views have those)."""
    paths = []
    for name, rows, schema in (
        ("candles_1m.parquet", trackers.candles("1m"), CANDLES_SCHEMA),
        ("index_candles_1m.parquet", trackers.index_candles("1m"), INDEX_CANDLES_SCHEMA),
    ):
        path = directory / name
        write_table(path, pa.Table.from_pylist(rows, schema=schema), group)
        paths.append(path)
    return paths


def write_alerts(directory: Path, alerts: list[dict[str, Any]], group: FileGroup) -> Path:
    """The day's alerts (SPEC.md 7.5) as `alerts.parquet`."""
    path = directory / "alerts.parquet"
    write_table(path, pa.Table.from_pylist(alerts, schema=ALERTS_SCHEMA), group)
    return path


def flat_rows(result: Any) -> list[dict[str, Any]] | None:
    """`result` when it is a list of flat dicts (scalar values only), else None."""
    if not isinstance(result, list) or not result:
        return None
    scalars = (type(None), bool, int, float, str)
    for row in result:
        if not isinstance(row, dict) or not all(isinstance(v, scalars) for v in row.values()):
            return None
    return result


def write_tracker_rows(directory: Path, results: dict[str, Any], group: FileGroup) -> list[Path]:
    """Each tracker result that is a list of flat dicts, as `trackers/<name>.parquet`
    (columns in the order they first appear; a name is made safe as a file name)."""
    paths = []
    for name, result in results.items():
        rows = flat_rows(result)
        if rows is None:
            continue
        columns = list(dict.fromkeys(key for row in rows for key in row))
        try:
            table = pa.Table.from_pylist([{c: row.get(c) for c in columns} for row in rows])
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise VnrecError(f"tracker {name}: its result rows are not one table: {exc}") from exc
        path = directory / "trackers" / f"{_file_name(name)}.parquet"
        write_table(path, table, group)
        paths.append(path)
    return paths


def writing_day(directory: Path) -> DirectoryLock:
    """The lock a run holds on a day's output directory while it writes it: a second
    replay of the same day into the same directory fails at once, in one line, instead of
    publishing over (or undoing) this one's files. The kernel releases it when the holder
    dies."""
    return DirectoryLock(
        directory,
        f"{directory} is being written by another vnrec replay;"
        " run one replay per output directory",
    )


def remove_stale_tracker_rows(directory: Path, written: Sequence[Path]) -> None:
    """Removes the day's `trackers/*.parquet` that this run did not write: the rows of
    trackers an earlier run was given and this one was not (the directory is vnrec's)."""
    trackers = directory / "trackers"
    kept = set(written)
    try:
        stale = sorted(path for path in trackers.glob("*.parquet") if path not in kept)
        for path in stale:
            path.unlink(missing_ok=True)
        if stale:
            fsync_dir(trackers)
    except OSError as exc:
        raise StorageError(
            f"cannot remove a stale file in {trackers}: {exc.strerror or exc}"
        ) from exc


def _file_name(name: str) -> str:
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in name).lstrip(".") or "_"


class SeriesSource(Protocol):
    def series(self) -> dict[str, Any]: ...


class CandleSource(Protocol):
    def candles(self, interval: str = "1m") -> list[dict[str, Any]]: ...

    def index_candles(self, interval: str = "1m") -> list[dict[str, Any]]: ...


def write_series(directory: Path, trackers: SeriesSource, group: FileGroup) -> list[Path]:
    """The basis, foreign flow and index series of a finished day (of its report window);
    returns the paths. A series is rows (tuples in schema order) or an Arrow table."""
    series = trackers.series()
    files: list[tuple[str, Sequence[tuple[Any, ...]] | pa.Table, pa.Schema]] = [
        ("basis.parquet", series["basis"], BASIS_SCHEMA),
        ("foreign_flow.parquet", series["foreign"], FOREIGN_FLOW_SCHEMA),
        ("index.parquet", series["index"], INDEX_SCHEMA),
    ]
    paths = []
    for name, rows, schema in files:
        path = directory / name
        if isinstance(rows, pa.Table):
            write_table(path, rows.select(schema.names).cast(schema), group)
        else:
            write_rows(path, rows, schema, group)
        paths.append(path)
    return paths
