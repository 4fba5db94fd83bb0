"""`vnrec verify --date D`: check one recorded day and say what was found.

Storage integrity problems make the day *damaged*: a commit log that cannot be read, a
committed part that is missing, altered (its SHA-256 differs from the one recorded at
commit), unreadable or not holding what its record says, a seq range that is not
gap-free from 1 across the committed parts and the recorder's unconverted journal, seq
gaps or duplicates in `raw`, normalized rows that `raw` does not hold. Files no commit
names (left by an interrupted write) are invisible to vnrec's readers and only reported.
Data quality findings (volume the trades do not account for, repeats, event times going
backwards, connection gaps) are warnings: the day is readable and complete as recorded,
but the market data in it has holes or noise.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from vnrec.analytics.connection import DEFAULT_THREADS, open_connection
from vnrec.analytics.contracts import symbol_prefixes
from vnrec.analytics.derived import register_derived
from vnrec.analytics.reports import basis_rows, fetch_rows, session_stats
from vnrec.analytics.sources import GAPS_SCHEMA, NORMALIZED, TABLES, register_gaps
from vnrec.errors import StorageError, first_line
from vnrec.storage.basis_cache import basis_cache_path, fresh_basis_cache
from vnrec.storage.closures import calendar_for
from vnrec.storage.commits import DayState, PartFile, log_path
from vnrec.storage.files import file_sha256
from vnrec.storage.gaps import (
    CONNECTIONS_DIR,
    connection_files,
    gap_spans,
    place_spans,
    read_connection_events,
)
from vnrec.storage.journal import journal_dir, list_segments, scan_segment
from vnrec.storage.layout import Layout
from vnrec.storage.locks import day_locked
from vnrec.storage.schema import SCHEMAS
from vnrec.storage.stats_cache import cached_stats, state_digest, stats_cache_path
from vnrec.words import counted

Status = Literal["ok", "warning", "error", "skipped"]
DETAIL_LIMIT = 20  # examples listed per check; the summary always has the full counts

# Tables whose rows belong to one instrument, and the column naming it.
_KEYED_TABLES: dict[str, str] = {
    "trades": "symbol",
    "quotes": "symbol",
    "foreign": "symbol",
    "index": "index_id",
    "bars": "symbol",
    "status": "symbol",
    "oddlot": "symbol",
}


@dataclass(frozen=True)
class Check:
    name: str
    status: Status
    summary: str
    details: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "check": self.name,
            "status": self.status,
            "summary": self.summary,
            "details": self.details,
        }


@dataclass(frozen=True)
class VerifyReport:
    date: dt.date
    events: int
    checks: list[Check]

    @property
    def damaged(self) -> bool:
        return any(check.status == "error" for check in self.checks)

    def to_dict(self) -> dict[str, Any]:
        return {
            "date": self.date.isoformat(),
            "events": self.events,
            "damaged": self.damaged,
            "checks": [check.to_dict() for check in self.checks],
        }

    def render(self) -> str:
        """The report for a person: one line per check, then its examples."""
        out = io.StringIO()
        verdict = "DAMAGED" if self.damaged else "OK"
        out.write(f"{self.date.isoformat()}: {verdict} ({self.events:,} events)\n")
        for check in self.checks:
            out.write(f"  [{check.status.upper():7}] {check.name}: {check.summary}\n")
            for detail in check.details:
                text = ", ".join(f"{k}={_cell(v)}" for k, v in detail.items())
                out.write(f"            - {text}\n")
        return out.getvalue()


def _cell(value: Any) -> str:
    if hasattr(value, "isoformat"):
        return str(value.isoformat())
    return str(value)


# -- the commit log and its parts ---------------------------------------------------------


@dataclass
class _Parts:
    committed: dict[str, list[PartFile]]
    readable: dict[str, list[Path]]
    problems: list[dict[str, Any]]


def _read_part(table: str, part: PartFile) -> str | None:
    """None when the part is the file its commit record names (size and SHA-256), reads
    completely with the table's columns, holds the rows the record says, and its seq values
    lie in the range its record claims; otherwise what is wrong."""
    expected = SCHEMAS[table]
    try:
        size = part.path.stat().st_size
        if size != part.bytes:
            return f"has {size:,} bytes, its commit record says {part.bytes:,} (altered)"
        if file_sha256(part.path) != part.sha256:
            return "SHA-256 differs from its commit record (altered or damaged)"
        parquet = pq.ParquetFile(part.path, page_checksum_verification=True)
        schema = parquet.schema_arrow
        missing = [f.name for f in expected if f.name not in schema.names]
        if missing:
            return f"missing columns {', '.join(missing)}"
        wrong = [f.name for f in expected if not schema.field(f.name).type.equals(f.type)]
        if wrong:
            return f"unexpected column types for {', '.join(wrong)}"
        low: int | None = None
        high: int | None = None
        rows = 0
        for batch in parquet.iter_batches():
            rows += batch.num_rows
            seqs = batch.column("seq")
            if len(seqs) and seqs.null_count < len(seqs):
                bounds = pc.min_max(seqs)
                batch_low, batch_high = bounds["min"].as_py(), bounds["max"].as_py()
                low = batch_low if low is None else min(low, batch_low)
                high = batch_high if high is None else max(high, batch_high)
    except FileNotFoundError:
        return "missing (committed, but not on disk)"
    except (OSError, pa.ArrowException) as exc:
        return f"unreadable: {exc}"
    if rows != part.rows:
        return f"holds {rows:,} rows, its commit record says {part.rows:,}"
    if low is not None and high is not None and (low < part.first_seq or high > part.last_seq):
        return f"holds seq {low}..{high}, outside the range {part.first_seq}..{part.last_seq}"
    return None


def _scan_parts(state: DayState) -> _Parts:
    committed: dict[str, list[PartFile]] = {}
    readable: dict[str, list[Path]] = {}
    problems: list[dict[str, Any]] = []
    for table in TABLES:
        committed[table] = state.table_parts(table)
        readable[table] = []
        for part in committed[table]:
            problem = _read_part(table, part)
            if problem is None:
                readable[table].append(part.path)
            else:
                problems.append({"table": table, "part": part.path.name, "problem": problem})
    return _Parts(committed, readable, problems)


def _check_commit_log(state: DayState) -> Check:
    path = log_path(state.root, state.day)
    notes = []
    if state.torn_bytes:
        notes.append(
            f"an interrupted commit ({state.torn_bytes:,} bytes) at the end of {path.name}"
        )
    notes += [f"import {tx} interrupted before it committed" for tx in sorted(state.pending)]
    if notes:
        return Check(
            "commit_log",
            "warning",
            f"{state.version:,} commits; {'; '.join(notes)} (invisible; the next writer of the"
            " day removes it)",
        )
    return Check("commit_log", "ok", f"{state.version:,} commits in {path.name}")


def _check_parts(parts: _Parts) -> Check:
    count = sum(len(p) for p in parts.committed.values())
    if parts.problems:
        return Check(
            "parts",
            "error",
            f"{counted(len(parts.problems), 'problem')} in {counted(count, 'committed part')}"
            " (bad parts are left out of the other checks)",
            parts.problems[:DETAIL_LIMIT],
        )
    return Check(
        "parts", "ok", f"{counted(count, 'committed part')} present, checksums match, readable"
    )


def _check_seq_coverage(state: DayState) -> Check:
    """Committed raw parts cover 1..last without a gap or an overlap; every normalized part
    lies within one raw part."""
    details: list[dict[str, Any]] = []
    expected = 1
    for part in state.table_parts("raw"):
        if part.first_seq != expected:
            problem = "gap" if part.first_seq > expected else "overlap"
            details.append({"problem": problem, "part": part.name, "expected_first": expected})
        expected = max(expected, part.last_seq + 1)
    raw = state.table_parts("raw")
    for table in NORMALIZED:
        for part in state.table_parts(table):
            if not any(r.first_seq <= part.first_seq and part.last_seq <= r.last_seq for r in raw):
                details.append({"problem": "outside raw", "table": table, "part": part.name})
    if details:
        return Check(
            "seq_coverage",
            "error",
            f"{counted(len(details), 'problem')} in the committed seq ranges",
            details[:DETAIL_LIMIT],
        )
    return Check("seq_coverage", "ok", f"committed parts cover seq 1..{expected - 1:,}")


def _check_uncommitted(layout: Layout, state: DayState) -> Check:
    stray = [
        {"table": table, "file": path.name}
        for table, paths in layout.disk_parts(state.day).items()
        for path in paths
        if path.name not in state.committed_names(table)
    ]
    stray += [{"file": str(path)} for path in layout.disk_leftovers(state.day)]
    if stray:
        return Check(
            "uncommitted_files",
            "warning",
            f"{counted(len(stray), 'file')} no commit names (left by an interrupted write;"
            " invisible to vnrec, removed by the next writer of the day; engines that glob"
            " the directories would read them)",
            stray[:DETAIL_LIMIT],
        )
    return Check("uncommitted_files", "ok", "no file outside the commit log")


def _check_journal(root: Path, state: DayState) -> Check:
    segments = list_segments(journal_dir(root, state.day))
    if not segments:
        return Check("journal", "ok", "no unconverted journal")
    first = last = None
    expected = state.last_seq + 1
    problems: list[dict[str, Any]] = []
    count = 0
    for segment in segments:
        records = scan_segment(segment).records
        if not records:
            continue
        count += len(records)
        if state.sources.get(segment.name) == (records[0].seq, records[-1].seq):
            continue  # committed; the segment outlived its commit by a crash
        if records[0].seq != expected:
            problems.append(
                {"segment": segment.name, "first_seq": records[0].seq, "expected": expected}
            )
        first = records[0].seq if first is None else first
        last = records[-1].seq
        expected = records[-1].seq + 1
    if problems:
        return Check(
            "journal",
            "error",
            "journal segments do not continue the committed seq",
            problems[:DETAIL_LIMIT],
        )
    if first is None:
        return Check("journal", "ok", "journal segments already committed (removed next)")
    if day_locked(root, state.day):
        return Check("journal", "ok", f"seq {first}-{last} journaled by the running recorder")
    return Check(
        "journal",
        "warning",
        f"{counted(count, 'message')} (seq {first}-{last}) journaled but not yet committed"
        " (the recorder was killed); `vnrec recover` commits them",
    )


# -- seq ----------------------------------------------------------------------------------


def _check_raw_seq(con: duckdb.DuckDBPyConnection) -> tuple[Check, int]:
    summary = fetch_rows(
        con,
        "SELECT count(*) AS n, count(DISTINCT seq) AS distinct_n, min(seq) AS low,"
        " max(seq) AS high FROM raw",
    )[0]
    rows, distinct, high = summary["n"], summary["distinct_n"], summary["high"] or 0
    details: list[dict[str, Any]] = []
    gaps = fetch_rows(
        con,
        f"""
        SELECT first_missing, last_missing FROM (
            SELECT prev + 1 AS first_missing, seq - 1 AS last_missing
            FROM (SELECT seq, lag(seq, 1, 0) OVER (ORDER BY seq) AS prev
                  FROM (SELECT DISTINCT seq FROM raw))
            WHERE seq - prev > 1)
        ORDER BY first_missing LIMIT {DETAIL_LIMIT}
        """,
    )
    details += [{"problem": "missing", **gap} for gap in gaps]
    repeated = fetch_rows(
        con,
        "SELECT seq, count(*) AS copies FROM raw GROUP BY seq HAVING count(*) > 1"
        f" ORDER BY seq LIMIT {DETAIL_LIMIT}",
    )
    details += [{"problem": "duplicate", **row} for row in repeated]
    missing = high - distinct
    duplicates = rows - distinct
    if missing or duplicates or (summary["low"] is not None and summary["low"] < 1):
        return (
            Check(
                "raw_seq",
                "error",
                f"seq 1..{high:,}: {counted(missing, 'missing seq')},"
                f" {counted(duplicates, 'duplicate row')}",
                details[:DETAIL_LIMIT],
            ),
            rows,
        )
    return Check("raw_seq", "ok", f"seq 1..{high:,} gap-free and unique"), rows


def _check_normalized_in_raw(con: duckdb.DuckDBPyConnection) -> Check:
    details: list[dict[str, Any]] = []
    problems = 0
    for table in NORMALIZED:
        quoted = f'"{table}"'
        found = fetch_rows(
            con,
            f"""
            SELECT (SELECT count(*) FROM {quoted} t ANTI JOIN raw USING (seq)) AS not_in_raw,
                   (SELECT count(*) - count(DISTINCT seq) FROM {quoted}) AS duplicate_rows,
                   (SELECT min(seq) FROM {quoted} t ANTI JOIN raw USING (seq)) AS first_seq
            """,
        )[0]
        if found["not_in_raw"] or found["duplicate_rows"]:
            problems += found["not_in_raw"] + found["duplicate_rows"]
            details.append({"table": table, **found})
    if problems:
        return Check(
            "normalized_in_raw",
            "error",
            f"{counted(problems, 'normalized row')} not in raw or repeated",
            details,
        )
    return Check("normalized_in_raw", "ok", "every normalized row's seq is in raw, once")


# -- market data quality ------------------------------------------------------------------


def _check_completeness(con: duckdb.DuckDBPyConnection) -> Check:
    rows = fetch_rows(
        con,
        """
        SELECT symbol, max(total_vol) AS last_total_vol,
               CAST(coalesce(sum(volume) FILTER (WHERE outcome = 'trade'), 0) AS BIGINT)
                   AS counted_volume
        FROM trade_outcomes GROUP BY symbol
        """,
    )
    missed = [
        {**row, "missed_volume": row["last_total_vol"] - row["counted_volume"]}
        for row in rows
        if row["last_total_vol"] is not None and row["last_total_vol"] > row["counted_volume"]
    ]
    missed.sort(key=lambda row: (-row["missed_volume"], row["symbol"]))
    if missed:
        total = sum(row["missed_volume"] for row in missed)
        return Check(
            "completeness",
            "warning",
            f"{counted(len(missed), 'symbol')} of {len(rows):,} miss {total:,} in volume"
            " (last TotalVol above the volume of the recorded trades)",
            missed[:DETAIL_LIMIT],
        )
    return Check(
        "completeness",
        "ok",
        f"{counted(len(rows), 'symbol')}: recorded trades account for every last TotalVol",
    )


def _check_repeats(con: duckdb.DuckDBPyConnection) -> Check:
    rows = fetch_rows(
        con,
        "SELECT symbol, count(*) AS repeats FROM trade_outcomes WHERE outcome = 'repeat'"
        " GROUP BY symbol ORDER BY repeats DESC, symbol",
    )
    if rows:
        total = sum(row["repeats"] for row in rows)
        return Check(
            "repeats",
            "warning",
            f"{counted(total, 'repeated trade')} in {counted(len(rows), 'symbol')} (not counted)",
            rows[:DETAIL_LIMIT],
        )
    return Check("repeats", "ok", "no repeated trades")


def _check_time_order(con: duckdb.DuckDBPyConnection) -> Check:
    details: list[dict[str, Any]] = []
    total = 0
    for table, key in _KEYED_TABLES.items():
        found = fetch_rows(
            con,
            f"""
            SELECT {key} AS key, seq, event_ts, previous_ts, count(*) OVER () AS backwards
            FROM (SELECT {key}, seq, event_ts,
                         lag(event_ts) OVER (PARTITION BY {key} ORDER BY seq) AS previous_ts
                  FROM "{table}" WHERE {key} IS NOT NULL AND event_ts IS NOT NULL)
            WHERE event_ts < previous_ts
            ORDER BY seq LIMIT {DETAIL_LIMIT}
            """,
        )
        if found:
            total += found[0]["backwards"]
            details += [
                {
                    "table": table,
                    "key": r["key"],
                    "seq": r["seq"],
                    "event_ts": r["event_ts"],
                    "previous_ts": r["previous_ts"],
                }
                for r in found
            ]
    if total:
        return Check(
            "event_time_order",
            "warning",
            f"{counted(total, 'row')} with an event time before the previous row's"
            " of the same symbol or index",
            details[:DETAIL_LIMIT],
        )
    return Check("event_time_order", "ok", "event times never go backwards per symbol")


def _check_coverage(con: duckdb.DuckDBPyConnection, root: Path, day: dt.date) -> Check:
    """Recording gaps (vnrec.storage.gaps), placed on the readable raw rows; they are
    registered as the connection's `gaps`, which the later SQL checks classify with."""
    if not (root / CONNECTIONS_DIR).is_dir():
        return Check(
            "coverage", "skipped", f"no {CONNECTIONS_DIR}/ table in the data root (not recorded)"
        )
    files = connection_files(root, day)
    if not files:
        return Check("coverage", "skipped", f"no {CONNECTIONS_DIR} rows for this day")
    for path in files:
        if not {"run_id", "ts", "event"} <= set(pq.read_schema(path).names):
            return Check(
                "coverage",
                "skipped",
                f"{CONNECTIONS_DIR} has no run_id, ts and event columns; cannot tell gaps",
            )
    try:
        spans = gap_spans(read_connection_events(files))
    except StorageError as exc:
        return Check("coverage", "error", str(exc))
    if not spans:
        return Check("coverage", "ok", "no disconnections recorded")
    received = con.sql("SELECT seq, coalesce(recv_ns, -1) FROM raw ORDER BY seq").fetchnumpy()
    seq, recv_ns = received["seq"], received[list(received)[1]]
    gaps = place_spans(spans, seq, recv_ns)
    register_gaps(
        con, pa.Table.from_pylist([{"date": day, **g._asdict()} for g in gaps], GAPS_SCHEMA)
    )
    contracts = con.sql("SELECT symbol FROM vn30_contracts").to_arrow_table()
    register_derived(con, symbol_prefixes(contracts), gaps=bool(gaps))
    details: list[dict[str, Any]] = [
        {
            "disconnected": _utc(span.start_ns),
            "reconnected": _utc(span.end_ns),
            "seconds": (span.end_ns - span.start_ns) / 1e9,
            "reason": span.reason,
        }
        for span in spans
    ]
    placed = {g.end_ns: g for g in gaps}
    for row, span in zip(details, spans, strict=True):
        gap = placed.get(span.end_ns)
        row["seq"] = None if gap is None else gap.seq
    return Check(
        "coverage",
        "warning",
        f"{counted(len(spans), 'connection gap')} (disconnected until the next connect;"
        " the quote state is reset at the first message after each)",
        details[:DETAIL_LIMIT],
    )


