"""Per-day VN30 futures basis rows computed once, when a day is compacted.

`vnrec basis --from --to` over a month of 3M-event days would otherwise run the basis SQL of
vnrec.analytics.derived (the trade-outcome window over every futures trade and an ASOF join
against VN30) over every day again, about a second for 20 days. A day's basis rows only
change when its committed parts change, so compaction stores them, as the `basis` view gives
them, in `<root>/_derived/basis/date=D.parquet`, stamped (Parquet key-value metadata
`vnrec.digest`) with a digest of the committed state and of the rules they were computed
with. As for the stats cache (vnrec.storage.stats_cache), a file whose digest is not the
day's current one is stale and not used, and one that cannot be read is ignored with a
warning: the day is then computed from its parts.

Which contract is the front one is not stored: it is decided per query, from the rows.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from vnrec.storage.commits import DayState
from vnrec.storage.files import atomic_file
from vnrec.storage.layout import Layout
from vnrec.storage.stats_cache import state_digest

log = logging.getLogger(__name__)

# Bump when the basis rules (or their SQL) change: every basis cache becomes stale. The
# state digest also covers the stats rules, whose trade counting the basis rows rely on.
BASIS_RULES_VERSION = 1
DIGEST_KEY = b"vnrec.digest"
# The columns of the stored rows (the `basis` view's): a file stamped with a current digest
# but other columns (rewritten by hand) is not an answer.
BASIS_SCHEMA = pa.schema(
    [
        ("date", pa.date32()),
        ("symbol", pa.string()),
        ("seq", pa.int64()),
        ("event_ts", pa.timestamp("us", tz="UTC")),
        ("price", pa.float64()),
        ("index_value", pa.float64()),
        ("basis", pa.float64()),
    ]
)


def basis_cache_path(root: Path, day: dt.date) -> Path:
    return root / "_derived" / "basis" / f"date={day.isoformat()}.parquet"


def basis_digest(state: DayState) -> str:
    text = f"basis={BASIS_RULES_VERSION}\n{state_digest(state)}"
    return hashlib.sha256(text.encode()).hexdigest()


def fresh_basis_cache(layout: Layout, day: dt.date) -> Path | None:
    """The day's stored basis rows when they are of its current committed state."""
    return None if fresh_basis_rows(layout, day) is None else basis_cache_path(layout.root, day)


def fresh_basis_rows(layout: Layout, day: dt.date) -> pa.Table | None:
    """The day's stored basis rows themselves (read and checked once, as a whole) when they
    are of its current committed state."""
    path = basis_cache_path(layout.root, day)
    return fresh_stamped_rows(
        path, lambda: basis_digest(layout.state(day)), "basis cache", BASIS_SCHEMA
    )


def store_basis(layout: Layout, day: dt.date, state: DayState, rows: pa.Table) -> Path:
    """Write the basis rows computed from `state` as the day's basis cache, atomically."""
    path = basis_cache_path(layout.root, day)
    return store_stamped(path, rows.cast(BASIS_SCHEMA), basis_digest(state))


def fresh_stamped(path: Path, digest: Callable[[], str], what: str) -> Path | None:
    """`path` when it is a Parquet file stamped with the digest `digest()` gives now."""
    return None if fresh_stamped_rows(path, digest, what) is None else path


def fresh_stamped_rows(
    path: Path, digest: Callable[[], str], what: str, schema: pa.Schema | None = None
) -> pa.Table | None:
    """The rows of `path` when it is a Parquet file stamped with the digest `digest()`
    gives now and, with `schema`, of those columns (None when it is not, is missing, or does
    not read)."""
    try:
        metadata = pq.read_metadata(path).metadata or {}
    except FileNotFoundError:
        return None
    except (OSError, pa.ArrowException) as exc:
        log.warning("ignoring the %s %s: %s", what, path, exc)
        return None
    stamped = metadata.get(DIGEST_KEY)
    if stamped is None:
        log.warning("ignoring the %s %s: not a vnrec %s", what, path, what)
        return None
    if stamped.decode(errors="replace") != digest():
        return None
    try:
        # Small files, read whole once: their pages' checksums tell a changed number.
        # A ParquetFile, not pq.read_table: that loads pyarrow.dataset (~10 ms a command).
        with pq.ParquetFile(path, page_checksum_verification=True) as parquet:
            rows: pa.Table = parquet.read()
    except (OSError, pa.ArrowException) as exc:
        log.warning("ignoring the %s %s: damaged (%s)", what, path, " ".join(str(exc).split()))
        return None
    if schema is not None and not rows.schema.remove_metadata().equals(schema):
        log.warning("ignoring the %s %s: its columns are not a %s's", what, path, what)
        return None
    return rows


def store_stamped(path: Path, rows: pa.Table, digest: str) -> Path:
    """Write `rows` stamped with `digest` to `path`, atomically."""
    stamped = rows.replace_schema_metadata({DIGEST_KEY: digest.encode()})
    with atomic_file(path) as sink:
        pq.write_table(stamped, sink, compression="zstd", write_page_checksum=True)
    return path
