"""Index membership as the recorder found it: `<root>/components/date=D/<INDEX>.parquet`,
one row per member symbol (`index_id, symbol, fetched_ns`), written when the recorder opens
day D with the list it fetched from SSI's `IndexComponents` at start. Indices are reviewed
twice a year, so analytics of a "VN30 basket" join a day's own list (the
`index_components` view), never today's.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from vnrec.errors import StorageError

COMPONENTS_DIR = "components"
COMPONENTS_SCHEMA = pa.schema(
    [("index_id", pa.string()), ("symbol", pa.string()), ("fetched_ns", pa.int64())]
)


def components_path(root: Path, day: dt.date, index_id: str) -> Path:
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in index_id)
    return root / COMPONENTS_DIR / f"date={day.isoformat()}" / f"{safe}.parquet"


def store_components(
    root: Path, day: dt.date, index_id: str, symbols: list[str], fetched_ns: int
) -> Path:
    """The day's members of `index_id`, unless the day already has its list (the first
    fetch of a day wins: a restarted recorder keeps what the day began with)."""
    from vnrec.storage.writer import write_parquet_atomic  # writers only: it loads pyarrow.compute

    path = components_path(root, day, index_id)
    if not path.exists():
        table = pa.table(
            {
                "index_id": [index_id] * len(symbols),
                "symbol": sorted(symbols),
                "fetched_ns": [fetched_ns] * len(symbols),
            },
            schema=COMPONENTS_SCHEMA,
        )
        write_parquet_atomic(table, path)
    return path


def read_components(root: Path, days: list[dt.date] | None = None) -> pa.Table:
    """Every stored membership of the given days (every day when None), as one table with
    a `date` column."""
    base = root / COMPONENTS_DIR
    tables = []
    if base.is_dir():
        for directory in sorted(base.glob("date=*")):
            try:
                day = dt.date.fromisoformat(directory.name.removeprefix("date="))
            except ValueError:
                continue
            if days is not None and day not in days:
                continue
            for path in sorted(directory.glob("*.parquet")):
                try:
                    table = pq.read_table(path, schema=COMPONENTS_SCHEMA)
                except (OSError, pa.ArrowException) as exc:
                    raise StorageError(f"cannot read the components file {path}: {exc}") from exc
                tables.append(
                    table.append_column("date", pa.array([day] * table.num_rows, pa.date32()))
                )
    return pa.concat_tables(tables) if tables else no_components()


def no_components() -> pa.Table:
    """An empty table of `read_components`' columns."""
    return COMPONENTS_SCHEMA.append(pa.field("date", pa.date32())).empty_table()