def _utc(ns: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ns / 1e9, dt.UTC)


def _check_stats_cache(
    con: duckdb.DuckDBPyConnection, layout: Layout, state: DayState, parts: _Parts
) -> Check:
    day = state.day
    path = stats_cache_path(layout.root, day)
    if not path.exists():
        return Check("stats_cache", "skipped", "no stored session stats (day not compacted)")
    if parts.problems:
        return Check("stats_cache", "skipped", "not compared: some committed parts are damaged")
    stored = cached_stats(layout, day)
    if stored is None:
        return Check(
            "stats_cache",
            "ok",
            f"{path.name} is of other parts (stale) or damaged: not used, recomputed",
        )
    if state_digest(layout.state(day)) != state_digest(state):
        return Check("stats_cache", "skipped", "the day changed while it was verified")
    computed = session_stats(con, day)
    if stored == computed:
        return Check("stats_cache", "ok", f"stored stats of {len(stored):,} symbols equal the SQL")
    differing = sorted(
        {row["symbol"] for row in stored if row not in computed}
        | {row["symbol"] for row in computed if row not in stored}
    )
    return Check(
        "stats_cache",
        "error",
        f"{path} differs from the SQL for {counted(len(differing), 'symbol')}: delete it"
        " (`vnrec compact` stores it again)",
        [{"symbol": symbol} for symbol in differing[:DETAIL_LIMIT]],
    )


