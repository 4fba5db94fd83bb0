"""Per-day session stats computed once, when a day is compacted, and answered from then on.

`vnrec stats --date D` on a compacted 3M-event day would otherwise run the whole SQL of
vnrec.analytics.derived (about a second); the result only changes when the day's committed
parts change. So compaction stores the SQL's rows in `<root>/_derived/stats/date=D.json`,
stamped with a digest of the committed state they were computed from (every part's table,
name, seq range, rows and SHA-256, plus the stats rules' version) and of the day's
`connections` files (a recording gap changes how trades are classified). The cache answers only
while that digest is the day's current one: an import appended since, a recovery or a new
vnrec whose rules differ make it stale, and the command computes on the fly as for a day
never compacted. A cache that cannot be read is ignored with a warning, never trusted.

The file is JSON (orjson, floats written shortest-exact, so they read back bit for bit):
answering needs neither DuckDB nor Arrow, which keeps the command within a few tenths of a
second, start included. `_derived` begins with an underscore, so readers that glob the
hive layout skip it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from pathlib import Path
from typing import Any

import orjson

from vnrec.storage.commits import DayState
from vnrec.storage.files import atomic_file
from vnrec.storage.gaps import connection_files
from vnrec.storage.layout import Layout

log = logging.getLogger(__name__)

# Bump when the session stats rules (or their SQL) change: every cache becomes stale (the
# basis and alerts caches too: their digests include this one). 4: caches carry checksums.
STATS_RULES_VERSION = 4
Row = dict[str, Any]


def stats_cache_path(root: Path, day: dt.date) -> Path:
    return root / "_derived" / "stats" / f"date={day.isoformat()}.json"


def state_digest(state: DayState) -> str:
    """A digest of exactly which parts are committed (and of the stats rules)."""
    digest = hashlib.sha256(f"rules={STATS_RULES_VERSION}\n".encode())
    for part in state.all_parts():
        digest.update(
            f"{part.table} {part.name} {part.first_seq} {part.last_seq} {part.rows}"
            f" {part.bytes} {part.sha256}\n".encode()
        )
    return digest.hexdigest()


def stats_digest(state: DayState) -> str:
    """`state_digest`, and the day's connections files (their names and sizes: a finished
    run's file is written once), from which the recording gaps come."""
    digest = hashlib.sha256(state_digest(state).encode())
    for path in connection_files(state.root, state.day):
        digest.update(f"{path.name} {path.stat().st_size}\n".encode())
    return digest.hexdigest()


def cached_stats(layout: Layout, day: dt.date) -> list[Row] | None:
    """The day's stored session stats when they are of its current committed state."""
    path = stats_cache_path(layout.root, day)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        log.warning("ignoring the stats cache %s: %s", path, exc.strerror or exc)
        return None
    try:
        cache = orjson.loads(data)
        digest, rows, checksum = cache["digest"], cache["rows"], cache["rows_sha256"]
    except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
        log.warning("ignoring the stats cache %s: not a vnrec stats cache (%s)", path, exc)
        return None
    if digest != stats_digest(layout.state(day)):
        return None
    if not isinstance(rows, list) or _rows_sha256(rows) != checksum:
        # A number changed in place would still be JSON: only the checksum tells.
        log.warning("ignoring the stats cache %s: damaged (its checksum differs)", path)
        return None
    return rows


def store_stats(layout: Layout, day: dt.date, state: DayState, rows: list[Row]) -> Path:
    """Write the rows computed from `state` as the day's stats cache, atomically."""
    path = stats_cache_path(layout.root, day)
    payload = {
        "date": day.isoformat(),
        "digest": stats_digest(state),
        "rows_sha256": _rows_sha256(rows),
        "rows": rows,
    }
    with atomic_file(path) as sink:
        sink.write(orjson.dumps(payload))
    return path


def _rows_sha256(rows: list[Row]) -> str:
    # orjson writes the same bytes for rows read back from its own output (floats are
    # written shortest-exact and read back bit for bit; key order is kept).
    return hashlib.sha256(orjson.dumps(rows)).hexdigest()