def _check_basis_cache(
    con: duckdb.DuckDBPyConnection, layout: Layout, state: DayState, parts: _Parts
) -> Check:
    day = state.day
    path = basis_cache_path(layout.root, day)
    if not path.exists():
        return Check("basis_cache", "skipped", "no stored basis rows (day not compacted)")
    if parts.problems:
        return Check("basis_cache", "skipped", "not compared: some committed parts are damaged")
    if fresh_basis_cache(layout, day) is None:
        return Check(
            "basis_cache", "ok", f"{path.name} is of other parts (stale): not used, recomputed"
        )
    if state_digest(layout.state(day)) != state_digest(state):
        return Check("basis_cache", "skipped", "the day changed while it was verified")
    try:
        stored = pq.read_table(path).replace_schema_metadata(None)
    except (OSError, pa.ArrowException) as exc:
        return Check("basis_cache", "error", f"{path} cannot be read ({exc}): delete it")
    computed = basis_rows(con, day)
    if stored.equals(computed):
        summary = f"stored basis of {stored.num_rows:,} trades equals the SQL"
        return Check("basis_cache", "ok", summary)
    return Check(
        "basis_cache",
        "error",
        f"{path} differs from the SQL ({stored.num_rows:,} stored rows, {computed.num_rows:,}"
        " computed): delete it (`vnrec compact` stores it again)",
    )


def verify_day(root: Path, day: dt.date, *, threads: int = DEFAULT_THREADS) -> VerifyReport:
    """Check one day of the data root; raises NoDataError when nothing of the day is
    committed or journaled."""
    layout = Layout(root)
    state = layout.state(day)
    if state.empty and not list_segments(journal_dir(root, day)):
        layout.recorded_state(day)  # raises, with the adoption hint for a 0.1 day
    parts = _scan_parts(state)
    checks = [
        _check_commit_log(state),
        _check_parts(parts),
        _check_seq_coverage(state),
        _check_journal(root, state),
        _check_uncommitted(layout, state),
    ]
    con = open_connection(parts.readable, threads=threads, calendar=calendar_for(root))
    try:
        seq_check, events = _check_raw_seq(con)
        checks.append(seq_check)
        steps: list[Callable[[duckdb.DuckDBPyConnection], Check]] = [
            _check_normalized_in_raw,
            _check_completeness,
            _check_repeats,
            _check_time_order,
        ]
        checks += [step(con) for step in steps]
        checks.append(_check_coverage(con, root, day))
        checks.append(_check_stats_cache(con, layout, state, parts))
        checks.append(_check_basis_cache(con, layout, state, parts))
    except duckdb.Error as exc:  # e.g. volumes whose sum int64 cannot hold
        raise StorageError(f"verifying {day} in {layout.root}: {first_line(exc)}") from exc
    finally:
        con.close()
    return VerifyReport(day, events, checks)
